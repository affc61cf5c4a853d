import { createSign } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FaultInjector } from '../faults.ts'
import { RequestLog } from '../recording.ts'
import {
  GOOGLE_TOKEN_URL,
  GoogleCalendarSandbox,
  googleCalendarConfigSchema,
  googleCalendarPlugin,
  JWT_BEARER,
  SCOPE_CALENDAR,
  SCOPE_CALENDAR_READONLY,
  type ServiceAccountKey,
} from './index.ts'

const CAL = 'team@sandbox.test'
let app: FastifyInstance
let sb: GoogleCalendarSandbox
let faults: FaultInjector
let token: string
let sa: ServiceAccountKey

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
function assertion(claims: Record<string, unknown>, key = sa.privateKeyPem, alg = 'RS256'): string {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`
  const sig = createSign('RSA-SHA256').update(head).sign(key).toString('base64url')
  return `${head}.${sig}`
}
const now = () => Math.floor(Date.now() / 1000)
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: sa.clientEmail,
  aud: GOOGLE_TOKEN_URL,
  scope: SCOPE_CALENDAR,
  iat: now(),
  exp: now() + 3600,
  ...extra,
})

const tokenRequest = (form: Record<string, string>) =>
  app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(form).toString(),
  })

const api = (
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  headers = {},
) =>
  app.inject({
    method,
    url: `/calendar/v3${path}`,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body ? { payload: JSON.stringify(body) } : {}),
  })

const events = `/calendars/${encodeURIComponent(CAL)}/events`
const gig = (day: number, extra: Record<string, unknown> = {}) => ({
  summary: `Gig ${day}`,
  start: { dateTime: `2030-01-${String(day).padStart(2, '0')}T20:00:00Z` },
  end: { dateTime: `2030-01-${String(day).padStart(2, '0')}T22:00:00Z` },
  ...extra,
})

beforeAll(async () => {
  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } })
  faults = new FaultInjector()
  const requests = new RequestLog()
  sb = new GoogleCalendarSandbox({ calendars: [{ id: CAL, timeZone: 'Europe/Berlin' }] }, requests)
  await app.register(googleCalendarPlugin(sb, { faults, requests }))
  await app.ready()
  sa = sb.auth.createServiceAccount()
})
afterAll(() => app.close())
beforeEach(() => {
  sb.reset()
  faults.reset()
  token = sb.auth.issueAccessToken()
})

describe('google calendar sandbox: token endpoint', () => {
  it('grants a token for a valid JWT-bearer assertion, and the API accepts it', async () => {
    const res = await tokenRequest({ grant_type: JWT_BEARER, assertion: assertion(claims()) })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3599 })
    token = body.access_token
    expect((await api('GET', events)).statusCode).toBe(200)
  })

  it('refuses a bad signature, an unknown account, a long-lived or stale token, no scope', async () => {
    const other = new GoogleCalendarSandbox({}, new RequestLog()).auth.createServiceAccount()
    const cases: [string, string][] = [
      [assertion(claims(), other.privateKeyPem), 'Invalid JWT Signature.'],
      [assertion(claims({ iss: 'who@x.iam.gserviceaccount.com' })), 'account not found'],
      [assertion(claims({ exp: now() + 7200 })), 'short-lived'],
      [assertion(claims({ iat: now() - 7200, exp: now() - 3700 })), 'short-lived'],
      [assertion(claims({ aud: 'https://elsewhere.example/token' })), 'audience'],
      [assertion(claims({ scope: '' })), 'scope'],
      ['not.a.jwt', 'malformed'],
    ]
    for (const [a, text] of cases) {
      const res = await tokenRequest({ grant_type: JWT_BEARER, assertion: a })
      expect(res.statusCode).toBe(400)
      expect(res.json().error_description).toContain(text)
    }
    expect((await tokenRequest({ grant_type: 'password' })).json().error).toBe('unsupported_grant_type')
  })

  it('grants refresh tokens to the right client only', async () => {
    const c = sb.auth.createOAuthClient()
    const ok = await tokenRequest({
      grant_type: 'refresh_token',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      refresh_token: c.refreshToken,
    })
    expect(ok.statusCode).toBe(200)
    const wrongSecret = await tokenRequest({
      grant_type: 'refresh_token',
      client_id: c.clientId,
      client_secret: 'x',
      refresh_token: c.refreshToken,
    })
    expect(wrongSecret.statusCode).toBe(401)
    expect(wrongSecret.json().error).toBe('invalid_client')
    sb.auth.revokeRefreshToken(c.refreshToken)
    const revoked = await tokenRequest({
      grant_type: 'refresh_token',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      refresh_token: c.refreshToken,
    })
    expect(revoked.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('answers 401 without a token and 403 for writes with a read-only scope', async () => {
    const none = await app.inject({ method: 'GET', url: `/calendar/v3${events}` })
    expect(none.statusCode).toBe(401)
    expect(none.json().error.errors[0]).toMatchObject({ reason: 'required', location: 'Authorization' })
    token = sb.auth.issueAccessToken({ id: 'ro@sandbox', kind: 'test' }, [SCOPE_CALENDAR_READONLY])
    expect((await api('GET', events)).statusCode).toBe(200)
    const write = await api('POST', events, gig(1))
    expect(write.statusCode).toBe(403)
    expect(write.json().error.errors[0].reason).toBe('insufficientPermissions')
  })
})

describe('google calendar sandbox: events', () => {
  it('validates writes as Google does', async () => {
    expect(
      (await api('POST', events, { summary: 'x', start: { dateTime: '2030-01-01T10:00:00Z' } })).json().error
        .message,
    ).toBe('Missing end time.')
    const empty = await api('POST', events, gig(2, { end: { dateTime: '2030-01-02T19:00:00Z' } }))
    expect(empty.json().error.errors[0].reason).toBe('timeRangeEmpty')
    expect((await api('POST', events, gig(3, { id: 'UPPER' }))).statusCode).toBe(400)
    const first = await api('POST', events, gig(4, { id: 'abc123def' }))
    expect(first.statusCode).toBe(200)
    const dup = await api('POST', events, gig(4, { id: 'abc123def' }))
    expect(dup.statusCode).toBe(409)
    expect(dup.json().error.errors[0].reason).toBe('duplicate')
  })

  it('patches with merge semantics and checks If-Match', async () => {
    const made = (
      await api(
        'POST',
        events,
        gig(5, { extendedProperties: { private: { a: '1', b: '2' } }, location: 'Hall' }),
      )
    ).json()
    const patched = await api('PATCH', `${events}/${made.id}`, {
      extendedProperties: { private: { b: '3' } },
      location: null,
    })
    expect(patched.json().extendedProperties.private).toEqual({ a: '1', b: '3' })
    expect(patched.json().location).toBeUndefined()
    expect(patched.json().etag).not.toBe(made.etag)
    const stale = await api('PUT', `${events}/${made.id}`, gig(5), { 'if-match': made.etag })
    expect(stale.statusCode).toBe(412)
    const put = await api('PUT', `${events}/${made.id}`, gig(5, { summary: 'Replaced' }), {
      'if-match': patched.json().etag,
    })
    expect(put.json()).toMatchObject({ summary: 'Replaced', id: made.id, created: made.created })
    expect(put.json().extendedProperties).toBeUndefined()
  })

  it('deletes (204), then 410 deleted; unknown 404', async () => {
    const made = (await api('POST', events, gig(6))).json()
    expect((await api('DELETE', `${events}/${made.id}`)).statusCode).toBe(204)
    const again = await api('DELETE', `${events}/${made.id}`)
    expect(again.statusCode).toBe(410)
    expect(again.json().error.errors[0].reason).toBe('deleted')
    expect((await api('DELETE', `${events}/zzzzzz`)).statusCode).toBe(404)
  })

  it('filters by time range and private extended property, caps maxResults', async () => {
    await api('POST', events, gig(1, { extendedProperties: { private: { owner: 'a' } } }))
    await api('POST', events, gig(2, { extendedProperties: { private: { owner: 'b' } } }))
    await api('POST', events, gig(3))
    const range = await api('GET', `${events}?timeMin=2030-01-02T00:00:00Z&timeMax=2030-01-03T00:00:00Z`)
    expect(range.json().items.map((e: { summary: string }) => e.summary)).toEqual(['Gig 2'])
    const owned = await api('GET', `${events}?privateExtendedProperty=owner%3Da`)
    expect(owned.json().items.map((e: { summary: string }) => e.summary)).toEqual(['Gig 1'])
    expect((await api('GET', `${events}?maxResults=0`)).statusCode).toBe(400)
    expect((await api('GET', `${events}?maxResults=99999`)).json().items).toHaveLength(3)
    expect((await api('GET', `${events}?timeMin=2030-01-02`)).statusCode).toBe(400)
  })

  it('refuses a page token of another query, and sync tokens of another calendar', async () => {
    for (let i = 1; i <= 3; i++) await api('POST', events, gig(i))
    const first = (await api('GET', `${events}?maxResults=1`)).json()
    expect(first.nextPageToken).toBeTruthy()
    expect(first.nextSyncToken).toBeUndefined()
    const other = await api('GET', `${events}?maxResults=1&q=Gig&pageToken=${first.nextPageToken}`)
    expect(other.statusCode).toBe(400)
    sb.addCalendar('second@sandbox.test')
    const last = (await api('GET', events)).json()
    const cross = await api('GET', `/calendars/second%40sandbox.test/events?syncToken=${last.nextSyncToken}`)
    expect(cross.statusCode).toBe(400)
  })

  it('expires sync tokens on demand (410 fullSyncRequired)', async () => {
    const { nextSyncToken } = (await api('GET', events)).json()
    expect((await api('GET', `${events}?syncToken=${nextSyncToken}`)).statusCode).toBe(200)
    const res = await app.inject({
      method: 'POST',
      url: `/_sandbox/google-calendar/calendars/${encodeURIComponent(CAL)}/expire-sync-tokens`,
    })
    expect(res.statusCode).toBe(204)
    const gone = await api('GET', `${events}?syncToken=${nextSyncToken}`)
    expect(gone.statusCode).toBe(410)
    expect(gone.json().error.errors[0]).toMatchObject({ domain: 'calendar', reason: 'fullSyncRequired' })
  })
})

describe('google calendar sandbox: config', () => {
  it('validates the CLI section and builds a sandbox from it', () => {
    const cfg = googleCalendarConfigSchema.parse({ calendars: ['a@x', { id: 'b@x', accessRole: 'reader' }] })
    const state = new GoogleCalendarSandbox(cfg, new RequestLog())
    expect(state.calendarIds()).toEqual(['a@x', 'b@x'])
    expect(googleCalendarConfigSchema.safeParse({ calendar: ['typo'] }).success).toBe(false)
  })
})

describe('google calendar sandbox: faults and control', () => {
  it('answers faults in Google’s shape, with a reason when asked', async () => {
    faults.inject({ provider: 'google-calendar', status: 403 })
    const rate = await api('GET', events)
    expect(rate.statusCode).toBe(403)
    expect(rate.json().error.errors[0]).toEqual({
      domain: 'usageLimits',
      reason: 'rateLimitExceeded',
      message: 'Rate Limit Exceeded',
    })
    faults.inject({ provider: 'google-calendar', status: 403, body: { reason: 'quotaExceeded' } })
    expect((await api('GET', events)).json().error.errors[0].reason).toBe('quotaExceeded')
    faults.inject({ provider: 'google-calendar', status: 429, retryAfterSeconds: 3 })
    const r429 = await api('GET', events)
    expect(r429.headers['retry-after']).toBe('3')
    expect(r429.json().error.code).toBe(429)
    faults.inject({ provider: 'google-calendar', status: 503, path: '/token' })
    expect((await tokenRequest({ grant_type: 'x' })).json().error).toBe('internal_failure')
  })

  it('edits events by hand through the control API, moving sync tokens', async () => {
    const { nextSyncToken } = (await api('GET', events)).json()
    const base = `/_sandbox/google-calendar/calendars/${encodeURIComponent(CAL)}/events`
    const made = await app.inject({ method: 'POST', url: base, payload: gig(9) })
    expect(made.statusCode).toBe(201)
    const id = made.json().id
    expect(
      (await app.inject({ method: 'PATCH', url: `${base}/${id}`, payload: { summary: 'Moved' } })).json()
        .summary,
    ).toBe('Moved')
    const inc = (await api('GET', `${events}?syncToken=${nextSyncToken}`)).json()
    expect(inc.items.map((e: { summary: string }) => e.summary)).toEqual(['Moved'])
    expect((await app.inject({ method: 'DELETE', url: `${base}/${id}` })).statusCode).toBe(204)
    const listed = await app.inject({ method: 'GET', url: `${base}?showDeleted=true` })
    expect(listed.json().events.map((e: { status: string }) => e.status)).toEqual(['cancelled'])
    const key = await app.inject({
      method: 'POST',
      url: '/_sandbox/google-calendar/service-accounts',
      payload: {},
    })
    expect(key.json().keyFile.token_uri).toMatch(/\/token$/)
  })
})
