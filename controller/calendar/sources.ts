/**
 * Reading the source of a CalendarSync into `CalendarEvent`s.
 *
 * - **Google Calendar**: the events are kept in memory per resource (the mirror). The first sync
 *   after a start lists the window in full and keeps the `nextSyncToken`; later syncs list only
 *   what changed since the token (cancelled events included) and apply it to the mirror. A 410
 *   (`SyncTokenExpiredError`) drops the token and lists in full again. The token is written to
 *   status; a restarted controller has no mirror and lists in full once. Every 24 h the window is
 *   listed in full anyway, so that events moving into the window's far edge are picked up.
 * - **Calendly**: no incremental API: each sync lists the scheduled events of the window (both
 *   active and cancelled); invitees are read once per event version (cached).
 * - **Inline events**: the spec.
 */
import {
  type CalendarAttendee,
  type CalendarEvent,
  type CalendlyClient,
  type CalendlyInvitee,
  calendlyEventToCalendarEvent,
  DEFAULT_EVENT_TYPES,
  fromGoogleEvent,
  type GoogleCalendarClient,
  OWNER_PROPERTY,
  SyncTokenExpiredError,
} from '../../connectors/index.ts'
import type { CalendarSyncSpec, InlineCalendarEvent } from '../api/index.ts'

/** The sync window, in epoch ms. */
export interface SyncWindow {
  start: number
  end: number
}

/** Time of an event boundary in epoch ms (an all-day date counts from midnight UTC). */
export function instantOf(value: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value)
}

/** Whether an event overlaps the window. */
export function inWindow(e: CalendarEvent, w: SyncWindow): boolean {
  const start = instantOf(e.start)
  const end = instantOf(e.end)
  if (Number.isNaN(start) || Number.isNaN(end)) return false
  return end > w.start && start < w.end
}

/** The event types a `#tag` may name: the built-in ones and those the templates name. */
export function knownTypes(spec: CalendarSyncSpec): string[] {
  const types = new Set<string>(DEFAULT_EVENT_TYPES)
  for (const t of spec.announce?.facebook?.templates ?? []) if (t.type !== 'default') types.add(t.type)
  return [...types]
}

/** A Google source calendar's events, kept between syncs. */
export interface GoogleMirror {
  /** What the mirror was built from (calendar, Secret, endpoint); another value starts over. */
  config: string
  token: string
  events: Map<string, CalendarEvent>
  fullSyncAt: number
}

export interface GoogleReadResult {
  mirror: GoogleMirror
  mode: 'Full' | 'Incremental'
  /** Events added, changed or removed by this read. */
  changes: number
  /** The saved token had expired (410). */
  expired: boolean
}

export const FULL_RESYNC_MS = 24 * 3_600_000

/**
 * Reads a Google calendar: incrementally from `mirror` when it is at `savedToken`, else in full.
 * The mirror given is never changed; a new one is returned (so a failure half-way keeps the old).
 */
export async function readGoogleSource(opts: {
  client: GoogleCalendarClient
  calendarId: string
  config: string
  mirror: GoogleMirror | undefined
  savedToken: string | undefined
  window: SyncWindow
  owner: string
  knownTypes: readonly string[]
  now: number
  signal: AbortSignal
}): Promise<GoogleReadResult> {
  const { client, calendarId, owner, signal } = opts
  const usable =
    opts.mirror !== undefined &&
    opts.mirror.config === opts.config &&
    opts.savedToken !== undefined &&
    opts.mirror.token === opts.savedToken &&
    opts.now - opts.mirror.fullSyncAt < FULL_RESYNC_MS
  const convert = (item: Parameters<typeof fromGoogleEvent>[0]) =>
    fromGoogleEvent(item, { knownTypes: opts.knownTypes })
  // events this resource wrote itself never count as source events (a calendar that is both)
  const ours = (item: { extendedProperties?: { private?: Record<string, string> | null } | null }) =>
    item.extendedProperties?.private?.[OWNER_PROPERTY] === owner

  let expired = false
  if (usable && opts.mirror) {
    const base = opts.mirror
    try {
      const changed: CalendarEvent[] = []
      let token: string | undefined
      for await (const page of client.listEvents(calendarId, {
        syncToken: base.token,
        singleEvents: true,
        maxResults: 250,
        signal,
      })) {
        for (const item of page.items)
          if (item.id) changed.push(ours(item) ? cancelledOf(item.id) : convert(item))
        if (page.nextSyncToken) token = page.nextSyncToken
      }
      const events = new Map(base.events)
      for (const e of changed) {
        if (e.status === 'cancelled') events.delete(e.id)
        else events.set(e.id, e)
      }
      // forget what ended before the window (incremental lists report changes anywhere)
      for (const [id, e] of events) if (instantOf(e.end) <= opts.window.start) events.delete(id)
      return {
        mirror: { config: opts.config, token: token ?? base.token, events, fullSyncAt: base.fullSyncAt },
        mode: 'Incremental',
        changes: changed.length,
        expired: false,
      }
    } catch (err) {
      if (!(err instanceof SyncTokenExpiredError)) throw err
      expired = true
    }
  }

  const events = new Map<string, CalendarEvent>()
  let token: string | undefined
  for await (const page of client.listEvents(calendarId, {
    timeMin: new Date(opts.window.start).toISOString(),
    timeMax: new Date(opts.window.end).toISOString(),
    singleEvents: true,
    maxResults: 250,
    signal,
  })) {
    for (const item of page.items) {
      if (!item.id || ours(item)) continue
      const e = convert(item)
      if (e.status !== 'cancelled') events.set(e.id, e)
    }
    if (page.nextSyncToken) token = page.nextSyncToken
  }
  let changes = events.size
  if (opts.mirror && opts.mirror.config === opts.config) {
    changes = 0
    for (const [id, e] of events)
      if (JSON.stringify(opts.mirror.events.get(id)) !== JSON.stringify(e)) changes++
    for (const id of opts.mirror.events.keys()) if (!events.has(id)) changes++
  }
  return {
    mirror: { config: opts.config, token: token ?? '', events, fullSyncAt: opts.now },
    mode: 'Full',
    changes,
    expired,
  }
}

function cancelledOf(id: string): CalendarEvent {
  return {
    id,
    title: '',
    start: '',
    end: '',
    allDay: false,
    status: 'cancelled',
    visibility: 'default',
    updated: '',
  }
}

/** Invitees read per event version, kept between syncs (bounded). */
export class InviteeCache {
  readonly #entries = new Map<string, { version: string; invitees: CalendlyInvitee[] }>()
  readonly #max: number

  constructor(max = 2000) {
    this.#max = max
  }

  get(uuid: string, version: string): CalendlyInvitee[] | undefined {
    const e = this.#entries.get(uuid)
    return e?.version === version ? e.invitees : undefined
  }

  set(uuid: string, version: string, invitees: CalendlyInvitee[]): void {
    this.#entries.delete(uuid)
    this.#entries.set(uuid, { version, invitees })
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
  }
}

/** Reads the Calendly bookings of the window (active and cancelled). */
export async function readCalendlySource(opts: {
  client: CalendlyClient
  organization: string
  visibility: 'public' | 'private'
  window: SyncWindow
  /** Read invitees (they become attendees of internal copies). */
  invitees: boolean
  cache: InviteeCache
  knownTypes: readonly string[]
  signal: AbortSignal
}): Promise<Map<string, CalendarEvent>> {
  const events = new Map<string, CalendarEvent>()
  for await (const page of opts.client.listScheduledEvents({
    organization: opts.organization,
    minStartTime: new Date(opts.window.start).toISOString(),
    maxStartTime: new Date(opts.window.end).toISOString(),
    count: 100,
    signal: opts.signal,
  })) {
    for (const scheduled of page.items) {
      let invitees: CalendlyInvitee[] = []
      if (opts.invitees && scheduled.status === 'active') {
        const version = scheduled.updated_at ?? scheduled.created_at ?? ''
        const cached = opts.cache.get(scheduled.uri, version)
        if (cached) invitees = cached
        else {
          for await (const p of opts.client.listInvitees(scheduled.uri, {
            status: 'active',
            signal: opts.signal,
          })) {
            invitees.push(...p.items)
          }
          opts.cache.set(scheduled.uri, version, invitees)
        }
      }
      const e = calendlyEventToCalendarEvent(scheduled, invitees, {
        visibility: opts.visibility,
        knownTypes: opts.knownTypes,
      })
      if (e.status !== 'cancelled') events.set(e.id, e)
    }
  }
  return events
}

/** The inline schedule as events. */
export function inlineEvents(list: readonly InlineCalendarEvent[]): Map<string, CalendarEvent> {
  const events = new Map<string, CalendarEvent>()
  for (const i of list) {
    const e: CalendarEvent = {
      id: i.id,
      title: i.title,
      start: i.start,
      end: i.end,
      allDay: i.start.length === 10,
      status: 'confirmed',
      visibility: i.visibility === 'private' ? 'private' : 'public',
      updated: '',
    }
    if (i.timeZone) e.timeZone = i.timeZone
    if (i.location) e.location = i.location
    if (i.description) e.description = i.description
    if (i.type) e.type = i.type
    if (i.link) e.link = i.link
    events.set(e.id, e)
  }
  return events
}

export type { CalendarAttendee }
