import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../connectors/index.ts'
import { twilioStatusCallback } from '../test/sandbox/webhooks/index.ts'
import { harness } from '../test/webhooks/index.ts'
import { BridgeCallbackForwarder, BridgeRejectForwarder } from './bridge-sinks.ts'
import type { CallbackEvent } from './callbacks.ts'
import type { TargetRef } from './targets.ts'

const logger = createLogger({ level: 'silent' })
const target: TargetRef = {
  apiVersion: 'switchboard.dev/v1alpha1',
  kind: 'MessageCampaign',
  plural: 'messagecampaigns',
  namespace: 'ns',
  name: 'c',
}
const RANK: Record<string, number> = { sent: 4, delivered: 6 }
const ev = (key: string, status: string, at = new Date().toISOString()): CallbackEvent => ({
  provider: 'twilio',
  type: 'message-status',
  key,
  deliveryId: `${key}:${status}`,
  occurredAt: at,
  data: { status },
  rank: RANK[status] ?? 0,
})

/** A stand-in for the controller's end of the socket: answers as told, records what it took. */
async function fakeBridge(answer: () => number) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-fwd-'))
  const socket = join(dir, 's.sock')
  const taken: Array<{ path: string; items: Array<Record<string, unknown>> }> = []
  const app: FastifyInstance = Fastify({ bodyLimit: 1024 * 1024 })
  app.post('/v1/*', async (req, reply) => {
    const status = answer()
    if (status !== 200) return reply.code(status).send({ error: 'overloaded' })
    const items = (req.body as { items: Array<Record<string, unknown>> }).items
    taken.push({ path: req.url, items })
    return { taken: items.length, refused: 0 }
  })
  await app.listen({ path: socket })
  return {
    socket,
    taken,
    close: async () => {
      await app.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

describe('the webhook bridge forwarders', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f()
  })

  it('callbacks: coalesced per message by meaning, kept through 503s and sent again until taken', async () => {
    let refuse = 3
    const bridge = await fakeBridge(() => (refuse-- > 0 ? 503 : 200))
    cleanup.push(bridge.close)
    const results: string[] = []
    const fwd = new BridgeCallbackForwarder({
      endpoint: bridge.socket,
      logger,
      flushIntervalMs: 10,
      onResult: (r) => results.push(r),
    })
    fwd.deliver(target, ev('SM1', 'sent'))
    fwd.deliver(target, ev('SM1', 'delivered'))
    fwd.deliver(target, ev('SM2', 'delivered', '2030-01-01T00:00:02Z'))
    // a late `sent` for SM2 does not replace its `delivered`
    fwd.deliver(target, ev('SM2', 'sent', '2030-01-01T00:00:05Z'))
    expect(fwd.pending()).toBe(2)
    await fwd.close({ timeoutMs: 5_000 })
    expect(results.filter((r) => r === 'failed')).toHaveLength(3)
    expect(results.at(-1)).toBe('patched')
    const items = bridge.taken.flatMap((t) => t.items)
    expect(
      items.map((i) => [(i.event as CallbackEvent).key, (i.event as CallbackEvent).data.status]),
    ).toEqual([
      ['SM1', 'delivered'],
      ['SM2', 'delivered'],
    ])
    expect(fwd.pending()).toBe(0)
  })

  it('callbacks: full at its bound, and the server then refuses callback deliveries with 503 before remembering them', async () => {
    const bridge = await fakeBridge(() => 503)
    cleanup.push(bridge.close)
    const fwd = new BridgeCallbackForwarder({
      endpoint: bridge.socket,
      logger,
      maxPending: 2,
      // nothing leaves the queue during the test (a batch in flight is not counted as pending)
      flushIntervalMs: 60_000,
    })
    cleanup.push(() => fwd.close({ timeoutMs: 100 }))
    const h = harness({ callbacks: fwd })
    const { url } = h.addTarget('twilio', { authToken: 'tok-0001' })
    const cb = (n: number) =>
      twilioStatusCallback({ url, authToken: 'tok-0001', messageSid: `SM${n}`, status: 'delivered' })
    expect((await h.send(cb(1))).statusCode).toBe(200)
    expect((await h.send(cb(2))).statusCode).toBe(200)
    expect(fwd.full()).toBe(true)
    const refused = await h.send(cb(3))
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe('5')
    expect(JSON.parse(refused.body)).toEqual({ error: 'overloaded' })
    // not remembered as seen: once there is room, the provider's retry is taken
    await fwd.close({ timeoutMs: 100 })
    const roomy = new BridgeCallbackForwarder({ endpoint: bridge.socket, logger, flushIntervalMs: 10_000 })
    const h2 = harness({ callbacks: roomy, dedupe: h.dedupe })
    h2.addTarget('twilio', { authToken: 'tok-0001' }, { path: new URL(url).pathname })
    expect((await h2.send(cb(3))).statusCode).toBe(200)
    expect(roomy.pending()).toBe(1)
    await roomy.close({ timeoutMs: 100 })
  })

  it('refusals: one per resource and reason a window, at most the burst overall, queued at most 100', async () => {
    const bridge = await fakeBridge(() => 200)
    cleanup.push(bridge.close)
    const results: string[] = []
    const fwd = new BridgeRejectForwarder({
      endpoint: bridge.socket,
      logger,
      flushIntervalMs: 10,
      maxPerSecond: 5,
      // a fixed clock: the overall bucket does not refill while the loop runs
      now: () => 1_000,
      onResult: (r) => results.push(r),
    })
    for (let i = 0; i < 1_000; i++)
      fwd.reject(target, 'twilio', i % 2 ? 'bad_signature' : 'missing_signature')
    for (let i = 0; i < 20; i++) fwd.reject({ ...target, name: `other${i}` }, 'twilio', 'bad_signature')
    await fwd.close({ timeoutMs: 2_000 })
    const items = bridge.taken.flatMap((t) => t.items)
    // two for the first resource, then the overall burst of 5 is spent
    expect(items.length).toBe(5)
    expect(items.filter((i) => i.name === 'c').map((i) => i.reason)).toEqual([
      'missing_signature',
      'bad_signature',
    ])
    expect(results.filter((r) => r === 'suppressed')).toHaveLength(1_020 - 5)
  })
})
