import { Writable } from 'node:stream'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSandbox, type Sandbox } from '../../test/sandbox/index.ts'
import { Reason, StallingError, WaitingError } from '../errors.ts'
import { BudgetRegistry } from '../http/index.ts'
import { createLogger } from '../log.ts'
import { createTwitchClient, parseTwitchCredentials, type TwitchClientOptions } from './index.ts'

const CLIENT_ID = 'sbclientid0000000000000000001'
const CLIENT_SECRET = 'PLANTED-twitch-client-secret-7f3a'
const EVENTSUB_SECRET = 'PLANTED-eventsub-secret-9c2b'
const LOGINS = Array.from({ length: 250 }, (_, i) => `streamer_${i}`)

let sandbox: Sandbox
const lines: string[] = []
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk))
      cb()
    },
  }),
})

function client(extra: Partial<TwitchClientOptions> = {}) {
  return createTwitchClient({
    credentials: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, eventsubSecret: EVENTSUB_SECRET },
    apiUrl: sandbox.twitchEndpoint,
    authUrl: sandbox.twitchEndpoint,
    logger,
    budgets: new BudgetRegistry(),
    retry: { backoffBaseMs: 5, backoffLimitMs: 20 },
    ...extra,
  })
}

beforeAll(async () => {
  sandbox = await buildSandbox({
    twitch: {
      clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
      users: LOGINS.map((login) => ({ login })),
    },
  })
  await sandbox.listen()
})
afterAll(() => sandbox.close())
beforeEach(() => sandbox.reset())

describe('Twitch client against the sandbox', () => {
  it('reads 250 channels in 3 users and 3 streams requests, with one token', async () => {
    const c = client()
    await sandbox.twitch.goLive('streamer_7', { title: 'speedrun', notify: false })
    await sandbox.twitch.goLive('streamer_201', { notify: false })
    const users = await c.users(LOGINS)
    const streams = await c.streams(LOGINS)
    expect(users).toHaveLength(250)
    expect(streams.map((s) => s.user_login).sort()).toEqual(['streamer_201', 'streamer_7'])
    expect(streams.find((s) => s.user_login === 'streamer_7')?.title).toBe('speedrun')
    expect(sandbox.twitch.batchSizes.users).toEqual([100, 100, 50])
    expect(sandbox.twitch.batchSizes.streams).toEqual([100, 100, 50])
    expect(sandbox.twitch.counts.get('token')).toBe(1)
    expect(c.tokensObtained).toBe(1)
  })

  it('renews the token after a 401 and repeats the call once', async () => {
    const c = client()
    await c.users(['streamer_1'])
    sandbox.twitch.expireTokens()
    const users = await c.users(['streamer_1'])
    expect(users).toHaveLength(1)
    expect(c.tokensObtained).toBe(2)
  })

  it('stalls with Unauthorized when the client secret is refused, naming no secret', async () => {
    const c = createTwitchClient({
      credentials: {
        clientId: CLIENT_ID,
        clientSecret: 'PLANTED-wrong-secret-1234',
        eventsubSecret: EVENTSUB_SECRET,
      },
      apiUrl: sandbox.twitchEndpoint,
      authUrl: sandbox.twitchEndpoint,
      logger,
      budgets: new BudgetRegistry(),
    })
    const err = await c.users(['streamer_1']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StallingError)
    expect((err as StallingError).reason).toBe(Reason.Unauthorized)
    expect((err as Error).message).not.toContain('PLANTED')
    // a refused secret is not retried
    expect(sandbox.twitch.counts.get('token')).toBe(1)
  })

  it('creates a subscription once: the same one again answers 409, which is not an error', async () => {
    // pending (no callback answers here): a pending subscription is a duplicate, a failed one is not
    sandbox.twitch.verifyCallbacks = false
    const c = client()
    const [u] = await c.users(['streamer_3'])
    const input = {
      type: 'stream.online',
      broadcasterUserId: u?.id ?? '',
      callback: 'http://127.0.0.1:9/hooks/x',
    }
    const first = await c.createSubscription(input)
    expect('created' in first && first.created.status).toBe('webhook_callback_verification_pending')
    expect(await c.createSubscription(input)).toEqual({ conflict: true })
    const subs = await c.subscriptions()
    expect(subs).toHaveLength(1)
    expect(subs[0]?.id && (await c.deleteSubscription(subs[0].id))).toBe(true)
    expect(await c.deleteSubscription(subs[0]?.id ?? '')).toBe(false)
    // the secret went to Twitch in the body only
    expect(sandbox.twitch.subscriptions.size).toBe(0)
  })

  it('pages through more than 100 subscriptions', async () => {
    const c = client({
      budgets: new BudgetRegistry({ limits: { twitch: { ratePerSecond: 1000, burst: 1000 } } }),
    })
    const users = await c.users(LOGINS.slice(0, 120))
    for (const u of users) {
      await c.createSubscription({
        type: 'stream.offline',
        broadcasterUserId: u.id,
        callback: 'http://127.0.0.1:9/h',
      })
    }
    expect((await c.subscriptions()).length).toBe(120)
    expect(sandbox.twitch.counts.get('subscriptions.list')).toBe(2)
  })

  it('waits for Ratelimit-Reset when no points are left', async () => {
    const c = client()
    await c.users(['streamer_1'])
    const resetAt = Date.now() + 1_500
    sandbox.twitch.forcedRateLimit = { remaining: 0, resetAt }
    await c.users(['streamer_1'])
    sandbox.twitch.forcedRateLimit = undefined
    await c.users(['streamer_2'])
    const arrivals = sandbox.requests.list('twitch').filter((r) => r.path.endsWith('/users'))
    expect(arrivals).toHaveLength(3)
    // the third request was held until the reset the second answer announced (whole seconds)
    expect(arrivals[2]?.at ?? 0).toBeGreaterThanOrEqual(Math.floor(resetAt / 1000) * 1000 - 50)
    expect(c.rateLimit?.remaining).toBeGreaterThan(0)
  })

  it('a 429 with a far reset is a RateLimited wait, not an error that stalls', async () => {
    const c = client()
    await c.users(['streamer_1'])
    sandbox.twitch.forcedRateLimit = { remaining: -1, resetAt: Date.now() + 120_000 }
    const err = await c.streams(['streamer_1']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WaitingError)
    expect((err as WaitingError).reason).toBe(Reason.RateLimited)
    expect((err as WaitingError).retryAfterMs).toBeGreaterThan(60_000)
  })

  it('never logs a credential or a token', async () => {
    const c = client()
    await c.users(['streamer_1'])
    const [u] = await c.users(['streamer_2'])
    await c.createSubscription({
      type: 'stream.online',
      broadcasterUserId: u?.id ?? '',
      callback: 'http://127.0.0.1:9/h',
    })
    const text = lines.join('')
    expect(text).toContain('provider request')
    expect(text).not.toContain(CLIENT_SECRET)
    expect(text).not.toContain(EVENTSUB_SECRET)
    for (const t of [...sandbox.twitch.subscriptions.values()].map((s) => s.secret))
      expect(text).not.toContain(t)
  })

  it('names the missing or malformed Secret key, never its value', () => {
    expect(() => parseTwitchCredentials({ clientId: 'x', clientSecret: 'y' }, 'Secret "tw"')).toThrow(
      /Secret "tw" has no key "eventsubSecret"/,
    )
    let msg = ''
    try {
      parseTwitchCredentials({ clientId: 'x', clientSecret: 'y', eventsubSecret: 'PLANT' }, 'Secret "tw"')
    } catch (e) {
      msg = (e as Error).message
    }
    expect(msg).toMatch(/eventsubSecret/)
    expect(msg).not.toContain('PLANT')
  })
})
