/**
 * A provider plugin on its own: one Fastify app with the shared fault injector and request log,
 * listening on 127.0.0.1. For the plugin's own tests and its connector's tests; `buildSandbox`
 * serves the same plugins together with the others.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { FaultInjector } from '../faults.ts'
import { type Instrumentation, RequestLog } from '../recording.ts'

export interface StandalonePlugin {
  app: FastifyInstance
  url: string
  faults: FaultInjector
  requests: RequestLog
  close(): Promise<void>
}

export async function startStandalone(
  register: (inst: Instrumentation) => (app: FastifyInstance) => Promise<void>,
  requests = new RequestLog(),
): Promise<StandalonePlugin> {
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false } } })
  const faults = new FaultInjector()
  await app.register(register({ faults, requests }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    faults,
    requests,
    close: () => app.close(),
  }
}
