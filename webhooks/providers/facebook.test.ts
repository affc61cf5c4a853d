import { describe, expect, it } from 'vitest'
import { facebookFeedBody, facebookRequest, facebookVerification } from '../../test/sandbox/webhooks/index.ts'
import { harness, providerContract } from '../../test/webhooks/index.ts'

const secrets = { appSecret: 'facebook-app-secret-0001', verifyToken: 'verify-me-0001' }

describe('facebook', () => {
  providerContract({
    provider: 'facebook',
    secrets,
    wrongSecrets: { ...secrets, appSecret: 'facebook-app-secret-9999' },
    signatureHeader: 'x-hub-signature-256',
    acceptedStatus: 200,
    reconciles: true,
    build: (url, s, n) =>
      facebookRequest({ url, appSecret: s.appSecret ?? '', body: facebookFeedBody('123', `${n}`) }),
  })

  it('answers the subscription handshake with the challenge as text/plain', async () => {
    const h = harness()
    // not ready yet: the handshake is how the subscription gets confirmed
    const { url } = h.addTarget('facebook', secrets, { ready: false })
    const res = await h.send(
      facebookVerification({ url, verifyToken: secrets.verifyToken, challenge: '1158201444' }),
    )
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toBe('1158201444')
    expect(h.requester.requests).toHaveLength(0)
    expect(
      await h.count('switchboard_webhook_requests_total', { provider: 'facebook', result: 'handshake' }),
    ).toBe(1)
  })

  it('refuses a handshake with a wrong verify token (403) or without hub.mode=subscribe (400)', async () => {
    const h = harness()
    const { url } = h.addTarget('facebook', secrets)
    const wrong = await h.send(facebookVerification({ url, verifyToken: 'nope', challenge: 'c1' }))
    expect(wrong.statusCode).toBe(403)
    expect(wrong.body).not.toContain('c1')
    const ok = facebookVerification({ url, verifyToken: secrets.verifyToken, challenge: 'c2' })
    const noMode = await h.send({ ...ok, url: ok.url.replace('hub.mode=subscribe', 'hub.mode=unsubscribe') })
    expect(noMode.statusCode).toBe(400)
    const suspended = h.addTarget('facebook', secrets, { suspended: true })
    const res = await h.send(
      facebookVerification({ url: suspended.url, verifyToken: secrets.verifyToken, challenge: 'c3' }),
    )
    expect(res.statusCode).toBe(503)
  })
})
