import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { CalendarEvent } from '../../connectors/index.ts'
import { buildFeedEvents } from './feed.ts'
import { calendarPublicRoutes, type PublicCalendarSync } from './routes.ts'

const event = (id: string, start: string, end: string, over: Partial<CalendarEvent> = {}): CalendarEvent => ({
  id,
  title: id,
  start,
  end,
  allDay: false,
  status: 'confirmed',
  visibility: 'default',
  updated: '',
  ...over,
})

const NOW = new Date('2030-06-01T19:00:00Z')
const source = [
  event('Gig', '2030-06-01T18:00:00Z', '2030-06-01T20:00:00Z'),
  event('Late set', '2030-06-01T23:30:00Z', '2030-06-02T01:00:00Z'),
  event('Members only', '2030-06-01T21:00:00Z', '2030-06-01T22:00:00Z', { visibility: 'private' }),
]

const objects: Record<string, PublicCalendarSync> = {
  'club/venue': {
    spec: { publicFeed: { enabled: true, timeZone: 'Europe/London' }, freeBusy: { calendars: ['a'] } },
    status: {
      publicFeed: {
        timeZone: 'Europe/London',
        events: buildFeedEvents(source, { now: NOW, timeZone: 'Europe/London', max: 20 }),
        generatedAt: '2030-06-01T18:59:00Z',
      },
      freeBusy: {
        timeMin: '2030-06-01T19:00:00Z',
        timeMax: '2030-06-15T19:00:00Z',
        busy: [{ start: '2030-06-02T10:00:00Z', end: '2030-06-02T11:00:00Z' }],
        truncated: false,
        errors: [{ calendarId: 'secret-calendar@example.com', reason: 'notFound' }],
        generatedAt: '2030-06-01T19:00:00Z',
      },
    },
  },
  'club/closed': { spec: {}, status: {} },
  'club/pending': { spec: { publicFeed: { enabled: true }, freeBusy: { calendars: ['a'] } }, status: {} },
}

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function build(now = NOW): Promise<FastifyInstance> {
  app = Fastify()
  await app.register(
    calendarPublicRoutes({ lookup: async (ns, name) => objects[`${ns}/${name}`], now: () => now }),
  )
  return app
}

describe('calendarPublicRoutes', () => {
  it('serves the three documents with ETag, Cache-Control and CORS', async () => {
    const a = await build()
    const events = await a.inject('/feeds/club/venue/events.json')
    expect(events.statusCode).toBe(200)
    expect(events.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(events.headers['cache-control']).toBe('public, max-age=60')
    expect(events.headers['access-control-allow-origin']).toBe('*')
    expect(events.headers.etag).toMatch(/^W\/"/)
    const body = events.json()
    expect(body.timeZone).toBe('Europe/London')
    expect(body.events.map((e: { title: string; time: string }) => [e.title, e.time])).toEqual([
      ['Gig', '19:00'],
      ['Late set', '00:30'],
    ])
    expect(events.body).not.toContain('Members only')

    const next = (await a.inject('/feeds/club/venue/next.json')).json()
    expect(next.next).toMatchObject({
      title: 'Late set',
      date: '2030-06-02',
      time: '00:30',
      state: 'upcoming',
    })
    expect(next.live.map((e: { title: string }) => e.title)).toEqual(['Gig'])

    // in London the late set starts after midnight: not today
    const today = (await a.inject('/feeds/club/venue/today.json')).json()
    expect(today.date).toBe('2030-06-01')
    expect(today.events.map((e: { title: string }) => e.title)).toEqual(['Gig'])
  })

  it('?tz= shows another time zone: in New York both sets are today', async () => {
    const a = await build()
    const res = await a.inject('/feeds/club/venue/today.json?tz=America/New_York')
    expect(res.statusCode).toBe(200)
    const today = res.json()
    expect(today).toMatchObject({ timeZone: 'America/New_York', date: '2030-06-01' })
    expect(today.events.map((e: { title: string; time: string }) => [e.title, e.time])).toEqual([
      ['Gig', '14:00'],
      ['Late set', '19:30'],
    ])
    const london = await a.inject('/feeds/club/venue/today.json')
    expect(res.headers.etag).not.toBe(london.headers.etag)
    const bad = await a.inject('/feeds/club/venue/today.json?tz=Not/AZone')
    expect(bad.statusCode).toBe(400)
  })

  it('If-None-Match with the ETag answers 304 without a body', async () => {
    const a = await build()
    const first = await a.inject('/feeds/club/venue/next.json')
    const etag = first.headers.etag as string
    const again = await a.inject({ url: '/feeds/club/venue/next.json', headers: { 'if-none-match': etag } })
    expect(again.statusCode).toBe(304)
    expect(again.body).toBe('')
    expect(again.headers.etag).toBe(etag)
    expect(again.headers['cache-control']).toBe('public, max-age=60')
    const other = await a.inject({
      url: '/feeds/club/venue/next.json',
      headers: { 'if-none-match': 'W/"nope"' },
    })
    expect(other.statusCode).toBe(200)
  })

  it('a later clock changes the documents and the ETag', async () => {
    const early = await (await build()).inject('/feeds/club/venue/next.json')
    await app?.close()
    const late = await (await build(new Date('2030-06-01T23:45:00Z'))).inject('/feeds/club/venue/next.json')
    expect(late.json().next).toBeNull()
    expect(late.json().live.map((e: { title: string }) => e.title)).toEqual(['Late set'])
    expect(late.headers.etag).not.toBe(early.headers.etag)
  })

  it('404 unless the resource exists and has the feed enabled; 404 for other documents', async () => {
    const a = await build()
    expect((await a.inject('/feeds/club/missing/events.json')).statusCode).toBe(404)
    expect((await a.inject('/feeds/club/closed/events.json')).statusCode).toBe(404)
    expect((await a.inject('/feeds/club/venue/all.json')).statusCode).toBe(404)
    expect((await a.inject('/feeds/Bad_NS/venue/events.json')).statusCode).toBe(404)
    const pending = await a.inject('/feeds/club/pending/events.json')
    expect(pending.statusCode).toBe(200)
    expect(pending.json().events).toEqual([])
  })

  it('free/busy: the blocks only (no calendar ids), with ETag and 304; 404 unless configured', async () => {
    const a = await build()
    const res = await a.inject('/freebusy/club/venue.json')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      timeMin: '2030-06-01T19:00:00Z',
      timeMax: '2030-06-15T19:00:00Z',
      updated: '2030-06-01T19:00:00Z',
      busy: [{ start: '2030-06-02T10:00:00Z', end: '2030-06-02T11:00:00Z' }],
      truncated: false,
    })
    expect(res.body).not.toContain('secret-calendar')
    expect(res.headers['cache-control']).toBe('public, max-age=60')
    const again = await a.inject({
      url: '/freebusy/club/venue.json',
      headers: { 'if-none-match': res.headers.etag as string },
    })
    expect(again.statusCode).toBe(304)
    expect((await a.inject('/freebusy/club/closed.json')).statusCode).toBe(404)
    expect((await a.inject('/freebusy/club/missing.json')).statusCode).toBe(404)
    expect((await a.inject('/freebusy/club/pending.json')).json().busy).toEqual([])
  })
})
