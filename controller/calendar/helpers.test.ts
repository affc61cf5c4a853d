import { describe, expect, it } from 'vitest'
import type { CalendarEvent } from '../../connectors/index.ts'
import { CalendarSyncKind } from '../api/index.ts'
import { candidates, pruneAnnounced, templatesOf } from './announce.ts'
import { freeBusyStatusOf, mergeBlocks } from './freebusy.ts'
import { secretNamesOf } from './reconciler.ts'
import { inlineEvents, inWindow } from './sources.ts'

const ev = (id: string, start: string, over: Partial<CalendarEvent> = {}): CalendarEvent => ({
  id,
  title: id,
  start,
  end: new Date(Date.parse(start) + 3_600_000).toISOString(),
  allDay: false,
  status: 'confirmed',
  visibility: 'public',
  updated: '',
  ...over,
})

describe('free/busy', () => {
  it('merges overlapping and touching blocks across calendars, sorted', () => {
    expect(
      mergeBlocks([
        { start: 50, end: 60 },
        { start: 10, end: 20 },
        { start: 15, end: 30 },
        { start: 30, end: 35 },
        { start: 40, end: 40 },
      ]),
    ).toEqual([
      { start: 10, end: 35 },
      { start: 50, end: 60 },
    ])
  })

  it('clips to the range, bounds the list and keeps per-calendar errors out of the blocks', () => {
    const busy = Array.from({ length: 5 }, (_, i) => ({
      start: `2030-06-0${i + 1}T10:00:00Z`,
      end: `2030-06-0${i + 1}T11:00:00Z`,
    }))
    const status = freeBusyStatusOf(
      {
        timeMin: '2030-06-01T10:30:00Z',
        timeMax: '2030-06-10T00:00:00Z',
        calendars: {
          a: { busy },
          b: { busy: [{ start: '2030-06-01T10:45:00Z', end: '2030-06-01T12:00:00Z' }] },
          c: { busy: [], errors: [{ domain: 'global', reason: 'notFound' }] },
        },
      },
      { timeMin: new Date('2030-06-01T10:30:00Z'), timeMax: new Date('2030-06-10T00:00:00Z') },
      new Date('2030-06-01T10:30:00Z'),
      3,
    )
    expect(status.busy).toEqual([
      { start: '2030-06-01T10:30:00Z', end: '2030-06-01T12:00:00Z' },
      { start: '2030-06-02T10:00:00Z', end: '2030-06-02T11:00:00Z' },
      { start: '2030-06-03T10:00:00Z', end: '2030-06-03T11:00:00Z' },
    ])
    expect(status.truncated).toBe(true)
    expect(status.errors).toEqual([{ calendarId: 'c', reason: 'notFound' }])
  })
})

describe('announcements', () => {
  const now = Date.parse('2030-06-01T12:00:00Z')
  const day = 86_400_000

  it('candidates: public, confirmed, not started, within the horizon, not yet done; soonest first', () => {
    const events = [
      ev('later', '2030-06-20T20:00:00Z'),
      ev('soon', '2030-06-02T20:00:00Z'),
      ev('private', '2030-06-02T20:00:00Z', { visibility: 'private' }),
      ev('tentative', '2030-06-02T20:00:00Z', { status: 'tentative' }),
      ev('started', '2030-06-01T11:00:00Z'),
      ev('far', '2030-09-01T20:00:00Z'),
      ev('done', '2030-06-03T20:00:00Z'),
    ]
    const due = candidates(events, { now, aheadMs: 30 * day, done: (id) => id === 'done' })
    expect(due.map((e) => e.id)).toEqual(['soon', 'later'])
  })

  it('prune keeps announced events until they start, by their current start', () => {
    const announced = [
      { eventId: 'past', start: '2030-05-31T20:00:00Z', time: '2030-05-20T00:00:00Z', posts: [] },
      { eventId: 'moved', start: '2030-05-31T20:00:00Z', time: '2030-05-20T00:00:00Z', posts: [] },
      { eventId: 'coming', start: '2030-06-05T20:00:00Z', time: '2030-05-21T00:00:00Z', posts: [] },
    ]
    const events = new Map([['moved', ev('moved', '2030-06-09T20:00:00Z')]])
    expect(pruneAnnounced(announced, events, now).map((a) => a.eventId)).toEqual(['moved', 'coming'])
  })

  it('templates are checked before use', () => {
    const spec = CalendarSyncKind.spec.parse({
      source: { events: [] },
      credentialsSecretRef: { name: 's' },
      announce: {
        facebook: { pageId: '1', templates: [{ type: 'dj-set', text: 'Tonight: {{title}} {{price}}' }] },
      },
    })
    const fb = spec.announce?.facebook
    expect(fb).toBeDefined()
    expect(() => templatesOf(fb as never)).toThrow(
      /templates\[type=dj-set\].*unknown placeholder \{\{price\}\}/,
    )
  })
})

describe('the CalendarSync spec', () => {
  const parse = (spec: unknown) => CalendarSyncKind.spec.safeParse(spec)

  it('applies defaults', () => {
    const r = parse({
      source: { events: [] },
      targets: [{ calendarId: 'a@x' }],
      credentialsSecretRef: { name: 's' },
    })
    expect(r.success).toBe(true)
    expect(r.data).toMatchObject({
      window: { past: '24h', future: '2160h' },
      interval: '5m',
      deletionPolicy: 'Delete',
      managementPolicy: 'Full',
      suspend: false,
      targets: [{ calendarId: 'a@x', visibility: 'internal' }],
    })
  })

  it('refuses two sources, a missing Secret, a target that is the source, mixed event times', () => {
    expect(
      parse({
        source: { events: [], calendly: { organization: 'https://x/o' } },
        credentialsSecretRef: { name: 's' },
      }).success,
    ).toBe(false)
    const noSecret = parse({
      source: { googleCalendar: { calendarId: 'src' } },
      targets: [{ calendarId: 't' }],
    })
    expect(noSecret.success).toBe(false)
    expect(noSecret.error?.issues[0]?.path.join('.')).toBe('source.googleCalendar.credentialsSecretRef')
    const loop = parse({
      source: { googleCalendar: { calendarId: 'src' } },
      targets: [{ calendarId: 'src' }],
      credentialsSecretRef: { name: 's' },
    })
    expect(loop.error?.issues[0]?.message).toMatch(/cannot be the source/)
    const mixed = parse({
      source: { events: [{ id: 'a', title: 'A', start: '2030-06-01', end: '2030-06-01T10:00:00Z' }] },
    })
    expect(mixed.success).toBe(false)
    const backwards = parse({
      source: {
        events: [{ id: 'a', title: 'A', start: '2030-06-02T10:00:00Z', end: '2030-06-01T10:00:00Z' }],
      },
    })
    expect(backwards.success).toBe(false)
    expect(
      parse({ source: { events: [] }, publicFeed: { enabled: true, timeZone: 'Mars/Olympus' } }).success,
    ).toBe(false)
  })

  it('names every Secret it uses', () => {
    expect(
      secretNamesOf({
        credentialsSecretRef: { name: 'main' },
        source: { googleCalendar: { calendarId: 'x', credentialsSecretRef: { name: 'src' } } },
        targets: [{ calendarId: 'a', credentialsSecretRef: { name: 't1' } }, { calendarId: 'b' }],
        freeBusy: { calendars: ['a'], credentialsSecretRef: { name: 'fb' } },
        announce: { facebook: { pageId: '1', credentialsSecretRef: { name: 'page' } } },
      }).sort(),
    ).toEqual(['fb', 'main', 'page', 'src', 't1'])
    expect(secretNamesOf(undefined)).toEqual([])
  })
})

describe('inline events', () => {
  it('become events with visibility, all-day detection and the window test', () => {
    const events = inlineEvents([
      { id: 'a', title: 'Fair', start: '2030-06-01', end: '2030-06-02', visibility: 'public' },
      {
        id: 'b',
        title: 'Staff',
        start: '2030-06-01T10:00:00Z',
        end: '2030-06-01T11:00:00Z',
        visibility: 'private',
      },
    ])
    expect(events.get('a')).toMatchObject({ allDay: true, visibility: 'public', status: 'confirmed' })
    expect(events.get('b')).toMatchObject({ allDay: false, visibility: 'private' })
    const w = { start: Date.parse('2030-06-01T10:30:00Z'), end: Date.parse('2030-06-01T12:00:00Z') }
    expect(inWindow(events.get('b') as CalendarEvent, w)).toBe(true)
    expect(inWindow(events.get('b') as CalendarEvent, { start: w.end, end: w.end + 1 })).toBe(false)
  })
})
