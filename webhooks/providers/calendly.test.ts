import { describe, expect, it } from 'vitest'
import { calendlyInviteeBody, calendlyRequest } from '../../test/sandbox/webhooks/index.ts'
import { harness, providerContract } from '../../test/webhooks/index.ts'

const secrets = { signingKey: 'calendly-signing-key-0001' }

describe('calendly', () => {
  providerContract({
    provider: 'calendly',
    secrets,
    wrongSecrets: { signingKey: 'calendly-signing-key-9999' },
    signatureHeader: 'calendly-webhook-signature',
    acceptedStatus: 204,
    reconciles: true,
    build: (url, s, n) =>
      calendlyRequest({
        url,
        signingKey: s.signingKey ?? '',
        body: calendlyInviteeBody('invitee.created', `https://api.calendly.com/invitees/${n}`),
      }),
    stale: (url, s) =>
      calendlyRequest({
        url,
        signingKey: s.signingKey ?? '',
        body: calendlyInviteeBody('invitee.created', 'https://api.calendly.com/invitees/old'),
        timestampSeconds: Math.floor(Date.now() / 1000) - 181,
      }),
  })

  it('accepts a signature 2 minutes old, and dedupes a redelivery that was signed again', async () => {
    const h = harness()
    const { url } = h.addTarget('calendly', secrets)
    const body = calendlyInviteeBody('invitee.canceled', 'https://api.calendly.com/invitees/r')
    const now = Math.floor(Date.now() / 1000)
    const first = calendlyRequest({ url, signingKey: secrets.signingKey, body, timestampSeconds: now - 120 })
    const again = calendlyRequest({ url, signingKey: secrets.signingKey, body, timestampSeconds: now })
    expect(first.headers['calendly-webhook-signature']).not.toBe(again.headers['calendly-webhook-signature'])
    expect((await h.send(first)).statusCode).toBe(204)
    expect((await h.send(again)).statusCode).toBe(204)
    expect(h.requester.requests).toHaveLength(1)
  })
})
