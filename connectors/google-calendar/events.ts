/**
 * The normalised event every CalendarSync source produces (Google Calendar, Calendly, an inline
 * list), and its mapping to and from Google Calendar events.
 *
 * - Events Switchboard writes carry private extended properties: `switchboardSource` (the
 *   source event's id), `switchboardOwner` (`<namespace>/<name>` of the CalendarSync) and, when
 *   known, `switchboardType`. Private properties are visible only through the calendar API of
 *   the calendar they sit in, never in the calendar's public views.
 * - An event's type (which announcement template it gets) is the private extended property
 *   `switchboardType` when present; otherwise the first `#tag` in the description that names a
 *   known type (`#live-music`, `#dj-set`, `#tribute-night`; case, `-` and `_` are ignored, so
 *   `#LiveMusic` and `#live_music` count too). Other hashtags are ordinary text.
 * - `toGoogleEvent` builds the body of a target event. A public target gets no description and
 *   no attendees, and an event marked private is not copied to it at all.
 * - `changedFields` / `differs` compare a target event with the desired body on the fields
 *   Switchboard manages, so that a caller never sends an update that changes nothing.
 */
import { createHash } from 'node:crypto'
import type { calendar_v3 } from '@googleapis/calendar'

/** A Google Calendar event resource, as the API and `@googleapis/calendar` shape it. */
export type GoogleEvent = calendar_v3.Schema$Event

export const SOURCE_PROPERTY = 'switchboardSource'
export const OWNER_PROPERTY = 'switchboardOwner'
export const TYPE_PROPERTY = 'switchboardType'

/** The event types Switchboard has default announcement templates for. */
export const DEFAULT_EVENT_TYPES = ['live-music', 'dj-set', 'tribute-night'] as const

export type EventStatus = 'confirmed' | 'tentative' | 'cancelled'
export type EventVisibility = 'default' | 'public' | 'private'

export interface CalendarAttendee {
  email: string
  name?: string
  /** `needsAction`, `declined`, `tentative` or `accepted`. */
  responseStatus?: string
  optional?: boolean
}

export interface CalendarEvent {
  /** The event's id in its source (stable across syncs). */
  id: string
  title: string
  description?: string
  location?: string
  /**
   * All-day: `YYYY-MM-DD`. Otherwise an RFC 3339 date-time with offset. Empty only for a
   * cancelled event that an incremental sync reported without its times.
   */
  start: string
  /** All-day: the day after the last day (exclusive, as Google has it). */
  end: string
  /** IANA time zone the times were written in, when the source says. */
  timeZone?: string
  allDay: boolean
  status: EventStatus
  /** `private` events are never copied to a public target (Google's `confidential` counts as private). */
  visibility: EventVisibility
  /** Announcement type (see the file comment). */
  type?: string
  attendees?: CalendarAttendee[]
  /** A public URL about the event (tickets, a page), if the source has one. */
  link?: string
  /** Last modification in the source, RFC 3339. */
  updated: string
}

export type TargetVisibility = 'internal' | 'public'

export interface ToGoogleEventOptions {
  /** `internal`: everything. `public`: no description, no attendees, private events left out. */
  visibility: TargetVisibility
  /** Stored as the private property `switchboardSource`. */
  sourceId: string
  /** `<namespace>/<name>` of the CalendarSync; stored as `switchboardOwner`. */
  owner: string
  /**
   * Copy attendees to an internal target. Default true. Google refuses attendees on events a
   * service account writes unless it acts for a user (domain-wide delegation, `subject`).
   */
  attendees?: boolean
}

export interface FromGoogleEventOptions {
  /** Types a `#tag` in the description may name. Default `DEFAULT_EVENT_TYPES`. */
  knownTypes?: readonly string[]
}

/** Normalises a Google event (a source calendar's, or a target's). */
export function fromGoogleEvent(e: GoogleEvent, opts: FromGoogleEventOptions = {}): CalendarEvent {
  const allDay = Boolean(e.start?.date)
  const privateProps = e.extendedProperties?.private ?? {}
  const explicitType = privateProps[TYPE_PROPERTY]
  const type = explicitType ? explicitType : detectType(e.description ?? '', opts.knownTypes)
  const out: CalendarEvent = {
    id: e.id ?? '',
    title: e.summary ?? '',
    start: (allDay ? e.start?.date : e.start?.dateTime) ?? '',
    end: (allDay ? e.end?.date : e.end?.dateTime) ?? '',
    allDay,
    status: normaliseStatus(e.status),
    visibility: normaliseVisibility(e.visibility),
    updated: e.updated ?? '',
  }
  if (e.description) out.description = e.description
  if (e.location) out.location = e.location
  const tz = e.start?.timeZone ?? undefined
  if (tz) out.timeZone = tz
  if (type) out.type = type
  if (e.attendees?.length) {
    out.attendees = e.attendees
      .filter((a) => typeof a.email === 'string' && a.email && !a.resource)
      .map((a) => {
        const att: CalendarAttendee = { email: a.email as string }
        if (a.displayName) att.name = a.displayName
        if (a.responseStatus) att.responseStatus = a.responseStatus
        if (a.optional) att.optional = true
        return att
      })
  }
  if (e.source?.url && isHttpUrl(e.source.url)) out.link = e.source.url
  return out
}

/**
 * The body of the target event for `e`, or `undefined` when the target must not hold it (the
 * event is cancelled, or private and the target public): delete the target's copy if it has one.
 * Every managed field is set, empty ones included, so that a patch with this body clears what
 * the source cleared.
 */
export function toGoogleEvent(e: CalendarEvent, opts: ToGoogleEventOptions): GoogleEvent | undefined {
  if (e.status === 'cancelled') return undefined
  const internal = opts.visibility === 'internal'
  if (!internal && e.visibility === 'private') return undefined
  const props: Record<string, string> = { [SOURCE_PROPERTY]: opts.sourceId, [OWNER_PROPERTY]: opts.owner }
  if (e.type) props[TYPE_PROPERTY] = e.type
  const body: GoogleEvent = {
    summary: e.title,
    description: internal ? (e.description ?? '') : '',
    location: e.location ?? '',
    start: eventTime(e.start, e.allDay, e.timeZone),
    end: eventTime(e.end, e.allDay, e.timeZone),
    status: e.status,
    visibility: internal ? e.visibility : 'public',
    attendees:
      internal && opts.attendees !== false
        ? (e.attendees ?? []).map((a) => {
            const att: calendar_v3.Schema$EventAttendee = { email: a.email }
            if (a.name) att.displayName = a.name
            if (a.optional) att.optional = true
            return att
          })
        : [],
    extendedProperties: { private: props },
  }
  if (e.link && isHttpUrl(e.link)) body.source = { title: e.title.slice(0, 200) || 'Event', url: e.link }
  return body
}

function eventTime(
  value: string,
  allDay: boolean,
  timeZone: string | undefined,
): calendar_v3.Schema$EventDateTime {
  if (allDay) return { date: value.slice(0, 10) }
  return timeZone ? { dateTime: value, timeZone } : { dateTime: value }
}

/** Managed fields compared by `changedFields`. */
export type ManagedField =
  | 'summary'
  | 'description'
  | 'location'
  | 'start'
  | 'end'
  | 'status'
  | 'visibility'
  | 'attendees'
  | 'extendedProperties'
  | 'source'

/**
 * The managed fields on which `target` (as read from Google) differs from `desired` (from
 * `toGoogleEvent`). Empty and absent strings are equal; times compare as instants (offsets and
 * formatting do not count); attendees compare by email (and name when desired); only the
 * private properties `desired` sets are compared, so other tools' properties are left alone.
 */
export function changedFields(target: GoogleEvent, desired: GoogleEvent): ManagedField[] {
  const out: ManagedField[] = []
  const str = (v: string | null | undefined) => v ?? ''
  if (str(target.summary) !== str(desired.summary)) out.push('summary')
  if (str(target.description) !== str(desired.description)) out.push('description')
  if (str(target.location) !== str(desired.location)) out.push('location')
  if (!sameTime(target.start, desired.start)) out.push('start')
  if (!sameTime(target.end, desired.end)) out.push('end')
  if ((target.status ?? 'confirmed') !== (desired.status ?? 'confirmed')) out.push('status')
  if (normaliseVisibility(target.visibility) !== normaliseVisibility(desired.visibility))
    out.push('visibility')
  if (desired.attendees !== undefined && !sameAttendees(target.attendees ?? [], desired.attendees ?? [])) {
    out.push('attendees')
  }
  const want = desired.extendedProperties?.private ?? {}
  const have = target.extendedProperties?.private ?? {}
  if (Object.entries(want).some(([k, v]) => have[k] !== v)) out.push('extendedProperties')
  if (str(target.source?.url) !== str(desired.source?.url)) out.push('source')
  return out
}

/** True when an update would change something (see `changedFields`). */
export function differs(target: GoogleEvent, desired: GoogleEvent): boolean {
  return changedFields(target, desired).length > 0
}

function sameTime(
  a: calendar_v3.Schema$EventDateTime | undefined,
  b: calendar_v3.Schema$EventDateTime | undefined,
): boolean {
  if (b === undefined) return true
  if (a === undefined) return false
  if (b.date || a.date) return Boolean(a.date && b.date && a.date.slice(0, 10) === b.date.slice(0, 10))
  const ta = Date.parse(a.dateTime ?? '')
  const tb = Date.parse(b.dateTime ?? '')
  if (Number.isNaN(ta) || Number.isNaN(tb) || ta !== tb) return false
  return !b.timeZone || !a.timeZone || a.timeZone === b.timeZone
}

function sameAttendees(
  a: readonly calendar_v3.Schema$EventAttendee[],
  b: readonly calendar_v3.Schema$EventAttendee[],
): boolean {
  const key = (x: calendar_v3.Schema$EventAttendee) => (x.email ?? '').toLowerCase()
  const have = new Map(a.filter((x) => !x.resource).map((x) => [key(x), x]))
  if (have.size !== b.length) return false
  for (const want of b) {
    const got = have.get(key(want))
    if (!got) return false
    if (want.displayName && want.displayName !== got.displayName) return false
    if (Boolean(want.optional) !== Boolean(got.optional)) return false
  }
  return true
}

function normaliseStatus(s: string | null | undefined): EventStatus {
  return s === 'cancelled' || s === 'tentative' ? s : 'confirmed'
}

function normaliseVisibility(v: string | null | undefined): EventVisibility {
  if (v === 'private' || v === 'confidential') return 'private'
  if (v === 'public') return 'public'
  return 'default'
}

const TAG = /(?:^|[^\p{L}\p{N}_&#-])#([\p{L}][\p{L}\p{N}_-]{0,47})/gu
const tagKey = (s: string) => s.toLowerCase().replace(/[-_]/g, '')

/**
 * The first `#tag` in `text` that names one of `knownTypes` (compared without case, `-` or
 * `_`), in the known type's spelling.
 */
export function detectType(
  text: string,
  knownTypes: readonly string[] = DEFAULT_EVENT_TYPES,
): string | undefined {
  if (!text.includes('#')) return undefined
  const known = new Map(knownTypes.map((t) => [tagKey(t), t]))
  for (const m of text.matchAll(TAG)) {
    const hit = known.get(tagKey(m[1] ?? ''))
    if (hit) return hit
  }
  return undefined
}

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv'

/**
 * A deterministic Google event id for the copy of `sourceId` made by `owner` (lowercase
 * base32hex, 32 characters, as Google requires of ids a client chooses). Inserting with it makes
 * a retried insert answer 409 instead of creating a second event. Google keeps the id of a
 * deleted event, so re-creating a deleted copy needs `updateEvent` on that id (or a fresh id).
 */
export function eventIdFor(owner: string, sourceId: string): string {
  const digest = createHash('sha256').update(owner).update('\0').update(sourceId).digest()
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of digest) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5 && out.length < 32) {
      out += BASE32HEX[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
    if (out.length >= 32) break
  }
  return out
}

/** `privateExtendedProperty` filter values (`key=value`) for the events `owner` made. */
export function ownerFilter(owner: string, sourceId?: string): string[] {
  const out = [`${OWNER_PROPERTY}=${owner}`]
  if (sourceId !== undefined) out.push(`${SOURCE_PROPERTY}=${sourceId}`)
  return out
}

/** The source id and owner stored on an event Switchboard made, if it is one. */
export function switchboardLink(e: GoogleEvent): { sourceId: string; owner: string } | undefined {
  const p = e.extendedProperties?.private
  const sourceId = p?.[SOURCE_PROPERTY]
  const owner = p?.[OWNER_PROPERTY]
  return sourceId && owner ? { sourceId, owner } : undefined
}

function isHttpUrl(s: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(s)
}
