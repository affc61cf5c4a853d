/**
 * The sandbox's own HTTP API under `/_sandbox`, for tests and demos in another process:
 * faults, what arrived, runtime configuration and reset. Never recorded in the request log.
 */
import type { FastifyInstance } from 'fastify'
import { type FaultInjector, type FaultSpec, faultSpecSchema } from './faults.ts'
import type { HttpReceiverSandbox, ReceiverConfig } from './http-receiver.ts'
import type { RequestLog } from './recording.ts'
import type { SegmentSandbox } from './segment.ts'

export interface ControlDeps {
  faults: FaultInjector
  requests: RequestLog
  segment: SegmentSandbox
  http: HttpReceiverSandbox
  reset: () => void
}

export function controlPlugin(deps: ControlDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    const { faults, requests, segment, http } = deps

    app.get('/_sandbox/health', async () => ({ ok: true }))

    app.post<{ Body: FaultSpec }>(
      '/_sandbox/faults',
      { schema: { body: faultSpecSchema } },
      async (req, reply) => {
        try {
          const fault = faults.inject(req.body)
          return reply.code(201).send({ fault })
        } catch (err) {
          return reply.code(400).send({ error: (err as Error).message })
        }
      },
    )

    app.get('/_sandbox/faults', async () => ({ faults: faults.list(), served: faults.served }))

    app.delete<{ Querystring: { provider?: string } }>(
      '/_sandbox/faults',
      { schema: { querystring: { type: 'object', properties: { provider: { type: 'string' } } } } },
      async (req, reply) => {
        faults.clear(req.query.provider)
        return reply.code(204).send()
      },
    )

    app.get<{ Querystring: { provider?: string } }>(
      '/_sandbox/requests',
      { schema: { querystring: { type: 'object', properties: { provider: { type: 'string' } } } } },
      async (req) => ({ total: requests.total, requests: requests.list(req.query.provider) }),
    )

    app.get<{ Querystring: { writeKey: string } }>(
      '/_sandbox/segment/events',
      {
        schema: {
          querystring: {
            type: 'object',
            required: ['writeKey'],
            properties: { writeKey: { type: 'string', minLength: 1 } },
          },
        },
      },
      async (req) => segment.snapshot(req.query.writeKey),
    )

    app.post<{ Body: { writeKey: string } }>(
      '/_sandbox/segment/write-keys',
      {
        schema: {
          body: {
            type: 'object',
            required: ['writeKey'],
            additionalProperties: false,
            properties: { writeKey: { type: 'string', minLength: 1, maxLength: 256 } },
          },
        },
      },
      async (req, reply) => {
        segment.addWriteKey(req.body.writeKey)
        return reply.code(204).send()
      },
    )

    app.get<{ Params: { receiver: string } }>('/_sandbox/http/:receiver/records', async (req, reply) => {
      const snapshot = http.snapshot(req.params.receiver)
      if (!snapshot) return reply.code(404).send({ error: 'unknown receiver' })
      return snapshot
    })

    app.post<{ Body: ReceiverConfig & { name: string } }>(
      '/_sandbox/http/receivers',
      {
        schema: {
          body: {
            type: 'object',
            required: ['name', 'signingSecret'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
              signingSecret: { type: 'string', minLength: 1, maxLength: 1024 },
              signatureHeader: { type: 'string', pattern: '^[A-Za-z0-9-]{1,128}$' },
              toleranceSeconds: { type: 'integer', minimum: 1, maximum: 86_400 },
            },
          },
        },
      },
      async (req, reply) => {
        const { name, ...config } = req.body
        http.addReceiver(name, config)
        return reply.code(204).send()
      },
    )

    app.post('/_sandbox/reset', async (_req, reply) => {
      deps.reset()
      return reply.code(204).send()
    })
  }
}
