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
          deliveryId: `d-${n}`,
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
})
