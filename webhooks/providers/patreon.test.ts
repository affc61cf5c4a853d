import { describe, expect, it } from 'vitest'
import { patreonRequest } from '../../test/sandbox/webhooks/index.ts'
import { harness, providerContract } from '../../test/webhooks/index.ts'

const secrets = { webhookSecret: 'patreon-webhook-secret-01' }
const member = (n: number) => ({
  data: { id: `member-${n}`, type: 'member', attributes: { patron_status: 'active_patron' } },
})

describe('patreon', () => {
  providerContract({
    provider: 'patreon',
    secrets,
    wrongSecrets: { webhookSecret: 'patreon-webhook-secret-99' },
    signatureHeader: 'x-patreon-signature',
    acceptedStatus: 204,
    reconciles: true,
    build: (url, s, n) =>
      patreonRequest({ url, secret: s.webhookSecret ?? '', event: 'members:pledge:create', body: member(n) }),
  })

  it('refuses a delivery without X-Patreon-Event (400) and a non-JSON body (400)', async () => {
    const h = harness()
    const { url } = h.addTarget('patreon', secrets)
    const req = patreonRequest({
      url,
      secret: secrets.webhookSecret,
      event: 'members:update',
      body: member(1),
    })
    const headers = { ...req.headers }
    delete headers['x-patreon-event']
    expect((await h.send({ ...req, headers })).statusCode).toBe(400)
    const notJson = patreonRequest({
      url,
      secret: secrets.webhookSecret,
      event: 'members:update',
      body: 'not json',
    })
    expect((await h.send(notJson)).statusCode).toBe(400)
    expect(h.requester.requests).toHaveLength(0)
  })

  it('dedupes on the signature alone: a replay with another X-Patreon-Event does nothing', async () => {
    const h = harness()
    const { url } = h.addTarget('patreon', secrets)
    const req = patreonRequest({
      url,
      secret: secrets.webhookSecret,
      event: 'members:update',
      body: member(7),
    })
    expect((await h.send(req)).statusCode).toBe(204)
    for (const event of ['members:create', 'members:pledge:delete']) {
      const res = await h.send({ ...req, headers: { ...req.headers, 'x-patreon-event': event } })
      expect(res.statusCode).toBe(204)
    }
    expect(h.requester.requests).toHaveLength(1)
  })
})
