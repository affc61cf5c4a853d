/**
 * Fault injection shared by every provider plugin: `inject()` queues a fault, and the next
 * `times` requests to that provider (optionally only under `path`) are answered with it
 * before any parsing, authentication or recording of their content happens.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'

export interface FaultSpec {
  /** Provider id the fault applies to: `segment`, `http`, and the ids of later plugins. */
  provider: string
  /** Status to answer with. Omitted: the request is only delayed, then handled normally. */
  status?: number
  /** How many matching requests get the fault. Default 1. */
  times?: number
  /** Sent as `Retry-After: <seconds>`. */
  retryAfterSeconds?: number
  /** Response body: an object is sent as JSON, a string as text. Default `{ error, status }`. */
  body?: unknown
  /**
   * With a status: wait this long, then answer with it (the request is never processed).
   * Without: process the request normally, then hold its response this long (a slow
   * destination that did receive the data; a client that times out will send it again).
   */
  delayMs?: number
  /** Only requests whose path starts with this, e.g. `/http/shop` or `/v1/batch`. */
  path?: string
}

export interface ActiveFault extends FaultSpec {
  id: number
  /** Requests that will still get this fault. */
  remaining: number
}

/** JSON schema of a fault, used by the HTTP control routes. */
export const faultSpecSchema = {
  type: 'object',
  required: ['provider'],
  additionalProperties: false,
  properties: {
    provider: { type: 'string', minLength: 1, maxLength: 64 },
    status: { type: 'integer', minimum: 100, maximum: 599 },
    times: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    retryAfterSeconds: { type: 'integer', minimum: 0, maximum: 86_400 },
    body: {},
    delayMs: { type: 'integer', minimum: 0, maximum: 600_000 },
    path: { type: 'string', minLength: 1, maxLength: 512 },
  },
} as const

export class FaultInjector {
  #faults: ActiveFault[] = []
  #nextId = 1
  #served = 0
  readonly #faulted = new WeakSet<object>()
  readonly #slow = new WeakMap<object, number>()

  /** Queues a fault; faults for the same requests apply in the order they were injected. */
  inject(spec: FaultSpec): ActiveFault {
    const times = spec.times ?? 1
    if (!spec.provider) throw new TypeError('fault: provider is required')
    if (
      spec.status !== undefined &&
      !(Number.isInteger(spec.status) && spec.status >= 100 && spec.status <= 599)
    ) {
      throw new TypeError('fault: status must be an integer 100..599')
    }
    if (!Number.isInteger(times) || times < 1) throw new TypeError('fault: times must be an integer >= 1')
    if (spec.status === undefined && spec.delayMs === undefined) {
      throw new TypeError('fault: give a status, a delayMs, or both')
    }
    const fault: ActiveFault = { ...spec, times, id: this.#nextId++, remaining: times }
    this.#faults.push(fault)
    return { ...fault }
  }

  /** Faults still pending. */
  list(): ActiveFault[] {
    return this.#faults.map((f) => ({ ...f }))
  }

  /** Removes pending faults (of one provider, or all). */
  clear(provider?: string): void {
    this.#faults = provider === undefined ? [] : this.#faults.filter((f) => f.provider !== provider)
  }

  /** Requests answered with (or delayed by) a fault since the last reset. */
  get served(): number {
    return this.#served
  }

  reset(): void {
    this.clear()
    this.#served = 0
  }

  /** Takes the next fault matching a request, if any (consumes one of its `times`). */
  take(provider: string, path: string): ActiveFault | undefined {
    const index = this.#faults.findIndex(
      (f) => f.provider === provider && (f.path === undefined || path.startsWith(f.path)),
    )
    if (index < 0) return undefined
    const fault = this.#faults[index] as ActiveFault
    fault.remaining--
    if (fault.remaining <= 0) this.#faults.splice(index, 1)
    this.#served++
    return fault
  }

  /** Whether a request was answered by a fault (for the request log). */
  wasFaulted(req: FastifyRequest): boolean {
    return this.#faulted.has(req.raw)
  }

  /** An `onRequest` hook for a provider plugin: applies the provider's next fault. */
  hook(provider: string) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
      const fault = this.take(provider, pathOf(req.url))
      if (!fault) return undefined
      this.#faulted.add(req.raw)
      if (fault.status === undefined) {
        this.#slow.set(req.raw, fault.delayMs ?? 0)
        return undefined
      }
      if (fault.delayMs) await sleep(fault.delayMs)
      if (fault.retryAfterSeconds !== undefined) reply.header('Retry-After', String(fault.retryAfterSeconds))
      const body = fault.body ?? { error: 'injected fault', status: fault.status }
      if (typeof body === 'string') reply.type('text/plain; charset=utf-8')
      // responding from an async hook: send, then return the reply so Fastify stops here
      reply.code(fault.status).send(body)
      return reply
    }
  }

  /** An `onSend` hook for a provider plugin: holds the responses of delay-only faults. */
  sendHook() {
    return async (req: FastifyRequest, _reply: FastifyReply, payload: unknown): Promise<unknown> => {
      const ms = this.#slow.get(req.raw)
      if (ms) await sleep(ms)
      return payload
    }
  }
}

/** The path of a request URL, without the query. */
export function pathOf(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}
