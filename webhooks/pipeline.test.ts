import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { casinoRequest, twilioRequest, twitchRequest } from '../test/sandbox/webhooks/index.ts'
import { harness } from '../test/webhooks/index.ts'
import { nowIso, type WebhookContext } from './pipeline.ts'

const at = (ms: number) => ({ now: () => ms }) as unknown as WebhookContext

describe('nowIso', () => {
  it('follows the clock to the millisecond, whatever the order of the calls', () => {
    const times = [0, 0, 1, 1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 1, 253_402_300_799_999]
    for (const ms of times) expect(nowIso(at(ms))).toBe(new Date(ms).toISOString())
  })

  it('refuses a clock that is not a time, every time, as Date does', () => {
    expect(() => nowIso(at(Number.NaN))).toThrow(RangeError)
    expect(() => nowIso(at(Number.NaN))).toThrow(RangeError)
    expect(nowIso(at(5))).toBe('1970-01-01T00:00:00.005Z')
  })
})

type Secrets = Readonly<Record<string, string>>
/** How a resolver hands out a resource's secrets. */
const READS: Record<string, (current: () => Secrets) => () => Promise<Secrets>> = {
  // the Kubernetes resolver: a new promise on every call
  'a new promise each call': (current) => async () => current(),
  // a read in flight: settles only later
  'a promise that settles later': (current) => () =>
    new Promise((resolve) => setTimeout(() => resolve(current()), 5)),
  // the bridge and memory resolvers: the same settled promise while the value is fresh
  'the same promise while fresh': (current) => {
    let last: { value: Secrets; promise: Promise<Secrets> } | undefined
    return () => {
      const value = current()
      if (last?.value !== value) last = { value, promise: Promise.resolve(value) }
      return last.promise
    }
  },
}

const PROVIDERS_UNDER_TEST = {
  softswiss: {
    key: 'signingSecret',
    build: (url: string, secret: string) =>
      casinoRequest({ url, secret, body: { event: 'transaction.created' }, stream: 'transactions' }),
  },
  twitch: {
    key: 'eventsubSecret',
    build: (url: string, secret: string) =>
      twitchRequest({
        url,
        secret,
        type: 'notification',
        body: { subscription: { id: 's1', type: 'channel.update' }, event: { broadcaster_user_id: '1' } },
      }),
  },
  twilio: {
    key: 'authToken',
    build: (url: string, secret: string) =>
      twilioRequest({
        url,
        authToken: secret,
        params: { MessageSid: `SM${randomUUID().replace(/-/g, '')}`, Body: 'hi' },
      }),
  },
} as const

describe('withSecret', () => {
  for (const [how, read] of Object.entries(READS)) {
    for (const [provider, p] of Object.entries(PROVIDERS_UNDER_TEST)) {
      it(`${provider}, secrets as ${how}: verifies with the current secret, also after it changed`, async () => {
        const h = harness()
        let secrets: Secrets = { [p.key]: 'first-secret-0001' }
        const { target, url } = h.addTarget(provider as 'softswiss', secrets)
        Object.assign(target, { secrets: read(() => secrets) })
        for (let i = 0; i < 3; i++)
          expect((await h.send(p.build(url, 'first-secret-0001'))).statusCode).toBeLessThan(300)
        secrets = { [p.key]: 'second-secret-0002' }
        expect((await h.send(p.build(url, 'first-secret-0001'))).statusCode).toBe(401)
        expect((await h.send(p.build(url, 'second-secret-0002'))).statusCode).toBeLessThan(300)
        // a Secret without the key: 503, and nothing asked for
        secrets = {}
        const before = h.requester.requests.length
        const res = await h.send(p.build(url, 'second-secret-0002'))
        expect(res.statusCode).toBe(503)
        expect(res.headers['retry-after']).toBe('60')
        expect(h.requester.requests.length).toBe(before)
        expect(
          await h.count('switchboard_webhook_requests_total', { provider, reason: 'secret_unavailable' }),
        ).toBe(1)
      })
    }
  }

  it('answers 500 and changes nothing when the secrets cannot be read', async () => {
    const h = harness()
    const { target, url } = h.addTarget('softswiss', { signingSecret: 's' })
    Object.assign(target, { secrets: () => Promise.reject(new Error('read failed')) })
    const res = await h.send(
      casinoRequest({ url, secret: 's', body: { event: 'x' }, stream: 'transactions' }),
    )
    expect(res.statusCode).toBe(500)
    expect(h.requester.requests).toHaveLength(0)
    expect(
      await h.count('switchboard_webhook_requests_total', { provider: 'softswiss', reason: 'internal' }),
    ).toBe(1)
  })
})
