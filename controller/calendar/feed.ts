/**
 * The public feed of a CalendarSync: the controller keeps the upcoming public events in
 * `status.publicFeed` (`buildFeedEvents`), and the webhook server turns that list into three
 * documents (`feedDocuments`), for a clock and a time zone:
 *
 * - `events`: every listed event that has not ended, soonest first;
 * - `next`: the first event that has not started yet, and the ones in progress;
 * - `today`: the events of the current day in the time zone that have not ended.
 *
 * Only events that a public target would hold get into the list: never a cancelled one or one
 * marked private. Dates are `YYYY-MM-DD` and times `HH:MM` (24 h) in the time zone, so that web
 * pages and in-world panels can show them without a date library.
 */
import { createHash } from 'node:crypto'
import type { CalendarEvent } from '../../connectors/index.ts'
import type { FeedEvent, PublicFeedStatus } from '../api/index.ts'

/** Whether an event may appear in public places (public targets, the feed, announcements). */
export function isPublicEvent(e: CalendarEvent): boolean {
  return e.status !== 'cancelled' && e.visibility !== 'private'
}

const dateFormats = new Map<string, Intl.DateTimeFormat>()

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = dateFormats.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    if (dateFormats.size > 200) dateFormats.clear()
    dateFormats.set(timeZone, f)
  }
  return f
}

/** The local date (`YYYY-MM-DD`) and time (`HH:MM`) of an instant in a time zone. */
export function localDateTime(instant: Date, timeZone: string): { date: string; time: string } {
  const parts: Record<string, string> = {}
  for (const p of formatter(timeZone).formatToParts(instant)) parts[p.type] = p.value
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}`,
  }
}

/** The day before a `YYYY-MM-DD` date. */
function dayBefore(date: string): string {
  const d = new Date(`${date}T12:00:00Z`)
  d.setUTCDate(d.getUTCDate() - 1)
  return d.toISOString().slice(0, 10)
}

/** A feed entry of an event, its date and time in `timeZone`. */
export function toFeedEvent(e: CalendarEvent, timeZone: string): FeedEvent {
  const local = e.allDay
    ? { date: e.start.slice(0, 10), time: '' }
    : localDateTime(new Date(e.start), timeZone)
  const out: FeedEvent = {
    title: e.title,
    start: e.start,
    end: e.end,
    allDay: e.allDay,
    date: local.date,
    time: local.time,
  }
  if (e.location) out.location = e.location.slice(0, 1024)
  if (e.type) out.type = e.type
  if (e.link) out.link = e.link.slice(0, 2048)
  return out
}

/** Where an event is relative to `now` in `timeZone`. */
interface Placed {
  event: FeedEvent
  /** First and last local day it covers. */
  firstDay: string
  lastDay: string
  started: boolean
  ended: boolean
  /** Sort key. */
  key: string
}

function place(e: FeedEvent, now: Date, timeZone: string): Placed | undefined {
  const today = localDateTime(now, timeZone).date
  if (e.allDay) {
    const first = e.start.slice(0, 10)
    const last = dayBefore(e.end.slice(0, 10))
    if (!/^\d{4}-\d{2}-\d{2}$/.test(first) || last < first) return undefined
    return {
      event: { ...e, date: first, time: '' },
      firstDay: first,
      lastDay: last,
      started: first <= today,
      ended: last < today,
      key: `${first} 00:00 0 ${e.title}`,
    }
  }
  const start = new Date(e.start)
  const end = new Date(e.end)
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) return undefined
  const s = localDateTime(start, timeZone)
  // the last day it covers: the day of its last minute (an event ending at midnight ends the day before)
  const lastInstant = new Date(Math.max(start.getTime(), end.getTime() - 1))
  return {
    event: { ...e, date: s.date, time: s.time },
    firstDay: s.date,
    lastDay: localDateTime(lastInstant, timeZone).date,
    started: start.getTime() <= now.getTime(),
    ended: end.getTime() <= now.getTime(),
    // local day and time first, so that all-day events sort with the day they are on there
    key: `${s.date} ${s.time} 1 ${start.toISOString()} ${e.title}`,
  }
}

/** The events for `status.publicFeed`: public, not ended, soonest first, at most `max`. */
export function buildFeedEvents(
  events: Iterable<CalendarEvent>,
  opts: { now: Date; timeZone: string; max: number },
): FeedEvent[] {
  const placed: Placed[] = []
  for (const e of events) {
    if (!isPublicEvent(e) || !e.start || !e.end) continue
    const p = place(toFeedEvent(e, opts.timeZone), opts.now, opts.timeZone)
    if (p && !p.ended) placed.push(p)
  }
  placed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return placed.slice(0, opts.max).map((p) => p.event)
}

export interface FeedEventView extends FeedEvent {
  /** `live`: in progress; `upcoming`: not started yet. */
  state: 'live' | 'upcoming'
}

export interface EventsDocument {
  timeZone: string
  /** When the controller last changed the list. */
  updated: string | null
  events: FeedEventView[]
}

export interface NextDocument {
  timeZone: string
  updated: string | null
  /** The first event that has not started yet, or null. */
  next: FeedEventView | null
  /** Events in progress. */
  live: FeedEventView[]
}

export interface TodayDocument {
  timeZone: string
  updated: string | null
  /** Today in the time zone, `YYYY-MM-DD`. */
  date: string
  events: FeedEventView[]
}

export interface FeedDocuments {
  events: EventsDocument
  next: NextDocument
  today: TodayDocument
  /** A weak ETag that changes whenever any of the three documents changes. */
  etag: string
}

export interface FeedDocumentOptions {
  now: Date
  /** IANA time zone of the dates, the times and of "today". */
  timeZone: string
}

/**
 * The three feed documents from `status.publicFeed` (undefined: an empty feed). Pure: the same
 * status, clock and time zone give the same documents and ETag.
 */
export function feedDocuments(
  status: { publicFeed?: PublicFeedStatus | undefined } | undefined,
  opts: FeedDocumentOptions,
): FeedDocuments {
  const feed = status?.publicFeed
  const updated = feed?.generatedAt ?? null
  const { now, timeZone } = opts
  const today = localDateTime(now, timeZone).date
  const placed = (feed?.events ?? [])
    .map((e) => place(e, now, timeZone))
    .filter((p): p is Placed => p !== undefined && !p.ended)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const view = (p: Placed): FeedEventView => ({ ...p.event, state: p.started ? 'live' : 'upcoming' })
  const events: EventsDocument = { timeZone, updated, events: placed.map(view) }
  const upcoming = placed.find((p) => !p.started)
  const next: NextDocument = {
    timeZone,
    updated,
    next: upcoming ? view(upcoming) : null,
    live: placed.filter((p) => p.started).map(view),
  }
  const todays: TodayDocument = {
    timeZone,
    updated,
    date: today,
    events: placed.filter((p) => p.firstDay <= today && p.lastDay >= today).map(view),
  }
  return { events, next, today: todays, etag: etagOf([events, next, todays]) }
}

/** A weak ETag of a JSON value. */
export function etagOf(value: unknown): string {
  const digest = createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 27)
  return `W/"${digest}"`
}
