import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { buildWebhookBridge, callbackEntries, type WebhookBridgeSource } from './server.ts'

const twitchObj = {
  metadata: { namespace: 'ns', name: 'tw' },
  spec: {},
  status: { webhook: { path: `/hooks/twitch/${'a'.repeat(43)}` } },
}
const casinoObj = {
  metadata: { namespace: 'ns', name: 'casino' },
  spec: { provider: 'softswiss' },
  status: { webhook: { path: `/hooks/softswiss/${'b'.repeat(43)}` } },
}

function harness() {
  const patches: Array<{ ref: unknown; status: unknown }> = []
  const source: WebhookBridgeSource = {
    objects: (kind) =>
      kind === 'TwitchIntegration' ? [twitchObj] : kind === 'CasinoIntegration' ? [casinoObj] : [],
    secretData: async () => undefined,
    annotate: async () => {},
    patchStatus: async (ref, status) => {
      patches.push({ ref, status })
    },
  }
  return { app: buildWebhookBridge({ source, logger: pino({ level: 'silent' }) }), patches }
}

const post = (app: ReturnType<typeof harness>['app'], body: unknown) =>
  app.inject({ method: 'POST', url: '/v1/callbacks', payload: body as Record<string, unknown> })

describe('webhook bridge: POST /v1/callbacks', () => {
  it('writes entries under the status field the kind declares, and nowhere else', async () => {
    const h = harness()
    const entries = { 'msg-1': { type: 'stream.online', occurredAt: '2030-01-01T00:00:00Z', live: true } }
    const res = await post(h.app, { kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries })
    expect(res.statusCode).toBe(204)
    expect(h.patches).toEqual([
      {
        ref: {
          group: 'switchboard.dev',
          version: 'v1alpha1',
          plural: 'twitchintegrations',
          namespace: 'ns',
          name: 'tw',
        },
        status: { eventInbox: entries },
      },
    ])
  })

  it('refuses objects without a webhook path, kinds without callback data, and out-of-bounds entries', async () => {
    const h = harness()
    const ok = { m: { live: true } }
    const cases: Array<[unknown, number]> = [
      [{ kind: 'TwitchIntegration', namespace: 'ns', name: 'other', entries: ok }, 404],
      [{ kind: 'TwitchIntegration', namespace: 'other', name: 'tw', entries: ok }, 404],
      [{ kind: 'CasinoIntegration', namespace: 'ns', name: 'casino', entries: ok }, 404],
      [{ kind: 'Secret', namespace: 'ns', name: 'tw', entries: ok }, 404],
      [{ kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: {} }, 400],
      [{ kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: [ok] }, 400],
      [{ kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: { '../x': { a: 1 } } }, 400],
      [{ kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: { m: { a: { nested: 1 } } } }, 400],
      [
        { kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: { m: { a: 'x'.repeat(257) } } },
        400,
      ],
      [{ kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: { m: { __proto__x: 1 } } }, 400],
      [{ kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: { m: {} } }, 400],
    ]
    for (const [body, status] of cases) {
      expect((await post(h.app, body)).statusCode, JSON.stringify(body)).toBe(status)
    }
    const many = Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`m${i}`, { live: true }]))
    expect(
      (await post(h.app, { kind: 'TwitchIntegration', namespace: 'ns', name: 'tw', entries: many }))
        .statusCode,
    ).toBe(400)
    const huge = {
      kind: 'TwitchIntegration',
      namespace: 'ns',
      name: 'tw',
      entries: { m: { a: 'x' } },
      pad: 'y'.repeat(600 * 1024),
    }
    expect((await post(h.app, huge)).statusCode).toBe(413)
    expect(h.patches).toHaveLength(0)
  })

  it('callbackEntries takes exactly bounded objects of scalars', () => {
    expect(callbackEntries({ a: { s: 's', n: 1, b: false, z: null } })).toEqual({
      a: { s: 's', n: 1, b: false, z: null },
    })
    expect(callbackEntries({ a: { n: Number.NaN } })).toBeUndefined()
    expect(callbackEntries(null)).toBeUndefined()
    expect(callbackEntries('x')).toBeUndefined()
    const fields = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`f${i}`, 1]))
    expect(callbackEntries({ a: fields })).toBeUndefined()
  })
})
