import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { Writable } from 'node:stream'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { GoogleCalendarSandbox, googleCalendarPlugin } from '../../test/sandbox/google-calendar/index.ts'
import { type StandalonePlugin, startStandalone } from '../../test/sandbox/google-calendar/standalone.ts'
import { Reason, StallingError, TransientError, WaitingError } from '../errors.ts'
import { BudgetRegistry } from '../http/index.ts'
import { createLogger } from '../log.ts'
import {
  type CalendarEvent,
  CalendarNotFoundError,
  ConditionNotMetError,
  createGoogleCalendarClient,
  DuplicateEventError,
  differs,
  type EventsPage,
  eventIdFor,
  type GoogleCalendarClient,
  type GoogleCalendarClientOptions,
  parseGoogleCredentials,
  SyncTokenExpiredError,
  toGoogleEvent,
} from './index.ts'

const SOURCE = 'source@sandbox.test'
const TARGET = 'internal@sandbox.test'
const READONLY = 'readonly@sandbox.test'
const OWNER = 'events/club'

let sb: GoogleCalendarSandbox
let srv: StandalonePlugin
let keyJson: string
let privateKeyPem: string
const logLines: string[] = []
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk))
      cb()
    },
  }),
})

const unlimited = () =>
  new BudgetRegistry({ limits: { 'google-calendar': { ratePerSecond: 1000, burst: 1000 } } })
const fast = { limit: 2, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false } as const

function client(extra: Partial<GoogleCalendarClientOptions> = {}): GoogleCalendarClient {
  return createGoogleCalendarClient({
    credentials: parseGoogleCredentials({ serviceAccountKey: keyJson }),
    rootUrl: `${srv.url}/`,
    logger,
    retry: fast,
    timeoutMs: 3000,
    budgets: unlimited(),
    ...extra,
  })
}

async function collect(gen: AsyncGenerator<EventsPage>): Promise<EventsPage[]> {
  const pages: EventsPage[] = []
  for await (const p of gen) pages.push(p)
  return pages
}

function handEvent(i: number, extra: Record<string, unknown> = {}) {
  const day = String(10 + i).padStart(2, '0')
  return {
    summary: `Gig ${i}`,
    start: { dateTime: `2030-05-${day}T20:00:00+02:00` },
    end: { dateTime: `2030-05-${day}T23:00:00+02:00` },
    ...extra,
  }
}

function sample(id: string, extra: Partial<CalendarEvent> = {}): CalendarEvent {
  return {
    id,
    title: 'Tribute night',
    description: 'Songs of the 80s #tribute-night',
    location: 'Main hall',
    start: '2030-06-01T20:00:00+02:00',
    end: '2030-06-01T23:30:00+02:00',
    timeZone: 'Europe/Berlin',
    allDay: false,
    status: 'confirmed',
    visibility: 'default',
    type: 'tribute-night',
    updated: '2030-01-01T00:00:00Z',
    ...extra,
  }
}

beforeAll(async () => {
  srv = await startStandalone((inst) => {
    sb = new GoogleCalendarSandbox(
      { calendars: [SOURCE, TARGET, { id: READONLY, accessRole: 'reader' }] },
      inst.requests,
    )
    return googleCalendarPlugin(sb, inst)
  })
  const sa = sb.auth.createServiceAccount({ tokenUri: `${srv.url}/token` })
  keyJson = JSON.stringify(sa.keyFile)
  privateKeyPem = sa.privateKeyPem
})

afterAll(() => srv.close())

beforeEach(() => {
  sb.reset()
  srv.faults.reset()
  srv.requests.clear()
})

describe('google calendar client against the sandbox', () => {
  it('obtains a token from the sandbox token endpoint with the JWT-bearer grant and reuses it', async () => {
    const before = sb.auth.issued.jwtBearer
    const c = client()
    await collect(c.listEvents(SOURCE))
    await collect(c.listEvents(TARGET))
    expect(sb.auth.issued.jwtBearer).toBe(before + 1)
    const tokenCalls = srv.requests.list().filter((r) => r.path === '/token')
    expect(tokenCalls).toHaveLength(1)
    expect(tokenCalls[0]?.status).toBe(200)
  })

  it('uses an OAuth refresh token against the sandbox token endpoint', async () => {
    const grant = sb.auth.createOAuthClient()
    const before = sb.auth.issued.refreshToken
    const c = client({ credentials: parseGoogleCredentials(grant), tokenUrl: `${srv.url}/token` })
    sb.insertByHand(SOURCE, handEvent(1))
    const [page] = await collect(c.listEvents(SOURCE))
    expect(page?.items).toHaveLength(1)
    expect(sb.auth.issued.refreshToken).toBe(before + 1)
  })

  it('pages a full list and gives nextSyncToken on the last page only', async () => {
    for (let i = 0; i < 5; i++) sb.insertByHand(SOURCE, handEvent(i))
    const pages = await collect(client().listEvents(SOURCE, { maxResults: 2 }))
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1])
    expect(pages.slice(0, 2).every((p) => p.nextPageToken && !p.nextSyncToken)).toBe(true)
    expect(pages[2]?.nextSyncToken).toBeTruthy()
    expect(pages.flatMap((p) => p.items.map((e) => e.summary))).toEqual([
      'Gig 0',
      'Gig 1',
      'Gig 2',
      'Gig 3',
      'Gig 4',
    ])
  })

  it('lists only changes with a sync token, deleted events as cancelled', async () => {
    const made = [0, 1, 2].map((i) => sb.insertByHand(SOURCE, handEvent(i)))
    const c = client()
    const full = await collect(c.listEvents(SOURCE))
    const token = full.at(-1)?.nextSyncToken as string
    sb.patchByHand(SOURCE, made[0]?.id as string, { summary: 'Gig 0 (moved)' })
    sb.deleteByHand(SOURCE, made[1]?.id as string)
    sb.insertByHand(SOURCE, handEvent(7))
    const inc = await collect(c.listEvents(SOURCE, { syncToken: token, maxResults: 2 }))
    const items = inc.flatMap((p) => p.items)
    expect(items.map((e) => [e.summary ?? null, e.status])).toEqual([
      ['Gig 0 (moved)', 'confirmed'],
      [null, 'cancelled'],
      ['Gig 7', 'confirmed'],
    ])
    expect(items[1]?.id).toBe(made[1]?.id)
    expect(inc.at(-1)?.nextSyncToken).toBeTruthy()
    const again = await collect(c.listEvents(SOURCE, { syncToken: inc.at(-1)?.nextSyncToken as string }))
    expect(again.flatMap((p) => p.items)).toEqual([])
  })

  it('surfaces an expired sync token as SyncTokenExpiredError, and a full sync recovers', async () => {
    sb.insertByHand(SOURCE, handEvent(1))
    const c = client()
    const token = (await collect(c.listEvents(SOURCE))).at(-1)?.nextSyncToken as string
    sb.expireSyncTokens(SOURCE)
    const err = await collect(c.listEvents(SOURCE, { syncToken: token })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SyncTokenExpiredError)
    expect((err as SyncTokenExpiredError).reason).toBe(Reason.InvalidCursor)
    expect((err as SyncTokenExpiredError).calendarId).toBe(SOURCE)
    const full = await collect(c.listEvents(SOURCE))
    expect(full.flatMap((p) => p.items)).toHaveLength(1)
    expect(full.at(-1)?.nextSyncToken).toBeTruthy()
  })

  it('refuses a sync token combined with timeMin (client and sandbox)', async () => {
    const c = client()
    await expect(
      collect(c.listEvents(SOURCE, { syncToken: 'x', timeMin: '2030-01-01T00:00:00Z' })),
    ).rejects.toThrow(TypeError)
    const token = sb.auth.issueAccessToken()
    const res = await srv.app.inject({
      method: 'GET',
      url: `/calendar/v3/calendars/${encodeURIComponent(SOURCE)}/events?syncToken=abc&timeMin=2030-01-01T00:00:00Z`,
      headers: { authorization: `Bearer ${token}` },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().error.errors[0].reason).toBe('invalid')
  })

  it('inserts, reads, patches and deletes a target event; no update when nothing differs', async () => {
    const c = client()
    const desired = toGoogleEvent(sample('src-1'), {
      visibility: 'internal',
      sourceId: 'src-1',
      owner: OWNER,
    })
    if (!desired) throw new Error('expected a body')
    const created = await c.insertEvent(TARGET, desired)
    expect(created.id).toBeTruthy()
    expect(created.extendedProperties?.private).toMatchObject({
      switchboardSource: 'src-1',
      switchboardOwner: OWNER,
    })
    const read = await c.getEvent(TARGET, created.id as string)
    expect(read && differs(read, desired)).toBe(false)

    const moved = toGoogleEvent(sample('src-1', { location: 'Garden' }), {
      visibility: 'internal',
      sourceId: 'src-1',
      owner: OWNER,
    })
    if (!moved || !read) throw new Error('expected bodies')
    expect(differs(read, moved)).toBe(true)
    const patched = await c.patchEvent(TARGET, created.id as string, moved, { etag: read.etag as string })
    expect(patched.location).toBe('Garden')
    expect(differs(patched, moved)).toBe(false)

    // a stale etag is refused with 412
    await expect(
      c.patchEvent(TARGET, created.id as string, moved, { etag: read.etag as string }),
    ).rejects.toBeInstanceOf(ConditionNotMetError)

    expect(await c.deleteEvent(TARGET, created.id as string)).toBe('deleted')
    expect(await c.deleteEvent(TARGET, created.id as string)).toBe('absent')
    expect(await c.deleteEvent(TARGET, 'abcdefabcdef0000')).toBe('absent')
    expect((await c.getEvent(TARGET, created.id as string))?.status).toBe('cancelled')
    expect(await c.getEvent(TARGET, 'abcdefabcdef0001')).toBeUndefined()
  })

  it('resolves a repeated insert with the same event id to the existing event', async () => {
    const c = client()
    const id = eventIdFor(OWNER, 'src-2')
    const body = {
      ...toGoogleEvent(sample('src-2'), { visibility: 'public', sourceId: 'src-2', owner: OWNER }),
      id,
    }
    const first = await c.insertEvent(TARGET, body)
    const second = await c.insertEvent(TARGET, body)
    expect(second.id).toBe(first.id)
    expect(sb.events(TARGET)).toHaveLength(1)
    const foreign = {
      ...body,
      extendedProperties: { private: { switchboardSource: 'src-2', switchboardOwner: 'x/y' } },
    }
    await expect(c.insertEvent(TARGET, foreign)).rejects.toBeInstanceOf(DuplicateEventError)
  })

  it('retries an insert with its own id after a lost answer, without a second event', async () => {
    const c = client()
    const id = eventIdFor(OWNER, 'src-3')
    const body = {
      ...toGoogleEvent(sample('src-3'), { visibility: 'internal', sourceId: 'src-3', owner: OWNER }),
      id,
    }
    // the first attempt is processed but answered too late: the client times out and repeats
    srv.faults.inject({ provider: 'google-calendar', delayMs: 600, path: '/calendar/v3/calendars', times: 1 })
    const made = await createGoogleCalendarClient({
      credentials: parseGoogleCredentials({ serviceAccountKey: keyJson }),
      rootUrl: srv.url,
      retry: fast,
      timeoutMs: 300,
      budgets: unlimited(),
    }).insertEvent(TARGET, body)
    expect(made.id).toBe(id)
    expect(sb.events(TARGET)).toHaveLength(1)
    void c
  })

  it('replaces an event with updateEvent, and checks access to calendars', async () => {
    const c = client()
    await c.checkAccess([SOURCE, TARGET])
    await expect(c.checkAccess(['nope@sandbox.test'])).rejects.toBeInstanceOf(CalendarNotFoundError)
    const body = toGoogleEvent(sample('u-1'), { visibility: 'internal', sourceId: 'u-1', owner: OWNER })
    if (!body) throw new Error('expected a body')
    const made = await c.insertEvent(TARGET, body)
    const replaced = await c.updateEvent(TARGET, made.id as string, { ...body, summary: 'Renamed' })
    expect(replaced.summary).toBe('Renamed')
    expect(sb.event(TARGET, made.id as string)?.summary).toBe('Renamed')
  })

  it('stops at once when the caller aborts', async () => {
    const ac = new AbortController()
    ac.abort()
    const err = await collect(client().listEvents(SOURCE, { signal: ac.signal })).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    expect((err as TransientError).reason).toBe(Reason.Timeout)
    srv.faults.inject({ provider: 'google-calendar', status: 503, times: 5, path: '/calendar' })
    const slow = new AbortController()
    const c = client({ retry: { limit: 5, backoffBaseMs: 2000, jitter: false } })
    const started = Date.now()
    setTimeout(() => slow.abort(), 100)
    await expect(collect(c.listEvents(SOURCE, { signal: slow.signal }))).rejects.toBeInstanceOf(
      TransientError,
    )
    expect(Date.now() - started).toBeLessThan(1500)
  })

  it('lists a target’s events by the private extended property of their owner', async () => {
    const c = client()
    for (const [owner, src] of [
      [OWNER, 'a'],
      [OWNER, 'b'],
      ['other/sync', 'c'],
    ] as const) {
      const body = toGoogleEvent(sample(src), { visibility: 'internal', sourceId: src, owner })
      if (body) await c.insertEvent(TARGET, body)
    }
    sb.insertByHand(TARGET, handEvent(3))
    const mine = (await collect(c.listOwnedEvents(TARGET, { owner: OWNER }))).flatMap((p) => p.items)
    expect(mine.map((e) => e.extendedProperties?.private?.switchboardSource).sort()).toEqual(['a', 'b'])
    const one = (await collect(c.listOwnedEvents(TARGET, { owner: OWNER, sourceId: 'b' }))).flatMap(
      (p) => p.items,
    )
    expect(one).toHaveLength(1)
  })

  it('answers freeBusy with merged busy blocks, and errors for unknown calendars', async () => {
    sb.insertByHand(SOURCE, {
      start: { dateTime: '2030-07-01T10:00:00Z' },
      end: { dateTime: '2030-07-01T12:00:00Z' },
    })
    sb.insertByHand(SOURCE, {
      start: { dateTime: '2030-07-01T11:00:00Z' },
      end: { dateTime: '2030-07-01T13:00:00Z' },
    })
    sb.insertByHand(SOURCE, {
      start: { dateTime: '2030-07-01T15:00:00Z' },
      end: { dateTime: '2030-07-01T16:00:00Z' },
      transparency: 'transparent',
    })
    const c = client()
    const fb = await c.freeBusy({
      timeMin: '2030-07-01T00:00:00Z',
      timeMax: '2030-07-02T00:00:00Z',
      items: [SOURCE, 'missing@sandbox.test'],
    })
    expect(fb.calendars[SOURCE]?.busy).toEqual([
      { start: '2030-07-01T10:00:00Z', end: '2030-07-01T13:00:00Z' },
    ])
    expect(fb.calendars['missing@sandbox.test']?.errors?.[0]?.reason).toBe('notFound')
    await expect(
      c.freeBusy({
        timeMin: '2030-07-01T00:00:00Z',
        timeMax: '2030-07-02T00:00:00Z',
        items: Array.from({ length: 51 }, (_, i) => `c${i}@x`),
      }),
    ).rejects.toThrow(RangeError)
  })

  describe('push channels', () => {
    let receiver: Server
    let address = ''
    const got: IncomingHttpHeaders[] = []
    beforeAll(async () => {
      receiver = createServer((req, res) => {
        got.push(req.headers)
        req.resume()
        res.writeHead(200).end()
      })
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
      const a = receiver.address()
      if (a === null || typeof a === 'string') throw new Error('no address')
      address = `http://127.0.0.1:${a.port}/google/hook`
    })
    afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())))

    it('opens a channel, receives sync then exists notifications, and stops it', async () => {
      got.length = 0
      const c = client()
      const expiration = Date.now() + 3_600_000
      const ch = await c.watch(SOURCE, { id: 'sb-channel-1', address, token: 'chan-token-1', expiration })
      expect(ch.resourceId).toBeTruthy()
      expect(Math.abs(ch.expiration - expiration)).toBeLessThan(1000)
      await sb.push.flush()
      sb.insertByHand(SOURCE, handEvent(1))
      await sb.push.flush()
      expect(got.map((h) => [h['x-goog-resource-state'], h['x-goog-message-number']])).toEqual([
        ['sync', '1'],
        ['exists', '2'],
      ])
      expect(got[0]).toMatchObject({
        'x-goog-channel-id': 'sb-channel-1',
        'x-goog-channel-token': 'chan-token-1',
        'x-goog-resource-id': ch.resourceId,
      })
      expect(got[0]?.['x-goog-channel-expiration']).toMatch(/GMT$/)
      await c.stopChannel({ id: ch.id, resourceId: ch.resourceId })
      sb.insertByHand(SOURCE, handEvent(2))
      await sb.push.flush()
      expect(got).toHaveLength(2)
      // stopping again: already gone, not an error
      await c.stopChannel({ id: ch.id, resourceId: ch.resourceId })
    })
  })

  describe('error mapping', () => {
    it('repeats once with a fresh token after a 401, then succeeds', async () => {
      const c = client()
      await collect(c.listEvents(SOURCE))
      const before = sb.auth.issued.jwtBearer
      sb.auth.revokeAccessTokens()
      await collect(c.listEvents(SOURCE))
      expect(sb.auth.issued.jwtBearer).toBe(before + 1)
    })

    it('stalls with Unauthorized when 401 persists', async () => {
      srv.faults.inject({ provider: 'google-calendar', status: 401, times: 2, path: '/calendar' })
      const err = await collect(client().listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StallingError)
      expect((err as StallingError).reason).toBe(Reason.Unauthorized)
    })

    it('stalls with InvalidCredentials when the token endpoint refuses the key', async () => {
      const stranger = new GoogleCalendarSandbox({}, srv.requests).auth.createServiceAccount({
        tokenUri: `${srv.url}/token`,
      })
      const c = client({
        credentials: parseGoogleCredentials({ serviceAccountKey: JSON.stringify(stranger.keyFile) }),
      })
      const err = await collect(c.listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StallingError)
      expect((err as StallingError).reason).toBe(Reason.InvalidCredentials)
      expect((err as Error).message).toContain('invalid_grant')
    })

    it("stalls with TokenRevoked when the token endpoint refuses a user's refresh token", async () => {
      const grant = sb.auth.createOAuthClient()
      sb.auth.revokeRefreshToken(grant.refreshToken)
      const c = client({ credentials: parseGoogleCredentials(grant), tokenUrl: `${srv.url}/token` })
      const err = await collect(c.listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StallingError)
      expect(err).toMatchObject({ reason: Reason.TokenRevoked, field: 'refreshToken' })
      expect((err as Error).message).not.toContain(grant.refreshToken)
    })

    it('retries 403 rateLimitExceeded and 429 alike, then waits (RateLimited)', async () => {
      srv.faults.inject({ provider: 'google-calendar', status: 403, times: 3, path: '/calendar' })
      const err = await collect(client().listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WaitingError)
      expect((err as WaitingError).reason).toBe(Reason.RateLimited)
      expect(srv.requests.list().filter((r) => r.status === 403)).toHaveLength(3)

      srv.faults.inject({ provider: 'google-calendar', status: 429, times: 2, path: '/calendar' })
      sb.insertByHand(SOURCE, handEvent(1))
      const pages = await collect(client().listEvents(SOURCE))
      expect(pages[0]?.items).toHaveLength(1)
    })

    it('honours Retry-After on 429, and returns a longer one as the wait', async () => {
      srv.faults.inject({ provider: 'google-calendar', status: 429, retryAfterSeconds: 1, path: '/calendar' })
      const started = Date.now()
      await collect(client().listEvents(SOURCE))
      expect(Date.now() - started).toBeGreaterThanOrEqual(950)

      srv.faults.inject({
        provider: 'google-calendar',
        status: 429,
        retryAfterSeconds: 120,
        path: '/calendar',
      })
      const err = await collect(client().listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WaitingError)
      expect((err as WaitingError).retryAfterMs).toBe(120_000)
    })

    it('waits on quotaExceeded', async () => {
      srv.faults.inject({
        provider: 'google-calendar',
        status: 403,
        body: { reason: 'quotaExceeded' },
        path: '/calendar',
      })
      const err = await collect(client().listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WaitingError)
      expect((err as WaitingError).reason).toBe(Reason.RateLimited)
      expect(srv.requests.list().filter((r) => r.path.startsWith('/calendar'))).toHaveLength(1)
    })

    it('retries 5xx up to the limit, then fails transient; each attempt counted once', async () => {
      const metrics = new Registry()
      srv.faults.inject({ provider: 'google-calendar', status: 503, times: 3, path: '/calendar' })
      const err = await collect(client({ metrics }).listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(TransientError)
      expect((err as TransientError).reason).toBe(Reason.ProviderUnavailable)
      const counter = await metrics.getSingleMetric('switchboard_provider_requests_total')?.get()
      const byCode = Object.fromEntries(
        (counter?.values ?? []).map((v) => [`${v.labels.operation}:${v.labels.code}`, v.value]),
      )
      // limit 2 → 3 attempts, no gaxios retries on top
      expect(byCode).toEqual({ 'auth.token:200': 1, 'events.list:503': 3 })
      expect(srv.requests.list().filter((r) => r.status === 503)).toHaveLength(3)
    })

    it('does not retry a POST insert without an id', async () => {
      srv.faults.inject({ provider: 'google-calendar', status: 503, path: '/calendar' })
      const body = toGoogleEvent(sample('x'), { visibility: 'internal', sourceId: 'x', owner: OWNER })
      await expect(client().insertEvent(TARGET, body ?? {})).rejects.toBeInstanceOf(TransientError)
      expect(srv.requests.list().filter((r) => r.path.startsWith('/calendar'))).toHaveLength(1)
    })

    it('stalls on a missing calendar (CalendarNotFound) and on a read-only one (Unauthorized)', async () => {
      const c = client()
      const missing = await collect(c.listEvents('nope@sandbox.test')).catch((e: unknown) => e)
      expect(missing).toBeInstanceOf(CalendarNotFoundError)
      expect((missing as CalendarNotFoundError).reason).toBe(Reason.CalendarNotFound)
      expect((missing as Error).message).toContain('nope@sandbox.test')
      const body = toGoogleEvent(sample('y'), { visibility: 'public', sourceId: 'y', owner: OWNER })
      const ro = await c.insertEvent(READONLY, body ?? {}).catch((e: unknown) => e)
      expect(ro).toBeInstanceOf(StallingError)
      expect((ro as StallingError).reason).toBe(Reason.Unauthorized)
    })

    it('explains attendees refused for a service account without a subject', async () => {
      const body = toGoogleEvent(sample('z', { attendees: [{ email: 'guest@example.com' }] }), {
        visibility: 'internal',
        sourceId: 'z',
        owner: OWNER,
      })
      const err = await client()
        .insertEvent(TARGET, body ?? {})
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StallingError)
      expect((err as Error).message).toContain('subject')
    })

    it('gives up waiting for the budget with RateLimited', async () => {
      const budgets = new BudgetRegistry({ limits: { 'google-calendar': { ratePerSecond: 0.01, burst: 1 } } })
      const c = client({ budgets, retry: { ...fast, maxRetryAfterMs: 50 } })
      await collect(c.listEvents(SOURCE)).catch(() => undefined)
      const err = await collect(c.listEvents(SOURCE)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WaitingError)
      expect((err as WaitingError).reason).toBe(Reason.RateLimited)
    })
  })

  it('never writes credentials or tokens to logs or error messages', async () => {
    logLines.length = 0
    const grant = sb.auth.createOAuthClient()
    const oauth = client({ credentials: parseGoogleCredentials(grant), tokenUrl: `${srv.url}/token` })
    await collect(oauth.listEvents(SOURCE))
    const messages: string[] = []
    srv.faults.inject({ provider: 'google-calendar', status: 401, times: 2, path: '/calendar' })
    await collect(client().listEvents(SOURCE)).catch((e: Error) => messages.push(e.message))
    sb.auth.revokeRefreshToken(grant.refreshToken)
    await collect(
      client({ credentials: parseGoogleCredentials(grant), tokenUrl: `${srv.url}/token` }).listEvents(SOURCE),
    ).catch((e: Error) => messages.push(e.message))
    const text = logLines.join('') + messages.join('\n')
    expect(logLines.length).toBeGreaterThan(3)
    expect(text).toContain('events.list')
    const pemBody = privateKeyPem.split('\n')[1] as string
    for (const secret of [grant.clientSecret, grant.refreshToken, pemBody, 'ya29.']) {
      expect(text).not.toContain(secret)
    }
  })
})
