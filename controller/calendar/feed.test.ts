import { describe, expect, it } from 'vitest'
import type { CalendarEvent } from '../../connectors/index.ts'
import { buildFeedEvents, feedDocuments, isPublicEvent, localDateTime } from './feed.ts'

const ev = (over: Partial<CalendarEvent> & { id: string }): CalendarEvent => ({
  title: over.id,
  start: '2030-06-01T18:00:00Z',
  end: '2030-06-01T20:00:00Z',
  allDay: false,
  status: 'confirmed',
  visibility: 'default',
  updated: '',
  ...over,
})

// Saturday 1 June 2030: a gig 18:00-20:00 UTC, a late set 23:30-01:00 UTC, an all-day fair on
// the 2nd, and things that must never be listed.
const EVENTS: CalendarEvent[] = [
  ev({ id: 'gig', title: 'Gig', location: 'Main room', type: 'live-music', link: 'https://example.com/gig' }),
  ev({ id: 'late', title: 'Late set', start: '2030-06-01T23:30:00Z', end: '2030-06-02T01:00:00Z' }),
  ev({ id: 'fair', title: 'Fair', start: '2030-06-02', end: '2030-06-03', allDay: true }),
  ev({
    id: 'staff',
    title: 'Staff meeting',
    visibility: 'private',
    start: '2030-06-01T21:00:00Z',
    end: '2030-06-01T22:00:00Z',
  }),
  ev({ id: 'off', title: 'Called off', status: 'cancelled' }),
  ev({ id: 'past', title: 'Yesterday', start: '2030-05-31T18:00:00Z', end: '2030-05-31T20:00:00Z' }),
]

const NOW = new Date('2030-06-01T19:00:00Z')

function statusFor(timeZone: string) {
  return {
    publicFeed: {
      timeZone,
      events: buildFeedEvents(EVENTS, { now: new Date('2030-06-01T12:00:00Z'), timeZone, max: 20 }),
      generatedAt: '2030-06-01T12:00:00Z',
    },
  }
}

describe('buildFeedEvents', () => {
  it('keeps only public, live or upcoming events, soonest first, bounded', () => {
    const list = buildFeedEvents(EVENTS, { now: NOW, timeZone: 'UTC', max: 20 })
    expect(list.map((e) => e.title)).toEqual(['Gig', 'Late set', 'Fair'])
    expect(list[0]).toEqual({
      title: 'Gig',
      start: '2030-06-01T18:00:00Z',
      end: '2030-06-01T20:00:00Z',
      allDay: false,
      date: '2030-06-01',
      time: '18:00',
      location: 'Main room',
      type: 'live-music',
      link: 'https://example.com/gig',
    })
    expect(JSON.stringify(list)).not.toContain('Staff')
    expect(buildFeedEvents(EVENTS, { now: NOW, timeZone: 'UTC', max: 1 }).map((e) => e.title)).toEqual([
      'Gig',
    ])
  })

  it('never lists private or cancelled events', () => {
    expect(isPublicEvent(ev({ id: 'a', visibility: 'private' }))).toBe(false)
    expect(isPublicEvent(ev({ id: 'b', status: 'cancelled' }))).toBe(false)
    expect(isPublicEvent(ev({ id: 'c', visibility: 'public' }))).toBe(true)
  })

  it('writes dates and times in the feed time zone', () => {
    const ny = buildFeedEvents(EVENTS, { now: NOW, timeZone: 'America/New_York', max: 20 })
    expect(ny.find((e) => e.title === 'Gig')).toMatchObject({ date: '2030-06-01', time: '14:00' })
    expect(ny.find((e) => e.title === 'Late set')).toMatchObject({ date: '2030-06-01', time: '19:30' })
    const tokyo = buildFeedEvents(EVENTS, { now: NOW, timeZone: 'Asia/Tokyo', max: 20 })
    expect(tokyo.find((e) => e.title === 'Late set')).toMatchObject({ date: '2030-06-02', time: '08:30' })
  })
})

describe('feedDocuments', () => {
  it('UTC: the gig is live, the late set is next, today has both', () => {
    const docs = feedDocuments(statusFor('UTC'), { now: NOW, timeZone: 'UTC' })
    expect(docs.events.events.map((e) => [e.title, e.state])).toEqual([
      ['Gig', 'live'],
      ['Late set', 'upcoming'],
      ['Fair', 'upcoming'],
    ])
    expect(docs.next.next?.title).toBe('Late set')
    expect(docs.next.live.map((e) => e.title)).toEqual(['Gig'])
    expect(docs.today).toMatchObject({ date: '2030-06-01', timeZone: 'UTC' })
    expect(docs.today.events.map((e) => e.title)).toEqual(['Gig', 'Late set'])
    expect(docs.events.updated).toBe('2030-06-01T12:00:00Z')
  })

  it('Los Angeles: same clock, still the 1st; dates and times shown there', () => {
    const docs = feedDocuments(statusFor('UTC'), { now: NOW, timeZone: 'America/Los_Angeles' })
    expect(docs.today.date).toBe('2030-06-01')
    expect(docs.today.events.map((e) => [e.title, e.time])).toEqual([
      ['Gig', '11:00'],
      ['Late set', '16:30'],
    ])
    expect(docs.next.next).toMatchObject({ title: 'Late set', date: '2030-06-01', time: '16:30' })
  })

  it('Auckland: same clock, already the 2nd; the fair and both sets are today', () => {
    const docs = feedDocuments(statusFor('UTC'), { now: NOW, timeZone: 'Pacific/Auckland' })
    expect(docs.today.date).toBe('2030-06-02')
    expect(docs.today.events.map((e) => [e.title, e.state])).toEqual([
      ['Fair', 'live'],
      ['Gig', 'live'],
      ['Late set', 'upcoming'],
    ])
    expect(docs.next.next?.title).toBe('Late set')
    expect(docs.next.live.map((e) => e.title)).toEqual(['Fair', 'Gig'])
  })

  it('moves on with the clock: after the late set only the fair is left', () => {
    const later = new Date('2030-06-02T02:00:00Z')
    const docs = feedDocuments(statusFor('UTC'), { now: later, timeZone: 'UTC' })
    expect(docs.events.events.map((e) => [e.title, e.state])).toEqual([['Fair', 'live']])
    expect(docs.next.next).toBeNull()
    expect(docs.today.events.map((e) => e.title)).toEqual(['Fair'])
    const after = feedDocuments(statusFor('UTC'), { now: new Date('2030-06-03T00:00:01Z'), timeZone: 'UTC' })
    expect(after.events.events).toEqual([])
  })

  it('an event ending at local midnight is not on the next day', () => {
    const status = {
      publicFeed: {
        timeZone: 'UTC',
        generatedAt: '2030-06-01T00:00:00Z',
        events: buildFeedEvents(
          [ev({ id: 'eve', title: 'Evening', start: '2030-06-01T20:00:00Z', end: '2030-06-02T00:00:00Z' })],
          { now: new Date('2030-06-01T00:00:00Z'), timeZone: 'UTC', max: 5 },
        ),
      },
    }
    const docs = feedDocuments(status, { now: new Date('2030-06-01T21:00:00Z'), timeZone: 'UTC' })
    expect(docs.today.events.map((e) => e.title)).toEqual(['Evening'])
  })

  it('the ETag is stable for the same inputs and changes with the zone or the documents', () => {
    const a = feedDocuments(statusFor('UTC'), { now: NOW, timeZone: 'UTC' })
    const b = feedDocuments(statusFor('UTC'), { now: new Date(NOW.getTime() + 60_000), timeZone: 'UTC' })
    expect(b.etag).toBe(a.etag)
    expect(a.etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/)
    expect(feedDocuments(statusFor('UTC'), { now: NOW, timeZone: 'Europe/Paris' }).etag).not.toBe(a.etag)
    // the late set starts: `next` changes
    const started = feedDocuments(statusFor('UTC'), {
      now: new Date('2030-06-01T23:31:00Z'),
      timeZone: 'UTC',
    })
    expect(started.etag).not.toBe(a.etag)
  })

  it('an empty or missing feed gives empty documents', () => {
    const docs = feedDocuments(undefined, { now: NOW, timeZone: 'UTC' })
    expect(docs.events).toEqual({ timeZone: 'UTC', updated: null, events: [] })
    expect(docs.next).toEqual({ timeZone: 'UTC', updated: null, next: null, live: [] })
    expect(docs.today.events).toEqual([])
  })

  it('localDateTime uses 24 h time', () => {
    expect(localDateTime(new Date('2030-01-01T00:05:00Z'), 'UTC')).toEqual({
      date: '2030-01-01',
      time: '00:05',
    })
    expect(localDateTime(new Date('2030-01-01T23:59:00Z'), 'Europe/London')).toEqual({
      date: '2030-01-01',
      time: '23:59',
    })
  })
})
