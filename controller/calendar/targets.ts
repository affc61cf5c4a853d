/**
 * Keeping one target calendar in step with the source.
 *
 * Each copy Switchboard writes carries private extended properties: the source event's id and
 * the owner (`<namespace>/<name>`) from the connector's `toGoogleEvent`, and a digest of the
 * body it was written with (`switchboardDigest`). Listing the target with the owner filter
 * finds every copy, and only those: events somebody else made are never read, changed or
 * deleted. The digest tells the two reasons a copy can differ from what the source says apart:
 *
 * - the digest on the copy is the digest of today's desired body, yet the fields differ:
 *   somebody edited the copy by hand (**drift**);
 * - the digest differs: the source changed since the copy was written (an ordinary update).
 *
 * `planTarget` is pure: desired bodies and the copies found in, actions out. With
 * `managementPolicy: Full` they are applied (a patch only when a field differs, never an empty
 * update); with `Observe` they are only reported.
 */
import { createHash } from 'node:crypto'
import {
  type CalendarEvent,
  changedFields,
  DuplicateEventError,
  eventIdFor,
  type GoogleCalendarClient,
  type GoogleEvent,
  ownerFilter,
  switchboardLink,
  toGoogleEvent,
} from '../../connectors/index.ts'
import type { CalendarDriftEntry, CalendarTargetSpec } from '../api/index.ts'
import type { SyncWindow } from './sources.ts'

/** Private extended property holding the digest of the body a copy was written with. */
export const DIGEST_PROPERTY = 'switchboardDigest'

/** A canonical digest of an event body (keys sorted), 22 base64url characters. */
export function bodyDigest(body: GoogleEvent): string {
  return createHash('sha256').update(canonical(body)).digest('base64url').slice(0, 22)
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * The body of the copy of `e` in a target, with its digest; undefined when the target must not
 * hold it (cancelled, or private and the target public).
 */
export function desiredBody(
  e: CalendarEvent,
  target: Pick<CalendarTargetSpec, 'visibility' | 'timeZone'>,
  owner: string,
  attendees: boolean,
): GoogleEvent | undefined {
  const body = toGoogleEvent(e, { visibility: target.visibility, sourceId: e.id, owner, attendees })
  if (!body) return undefined
  if (target.timeZone && !e.allDay) {
    body.start = { dateTime: body.start?.dateTime ?? e.start, timeZone: target.timeZone }
    body.end = { dateTime: body.end?.dateTime ?? e.end, timeZone: target.timeZone }
  }
  const props = body.extendedProperties?.private ?? {}
  const d = bodyDigest(body)
  body.extendedProperties = { ...body.extendedProperties, private: { ...props, [DIGEST_PROPERTY]: d } }
  return body
}

const digestOf = (e: GoogleEvent) => e.extendedProperties?.private?.[DIGEST_PROPERTY]

export type DriftKind = CalendarDriftEntry['kind']

export type TargetAction =
  | {
      op: 'create'
      sourceId: string
      /** The id to create it with (deterministic, so a retried insert cannot duplicate). */
      eventId: string
      body: GoogleEvent
      /** A cancelled copy to bring back instead of inserting (Google keeps deleted ids). */
      undelete?: string
      /** Set when the copy was deleted by hand. */
      drift?: DriftKind
    }
  | {
      op: 'update'
      sourceId: string
      eventId: string
      etag?: string
      body: GoogleEvent
      fields: string[]
      /** `EditedInTarget` when the copy was changed by hand; else the source changed. */
      drift?: DriftKind
    }
  | { op: 'delete'; sourceId: string; eventId: string; duplicate: boolean }

/**
 * What to do to a target: `desired` maps source ids to the bodies the target should hold;
 * `copies` are the events found with the owner filter (cancelled ones included). Copies of
 * another owner are ignored, whatever the filter returned.
 */
export function planTarget(
  desired: ReadonlyMap<string, GoogleEvent>,
  copies: readonly GoogleEvent[],
  owner: string,
): TargetAction[] {
  const bySource = new Map<string, GoogleEvent[]>()
  // deleted events may come back as id and status only: ours are known by their deterministic id
  const deletedIds = new Set<string>()
  for (const c of copies) {
    const link = switchboardLink(c)
    if (!link && c.status === 'cancelled' && c.id) deletedIds.add(c.id)
    if (!link || link.owner !== owner || !c.id) continue
    const list = bySource.get(link.sourceId) ?? []
    list.push(c)
    bySource.set(link.sourceId, list)
  }
  const actions: TargetAction[] = []
  for (const [sourceId, body] of desired) {
    const found = bySource.get(sourceId) ?? []
    const live = found.filter((c) => c.status !== 'cancelled')
    const eventId = eventIdFor(owner, sourceId)
    const primary = live.find((c) => c.id === eventId) ?? live[0]
    for (const extra of live) {
      if (extra !== primary)
        actions.push({ op: 'delete', sourceId, eventId: extra.id as string, duplicate: true })
    }
    if (primary) {
      const fields = changedFields(primary, body)
      if (fields.length === 0) continue
      const handEdited = digestOf(primary) === digestOf(body)
      const action: TargetAction = { op: 'update', sourceId, eventId: primary.id as string, body, fields }
      if (primary.etag) action.etag = primary.etag
      if (handEdited) action.drift = 'EditedInTarget'
      actions.push(action)
      continue
    }
    const cancelled = found.find((c) => c.status === 'cancelled')
    const action: TargetAction = { op: 'create', sourceId, eventId, body }
    if (cancelled?.id) {
      action.undelete = cancelled.id
      if (digestOf(cancelled) === digestOf(body)) action.drift = 'DeletedInTarget'
    } else if (deletedIds.has(eventId)) {
      action.undelete = eventId
    }
    actions.push(action)
  }
  for (const [sourceId, found] of bySource) {
    if (desired.has(sourceId)) continue
    for (const c of found) {
      if (c.status !== 'cancelled')
        actions.push({ op: 'delete', sourceId, eventId: c.id as string, duplicate: false })
    }
  }
  return actions
}

/** How an action shows in status.drift with `Observe` (nothing is written). */
export function observedDrift(a: TargetAction): DriftKind {
  if (a.op === 'create') return a.drift ?? 'Missing'
  if (a.op === 'update') return a.drift ?? 'Outdated'
  return 'Extra'
}

export interface TargetSyncResult {
  created: number
  updated: number
  deleted: number
  /** Copies in the target after the sync (in the window). */
  events: number
  drift: CalendarDriftEntry[]
  /** Hand edits and deletions restored. */
  corrected: number
}

/** Lists the copies `owner` made in the window of a target (cancelled ones included). */
export async function listCopies(
  client: GoogleCalendarClient,
  calendarId: string,
  owner: string,
  window: SyncWindow | undefined,
  signal: AbortSignal,
): Promise<GoogleEvent[]> {
  const copies: GoogleEvent[] = []
  for await (const page of client.listEvents(calendarId, {
    privateExtendedProperty: ownerFilter(owner),
    showDeleted: window !== undefined,
    singleEvents: true,
    maxResults: 250,
    signal,
    ...(window
      ? { timeMin: new Date(window.start).toISOString(), timeMax: new Date(window.end).toISOString() }
      : {}),
  })) {
    copies.push(...page.items)
  }
  return copies
}

/**
 * Brings one target in step (or, observing, only compares). Throws the first provider error;
 * `progress` has the counts of what was done before it.
 */
export async function syncTarget(opts: {
  client: GoogleCalendarClient
  target: CalendarTargetSpec
  events: ReadonlyMap<string, CalendarEvent>
  owner: string
  attendees: boolean
  window: SyncWindow
  observe: boolean
  signal: AbortSignal
  progress: TargetSyncResult
}): Promise<TargetSyncResult> {
  const { client, target, owner, signal } = opts
  const cal = target.calendarId
  const desired = new Map<string, GoogleEvent>()
  for (const e of opts.events.values()) {
    const body = desiredBody(e, target, owner, opts.attendees)
    if (body) desired.set(e.id, body)
  }
  const copies = await listCopies(client, cal, owner, opts.window, signal)
  const actions = planTarget(desired, copies, owner)
  const out = opts.progress
  const entry = (a: TargetAction, kind: DriftKind): CalendarDriftEntry => {
    const d: CalendarDriftEntry = { calendarId: cal, sourceEventId: a.sourceId, kind }
    if (a.op !== 'create') d.eventId = a.eventId
    if (a.op === 'update') d.fields = a.fields.slice(0, 16)
    return d
  }
  if (opts.observe) {
    for (const a of actions) out.drift.push(entry(a, observedDrift(a)))
    out.events = copies.filter((c) => c.status !== 'cancelled').length
    return out
  }
  out.events = desired.size
  for (const a of actions) {
    if (signal.aborted) break
    if (a.op === 'delete') {
      await client.deleteEvent(cal, a.eventId, { signal })
      out.deleted++
    } else if (a.op === 'update') {
      await client.patchEvent(cal, a.eventId, a.body, { signal, ...(a.etag ? { etag: a.etag } : {}) })
      out.updated++
      if (a.drift) {
        out.drift.push(entry(a, a.drift))
        out.corrected++
      }
    } else {
      const result = await createCopy(client, cal, a, owner, signal)
      if (result === 'updated') out.updated++
      else out.created++
      if (a.drift) {
        out.drift.push(entry(a, a.drift))
        out.corrected++
      }
    }
  }
  return out
}

/** Creates the copy, or brings back a deleted one. */
async function createCopy(
  client: GoogleCalendarClient,
  cal: string,
  a: Extract<TargetAction, { op: 'create' }>,
  owner: string,
  signal: AbortSignal,
): Promise<'created' | 'updated'> {
  if (a.undelete) {
    await client.updateEvent(cal, a.undelete, a.body, { signal })
    return 'created'
  }
  let made: GoogleEvent
  try {
    made = await client.insertEvent(cal, { ...a.body, id: a.eventId }, { signal })
  } catch (err) {
    if (!(err instanceof DuplicateEventError)) throw err
    // the id is taken: by a deleted copy of ours (bring it back), else by an unrelated event
    const existing = await client.getEvent(cal, a.eventId, { signal })
    const link = existing ? switchboardLink(existing) : undefined
    if (existing && link?.owner === owner && link.sourceId === a.sourceId) {
      await client.updateEvent(cal, a.eventId, a.body, { signal })
      return 'created'
    }
    await client.insertEvent(cal, a.body, { signal })
    return 'created'
  }
  // an insert may answer with an existing copy of ours (one outside the listed window): correct it
  if (changedFields(made, a.body).length > 0) {
    await client.patchEvent(cal, a.eventId, a.body, { signal })
    return 'updated'
  }
  return 'created'
}
