import { createHmac } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { Writable } from 'node:stream'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { CalendlySandbox, calendlyPlugin } from '../../test/sandbox/calendly/index.ts'
import { type StandalonePlugin, startStandalone } from '../../test/sandbox/google-calendar/standalone.ts'
import { Reason, StallingError, WaitingError } from '../errors.ts'
import { BudgetRegistry } from '../http/index.ts'
import { createLogger } from '../log.ts'
import {
  type CalendlyClientOptions,
  calendlyEventToCalendarEvent,
  calendlySignature,
  createCalendlyClient,
  parseCalendlyCredentials,
  parseCalendlySecret,
} from './index.ts'

const PAT = 'eyJraWQiOiIxY2UxZTEzNjE3ZGNmNzY2YjNjZWJjY2Y4ZGM1YmFmYThhNjVlNjg0MDIzZjdjMzJiZTgzNDliMjM4MDEzNWI0'
const SIGNING_KEY = 'wh-signing-key-0c1d2e3f'

let sb: CalendlySandbox
let srv: StandalonePlugin
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

function client(extra: Partial<CalendlyClientOptions> = {}) {
  return createCalendlyClient({
    credentials: parseCalendlyCredentials({ personalAccessToken: PAT, webhookSigningKey: SIGNING_KEY }),
    baseUrl: `${srv.url}/calendly`,
    logger,
    budgets: new BudgetRegistry(),
    retry: { limit: 2, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false },
    ...extra,
  })
}

beforeAll(async () => {
  srv = await startStandalone((inst) => {
    sb = new CalendlySandbox({ personalAccessTokens: [PAT] }, inst.requests)
    return calendlyPlugin(sb, inst)
  })
  sb.setBaseUrl(`${srv.url}/calendly`)
})
afterAll(() => srv.close())
beforeEach(() => {
  sb.reset()
  srv.faults.reset()
  srv.requests.clear()
})

function book(i: number, extra: Partial<Parameters<CalendlySandbox['book']>[0]> = {}) {
  const day = String(1 + i).padStart(2, '0')
  return sb.book({
    name: `DJ slot ${i}`,
    startTime: `2030-03-${day}T19:00:00Z`,
    endTime: `2030-03-${day}T20:00:00Z`,
    invitee: { email: `dj${i}@example.com`, name: `DJ ${i}` },
    ...extra,
  })
}

describe('Calendly client against the sandbox', () => {
  it('reads the token user (health) and its organization', async () => {
    const me = await client().me()
    expect(me.current_organization).toBe(sb.organizationUri(`${srv.url}/calendly`))
  })

  it('pages scheduled events with next_page_token, filtered by time and status', async () => {
    for (let i = 0; i < 5; i++) book(i)
    const cancelled = book(9)
    sb.cancel(String(cancelled.event.uri).split('/').pop() as string)
    const c = client()
    const organization = (await c.me()).current_organization
    const pages = []
    for await (const p of c.listScheduledEvents({ organization, count: 2, status: 'active' })) pages.push(p)
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1])
    expect(pages.map((p) => Boolean(p.nextPageToken))).toEqual([true, true, false])
    expect(pages.flatMap((p) => p.items.map((e) => e.name))).toEqual([
      'DJ slot 0',
      'DJ slot 1',
      'DJ slot 2',
      'DJ slot 3',
      'DJ slot 4',
    ])

    const window = []
    for await (const p of c.listScheduledEvents({
      organization,
      minStartTime: '2030-03-02T00:00:00Z',
      maxStartTime: '2030-03-04T00:00:00Z',
    })) {
      window.push(...p.items)
    }
    expect(window.map((e) => e.name)).toEqual(['DJ slot 1', 'DJ slot 2'])
  })

  it('maps scheduled events and invitees to CalendarEvents', async () => {
    const { event } = book(0, {
      notes: 'Bring vinyl #dj-set',
      location: { type: 'zoom', join_url: 'https://zoom.example/j/1' },
    })
    const c = client()
    const read = await c.getScheduledEvent(String(event.uri))
    const invitees = []
    for await (const p of c.listInvitees(String(event.uri))) invitees.push(...p.items)
    const mapped = calendlyEventToCalendarEvent(read, invitees)
    expect(mapped).toMatchObject({
      title: 'DJ slot 0',
      start: '2030-03-01T19:00:00.000000Z',
      end: '2030-03-01T20:00:00.000000Z',
      allDay: false,
      status: 'confirmed',
      type: 'dj-set',
      location: 'Zoom',
      attendees: [{ email: 'dj0@example.com', name: 'DJ 0', responseStatus: 'accepted' }],
    })
    expect(mapped.description).toContain('Join: https://zoom.example/j/1')
    expect(mapped.id).toBe(String(event.uri).split('/').pop())
    sb.cancel(mapped.id)
    expect(calendlyEventToCalendarEvent(await c.getScheduledEvent(mapped.id)).status).toBe('cancelled')
  })

  it('stalls with Unauthorized on a wrong token, and names no token in the message', async () => {
    const err = await createCalendlyClient({
      credentials: { personalAccessToken: 'wrong-token-value-123' },
      baseUrl: `${srv.url}/calendly`,
      budgets: new BudgetRegistry(),
    })
      .me()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StallingError)
    expect((err as StallingError).reason).toBe(Reason.Unauthorized)
    expect((err as Error).message).not.toContain('wrong-token-value-123')
  })

  it('retries a 429 and 5xx, then waits with RateLimited; counts every attempt', async () => {
    const metrics = new Registry()
    srv.faults.inject({ provider: 'calendly', status: 503, times: 1 })
    srv.faults.inject({ provider: 'calendly', status: 429, times: 1 })
    const me = await client({ metrics }).me()
    expect(me.uri).toContain('/users/')
    srv.faults.inject({ provider: 'calendly', status: 429, times: 3, retryAfterSeconds: 0 })
    const err = await client({ metrics })
      .me()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WaitingError)
    expect((err as WaitingError).reason).toBe(Reason.RateLimited)
    const counter = await metrics.getSingleMetric('switchboard_provider_requests_total')?.get()
    const byCode = Object.fromEntries(
      (counter?.values ?? []).map((v) => [`${v.labels.provider}:${v.labels.code}`, v.value]),
    )
    expect(byCode).toEqual({ 'calendly:503': 1, 'calendly:429': 4, 'calendly:200': 1 })
  })

  it('refuses a missing organization in the sandbox with Calendly’s 400', async () => {
    const res = await srv.app.inject({
      method: 'GET',
      url: '/calendly/scheduled_events',
      headers: { authorization: `Bearer ${PAT}` },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ title: 'Invalid Argument', details: [{ parameter: 'organization' }] })
  })

  it('names the missing Secret key', () => {
    const thrown = (data: Record<string, string>) => {
      try {
        parseCalendlyCredentials(data)
      } catch (e) {
        return e as StallingError
      }
      throw new Error('expected a StallingError')
    }
    expect(thrown({})).toMatchObject({ reason: Reason.SecretKeyMissing, field: 'personalAccessToken' })
    const invalid = thrown({ personalAccessToken: 'has space' })
    expect(invalid.reason).toBe(Reason.InvalidCredentials)
    expect(invalid.message).not.toContain('has space')
  })

  it('tells a personal access token from an OAuth application, naming the key at fault', () => {
    expect(parseCalendlySecret({ personalAccessToken: PAT, clientId: 'id', clientSecret: 'sec' })).toEqual({
      token: { personalAccessToken: PAT },
    })
    expect(parseCalendlySecret({ clientId: 'id', clientSecret: 'sec' })).toEqual({
      oauth: { clientId: 'id', clientSecret: 'sec', granted: false },
    })
    expect(parseCalendlySecret({ clientId: 'id', clientSecret: 'sec', refreshToken: 'rt' })).toMatchObject({
      oauth: { granted: true },
    })
    expect(() => parseCalendlySecret({ clientId: 'id' })).toThrow(
      expect.objectContaining({ reason: Reason.SecretKeyMissing, field: 'clientSecret' }),
    )
    // an OAuth Secret is no personal access token
    expect(() => parseCalendlyCredentials({ clientId: 'id', clientSecret: 'sec' })).toThrow(
      expect.objectContaining({ reason: Reason.SecretKeyMissing, field: 'personalAccessToken' }),
    )
  })

  it('with OAuth, sends the token it is given and asks again after a 401', async () => {
    const live = sb.userTokens.issue({
      clientId: 'sandbox-calendly-client',
      grant: { organizationUuid: sb.organizationUuid },
      scopes: ['users:read'],
    }).accessToken
    // the first one Calendly no longer knows (expired, revoked)
    const given = ['cly-oauth-stale', live]
    const rejected: string[] = []
    const oauth = createCalendlyClient({
      accessToken: async () => given.shift() ?? 'none',
      onUnauthorized: (t) => {
        rejected.push(t)
      },
      account: 'ns/secret',
      baseUrl: `${srv.url}/calendly`,
    })
    const me = await oauth.me()
    expect(me.current_organization).toContain('/organizations/')
    expect(rejected).toEqual(['cly-oauth-stale'])
    expect(given).toEqual([])
  })

  it('never logs the token', async () => {
    lines.length = 0
    await client().me()
    srv.faults.inject({ provider: 'calendly', status: 401 })
    await client()
      .me()
      .catch(() => undefined)
    const text = lines.join('')
    expect(text).toContain('users.me')
    expect(text).not.toContain(PAT)
    expect(text).not.toContain(SIGNING_KEY)
  })

  describe('webhooks', () => {
    let receiver: Server
    const got: { headers: Record<string, string | string[] | undefined>; body: string }[] = []
    beforeAll(async () => {
      receiver = createServer((req, res) => {
        let body = ''
        req.on('data', (c: Buffer) => {
          body += c.toString('utf8')
        })
        req.on('end', () => {
          got.push({ headers: req.headers, body })
          res.writeHead(200).end()
        })
      })
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
      const a = receiver.address()
      if (a === null || typeof a === 'string') throw new Error('no address')
      sb.addWebhook({ url: `http://127.0.0.1:${a.port}/calendly/hook`, signingKey: SIGNING_KEY })
    })
    afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())))

    it('sends signed invitee.created and invitee.canceled, verifiable on the raw body', async () => {
      got.length = 0
      const { event } = book(3)
      sb.cancel(String(event.uri).split('/').pop() as string)
      await sb.flush()
      expect(got.map((g) => JSON.parse(g.body).event)).toEqual(['invitee.created', 'invitee.canceled'])
      for (const g of got) {
        const header = String(g.headers['calendly-webhook-signature'])
        expect(calendlySignature.check(SIGNING_KEY, header, g.body)).toMatchObject({ ok: true })
        const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) ?? []
        expect(v1).toBe(createHmac('sha256', SIGNING_KEY).update(`${t}.${g.body}`).digest('hex'))
      }
      const created = JSON.parse(got[0]?.body ?? '{}')
      expect(created.payload).toMatchObject({ email: 'dj3@example.com', status: 'active' })
      expect(created.payload.scheduled_event.uri).toBe(event.uri)
      expect(sb.deliveries().map((d) => d.status)).toEqual([200, 200])
    })
  })
})
