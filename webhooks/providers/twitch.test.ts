import { describe, expect, it } from 'vitest'
import {
  type TwitchSubscription,
  twitchNotification,
  twitchRequest,
  twitchRevocation,
  twitchTimestamp,
  twitchVerification,
} from '../../test/sandbox/webhooks/index.ts'
import { harness, providerContract } from '../../test/webhooks/index.ts'

const secrets = { eventsubSecret: 'twitch-eventsub-secret-01' }
const online = (url: string): TwitchSubscription => ({
  id: 'f1c2a387-161a-49f9-a165-0f21d7a4e1c4',
  type: 'stream.online',
  condition: { broadcaster_user_id: '1337' },
  callback: url,
})
const streamEvent = {
  id: '9001',
  broadcaster_user_id: '1337',
  broadcaster_user_login: 'cool_user',
  type: 'live',
  started_at: '2030-01-01T10:00:00Z',
}

describe('twitch', () => {
  providerContract({
    provider: 'twitch',
    secrets,
    wrongSecrets: { eventsubSecret: 'twitch-eventsub-secret-99' },
    signatureHeader: 'twitch-eventsub-message-signature',
    acceptedStatus: 204,
    reconciles: true,
    build: (url, s, n) =>
      twitchNotification({
        url,
        secret: s.eventsubSecret ?? '',
        subscription: { ...online(url), type: 'channel.update' },
        event: { broadcaster_user_id: '1337', title: `title ${n}` },
        messageId: `msg-${n}`,
      }),
    stale: (url, s) =>
      twitchNotification({
        url,
        secret: s.eventsubSecret ?? '',
        subscription: online(url),
        event: streamEvent,
        timestamp: twitchTimestamp(new Date(Date.now() - 10 * 60_000 - 5_000)),
      }),
  })

  it('answers the callback verification with the raw challenge as text/plain, even before the resource is ready', async () => {
    const h = harness()
    const { url } = h.addTarget('twitch', secrets, { ready: false })
    const challenge = 'pogchamp-kappa-360noscope-vohiyo'
    const res = await h.send(
      twitchVerification({ url, secret: secrets.eventsubSecret, challenge, subscription: online(url) }),
    )
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(res.body).toBe(challenge)
    expect(res.headers['content-length']).toBe(String(challenge.length))
    // a retried verification is answered again (not deduplicated away)
    const again = twitchVerification({
      url,
      secret: secrets.eventsubSecret,
      challenge,
      subscription: online(url),
      messageId: 'v-1',
    })
    expect((await h.send(again)).body).toBe(challenge)
    expect((await h.send(again)).body).toBe(challenge)
  })

  it('refuses a verification signed with another secret', async () => {
    const h = harness()
    const { url } = h.addTarget('twitch', secrets, { ready: false })
    const res = await h.send(
      twitchVerification({ url, secret: 'wrong', challenge: 'abc', subscription: online(url) }),
    )
    expect(res.statusCode).toBe(401)
    expect(res.body).not.toContain('abc')
  })

  it('hands stream.online / stream.offline to the callback sink and asks for a reconcile', async () => {
    const h = harness()
    const { url, target } = h.addTarget('twitch', secrets)
    const on = twitchNotification({
      url,
      secret: secrets.eventsubSecret,
      subscription: online(url),
      event: streamEvent,
    })
    const off = twitchNotification({
      url,
      secret: secrets.eventsubSecret,
      subscription: { ...online(url), type: 'stream.offline' },
      event: { broadcaster_user_id: '1337', broadcaster_user_login: 'cool_user' },
    })
    expect((await h.send(on)).statusCode).toBe(204)
    expect((await h.send(off)).statusCode).toBe(204)
    // one entry per message (keyed by its id), each naming its broadcaster
    expect(
      h.callbacks.events.map((e) => [
        e.target.name,
        e.event.type,
        e.event.key,
        e.event.data.broadcaster,
        e.event.data.live,
      ]),
    ).toEqual([
      [target.name, 'stream.online', on.headers['twitch-eventsub-message-id'], '1337', true],
      [target.name, 'stream.offline', off.headers['twitch-eventsub-message-id'], '1337', false],
    ])
    expect(h.callbacks.events[0]?.event.occurredAt).toBe('2030-01-01T10:00:00Z')
    // offline carries no time of its own: the message timestamp, as Twitch wrote it
    expect(h.callbacks.events[1]?.event.occurredAt).toBe(off.headers['twitch-eventsub-message-timestamp'])
    expect(h.requester.requests).toHaveLength(2)
  })

  it('takes a revocation (2xx) and asks for a reconcile (the controller reads the status from Twitch)', async () => {
    const h = harness()
    const { url } = h.addTarget('twitch', secrets)
    const res = await h.send(
      twitchRevocation({
        url,
        secret: secrets.eventsubSecret,
        subscription: online(url),
        reason: 'user_removed',
      }),
    )
    expect(res.statusCode).toBe(204)
    expect(h.callbacks.events).toHaveLength(0)
    expect(h.requester.requests).toHaveLength(1)
  })

  it('refuses a timestamp far in the future, an unknown message type and missing headers', async () => {
    const h = harness()
    const { url } = h.addTarget('twitch', secrets)
    const future = twitchNotification({
      url,
      secret: secrets.eventsubSecret,
      subscription: online(url),
      event: streamEvent,
      timestamp: twitchTimestamp(new Date(Date.now() + 11 * 60_000)),
    })
    expect((await h.send(future)).statusCode).toBe(401)
    const odd = twitchRequest({
      url,
      secret: secrets.eventsubSecret,
      type: 'other' as never,
      body: { subscription: {} },
    })
    expect((await h.send(odd)).statusCode).toBe(400)
    const good = twitchNotification({
      url,
      secret: secrets.eventsubSecret,
      subscription: online(url),
      event: streamEvent,
    })
    for (const name of [
      'twitch-eventsub-message-id',
      'twitch-eventsub-message-timestamp',
      'twitch-eventsub-message-type',
    ]) {
      const headers = { ...good.headers }
      delete headers[name]
      expect((await h.send({ ...good, headers })).statusCode, name).toBe(400)
    }
    expect(h.requester.requests).toHaveLength(0)
    expect(h.callbacks.events).toHaveLength(0)
  })

  it('bounds what a notification writes: an oversized started_at falls back to the signed timestamp', async () => {
    const h = harness()
    const { url } = h.addTarget('twitch', secrets)
    const msg = twitchNotification({
      url,
      secret: secrets.eventsubSecret,
      subscription: online(url),
      event: {
        ...streamEvent,
        started_at: `2030-01-01T10:00:00.${'1'.repeat(10_000)}Z`,
        id: 'x'.repeat(500),
      },
    })
    expect((await h.send(msg)).statusCode).toBe(204)
    const event = h.callbacks.events[0]?.event
    expect(event?.occurredAt).toBe(msg.headers['twitch-eventsub-message-timestamp'])
    expect(String(event?.data.streamId).length).toBe(64)
    // the same message again (a Twitch retry) is one callback
    expect((await h.send(msg)).statusCode).toBe(204)
    expect(h.callbacks.events).toHaveLength(1)
  })

  it('a stream event for a broadcaster id that is not an entity key changes nothing', async () => {
    const h = harness()
    const { url } = h.addTarget('twitch', secrets)
    for (const broadcaster of ['../../etc', 'a'.repeat(200), '', 'é1']) {
      const msg = twitchNotification({
        url,
        secret: secrets.eventsubSecret,
        subscription: online(url),
        event: { ...streamEvent, broadcaster_user_id: broadcaster },
      })
      expect((await h.send(msg)).statusCode).toBe(400)
    }
    expect(h.callbacks.events).toHaveLength(0)
    expect(h.requester.requests).toHaveLength(0)
  })
})
