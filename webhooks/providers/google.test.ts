import { describe, expect, it } from 'vitest'
import { googleNotification, type WebhookRequest } from '../../test/sandbox/webhooks/index.ts'
import { harness, providerContract } from '../../test/webhooks/index.ts'

const secrets = { channelToken: 'google-channel-token-0001' }
const channelIds = ['chan-1']

describe('google', () => {
  providerContract({
    provider: 'google',
    secrets,
    wrongSecrets: { channelToken: 'google-channel-token-9999' },
    signatureHeader: 'x-goog-channel-token',
    acceptedStatus: 204,
    reconciles: true,
    extra: { channelIds },
    build: (url, s, n) =>
      googleNotification({
        url,
        channelId: 'chan-1',
        token: s.channelToken,
        resourceState: 'exists',
        messageNumber: n + 1,
      }),
    // no body to change: the token is what is checked, change one byte of it
    tamper: (req: WebhookRequest) => ({
      ...req,
      headers: {
        ...req.headers,
        'x-goog-channel-token': `${req.headers['x-goog-channel-token']?.slice(0, -1)}X`,
      },
    }),
  })
})

describe('google channels', () => {
  it('acknowledges the sync message without work, then reconciles on exists/not_exists', async () => {
    const h = harness()
    const { url, target } = h.addTarget('google', secrets, { channelIds })
    const n = (state: string, messageNumber: number) =>
      googleNotification({
        url,
        channelId: 'chan-1',
        token: secrets.channelToken,
        resourceState: state,
        messageNumber,
      })
    expect((await h.send(n('sync', 1))).statusCode).toBe(200)
    expect(h.requester.requests).toHaveLength(0)
    expect((await h.send(n('exists', 2))).statusCode).toBe(204)
    expect((await h.send(n('not_exists', 3))).statusCode).toBe(204)
    expect((await h.send(n('not_exists', 3))).statusCode).toBe(204) // redelivered message number
    expect(h.requester.names()).toEqual([`ns/${target.name}`, `ns/${target.name}`])
  })

  it('refuses a channel the resource did not open, and a notification without headers', async () => {
    const h = harness()
    const { url } = h.addTarget('google', secrets, { channelIds })
    const other = googleNotification({
      url,
      channelId: 'chan-2',
      token: secrets.channelToken,
      resourceState: 'exists',
      messageNumber: 2,
    })
    const res = await h.send(other)
    expect(res.statusCode).toBe(401)
    expect(JSON.parse(res.body)).toEqual({ error: 'unknown_channel' })
    const good = googleNotification({
      url,
      channelId: 'chan-1',
      token: secrets.channelToken,
      resourceState: 'exists',
      messageNumber: 2,
    })
    const headers = { ...good.headers }
    delete headers['x-goog-message-number']
    expect((await h.send({ ...good, headers })).statusCode).toBe(400)
    expect(h.requester.requests).toHaveLength(0)
  })

  it('refuses a notification about another resource, or for a channel past its expiry', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z')
    const h = harness({ now: () => now })
    const channels = [{ id: 'chan-1', resourceId: 'res-abc', expiration: '2030-01-08T00:00:00Z' }]
    const { url } = h.addTarget('google', secrets, { channels })
    const n = (messageNumber: number, resourceId: string) =>
      googleNotification({
        url,
        channelId: 'chan-1',
        token: secrets.channelToken,
        resourceState: 'exists',
        messageNumber,
        resourceId,
      })
    expect((await h.send(n(2, 'res-other'))).statusCode).toBe(401)
    expect((await h.send(n(3, 'res-abc'))).statusCode).toBe(204)
    now = Date.parse('2030-01-08T00:00:01Z')
    const late = await h.send(n(4, 'res-abc'))
    expect(late.statusCode).toBe(401)
    expect(JSON.parse(late.body)).toEqual({ error: 'unknown_channel' })
    expect(h.requester.requests).toHaveLength(1)
  })
})
