import { describe, expect, it } from 'vitest'
import { CASINO_PROVIDERS } from '../../controller/api/index.ts'
import { casinoRequest } from '../../test/sandbox/webhooks/index.ts'
import { harness, providerContract } from '../../test/webhooks/index.ts'

const secrets = { signingSecret: 'casino-signing-secret-01' }

for (const provider of CASINO_PROVIDERS) {
  describe(provider, () => {
    providerContract({
      provider,
      secrets,
      wrongSecrets: { signingSecret: 'casino-signing-secret-99' },
      signatureHeader: 'x-request-sign',
      acceptedStatus: 204,
      reconciles: true,
      build: (url, s, n) =>
        casinoRequest({
          url,
          secret: s.signingSecret ?? '',
          body: { event: 'player.updated', playerId: `p-${n}` },
          stream: 'players',
          deliveryId: `d-${n}`,
        }),
      stale: (url, s) =>
        casinoRequest({
          url,
          secret: s.signingSecret ?? '',
          body: { event: 'player.updated' },
          timestampSeconds: Math.floor(Date.now() / 1000) - 301,
        }),
    })
  })
}

describe('casino delivery ids', () => {
  it('refuses a delivery without X-Delivery-Id with 400', async () => {
    const h = harness()
    const { url } = h.addTarget('softswiss', secrets)
    const req = casinoRequest({ url, secret: secrets.signingSecret, body: { event: 'x' } })
    const headers = { ...req.headers }
    delete headers['x-delivery-id']
    expect((await h.send({ ...req, headers })).statusCode).toBe(400)
    expect(h.requester.requests).toHaveLength(0)
  })

  it('routes a delivery only to the platform in the path', async () => {
    const h = harness()
    const { path } = h.addTarget('altenar', secrets)
    const req = casinoRequest({
      url: `https://hooks.example.com${path.replace('altenar', 'softswiss')}`,
      secret: secrets.signingSecret,
      body: {},
    })
    expect((await h.send(req)).statusCode).toBe(404)
  })

  it('refuses a replay that changes any unsigned-looking input: the id and timestamp are signed', async () => {
    const h = harness()
    const { url } = h.addTarget('softswiss', secrets)
    const original = casinoRequest({
      url,
      secret: secrets.signingSecret,
      body: { event: 'x' },
      deliveryId: 'd-1',
    })
    expect((await h.send(original)).statusCode).toBe(204)
    const variants: Array<[string, Record<string, string>]> = [
      ['a new delivery id', { 'x-delivery-id': 'd-2' }],
      ['a new timestamp', { 'x-request-timestamp': String(Math.floor(Date.now() / 1000) + 1) }],
      ['both', { 'x-delivery-id': 'd-3', 'x-request-timestamp': String(Math.floor(Date.now() / 1000) - 1) }],
      ['upper-case hex', { 'x-request-sign': (original.headers['x-request-sign'] ?? '').toUpperCase() }],
    ]
    const codes = []
    for (const [what, headers] of variants) {
      const res = await h.send({ ...original, headers: { ...original.headers, ...headers } })
      codes.push([what, res.statusCode])
    }
    // upper-case hex is the same signature of the same delivery: a duplicate, nothing done
    expect(codes).toEqual([
      ['a new delivery id', 401],
      ['a new timestamp', 401],
      ['both', 401],
      ['upper-case hex', 204],
    ])
    expect(h.requester.requests).toHaveLength(1)
  })

  it('asks for a sync of the stream the delivery names only, and refuses a body naming none', async () => {
    const h = harness()
    const { url } = h.addTarget('softswiss', secrets)
    const send = (body: unknown, n: number) =>
      h.send(casinoRequest({ url, secret: secrets.signingSecret, body, deliveryId: `s-${n}` }))
    expect((await send({ stream: 'players', event: 'player.updated' }, 1)).statusCode).toBe(204)
    expect((await send({ stream: 'games' }, 2)).statusCode).toBe(204)
    expect((await send({ stream: 'everything' }, 3)).statusCode).toBe(400)
    expect((await send('{"event":"x"}', 4)).statusCode).toBe(400)
    expect(h.requester.streams).toEqual(['players', 'games'])
  })

  it('refuses a delivery without a timestamp with 400', async () => {
    const h = harness()
    const { url } = h.addTarget('softswiss', secrets)
    const req = casinoRequest({ url, secret: secrets.signingSecret, body: { event: 'x' } })
    const headers = { ...req.headers }
    delete headers['x-request-timestamp']
    expect((await h.send({ ...req, headers })).statusCode).toBe(400)
    expect(h.requester.requests).toHaveLength(0)
  })
})
