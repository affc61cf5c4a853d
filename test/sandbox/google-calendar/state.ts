/**
 * The Google Calendar sandbox's state: calendars with their events, a change sequence behind the
 * sync tokens, the token endpoint's grants (auth.ts) and push channels (push.ts). The routes
 * (plugin.ts) and the test-facing methods ("by hand" edits, as a user would make in Google's
 * UI) share it, so every change, whoever made it, moves the sync tokens and notifies channels.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { Instrumentation, RecordedRequest } from '../recording.ts'
import { GoogleAuthState, type Principal } from './auth.ts'
import { GoogleApiError } from './errors.ts'
import { PushChannels, type PushChannelsOptions } from './push.ts'

export const GOOGLE_CALENDAR_PROVIDER = 'google-calendar'
export const DEFAULT_MAX_RESULTS = 250
export const MAX_MAX_RESULTS = 2500
export const MAX_FREEBUSY_ITEMS = 50
const HAND = 'sandbox-user@example.com'

export type AccessRole = 'owner' | 'writer' | 'reader'

export interface CalendarConfig {
  id: string
  summary?: string
  timeZone?: string
  /** What every caller may do with the calendar. Default `owner`. */
  accessRole?: AccessRole
}

export interface GoogleCalendarSandboxOptions {
  /** Calendars that exist from the start (ids, or configs). */
  calendars?: (string | CalendarConfig)[]
  /** Service accounts accepted by the token endpoint: email and public key (PEM). */
  serviceAccounts?: { clientEmail: string; publicKeyPem: string }[]
  /** Lifetime of issued access tokens. Default 3600 s. */
  accessTokenTtlSeconds?: number
  /**
   * Refuse attendees on events written by a service account that does not act for a user
   * (403 `forbiddenForServiceAccounts`), as Google does. Default true.
   */
  restrictServiceAccountAttendees?: boolean
  push?: PushChannelsOptions
}

/** An event resource as the API returns it. */
export type EventResource = Record<string, unknown> & { id: string; status: string }

interface StoredEvent {
  resource: EventResource
  /** Change sequence of the last change. */
  seq: number
  startMs: number
  endMs: number
}

interface Calendar {
  config: Required<CalendarConfig>
  events: Map<string, StoredEvent>
  /** Bumped by `expireSyncTokens`: tokens of an older generation answer 410. */
  tokenGeneration: number
  resourceId: string
}

export interface ListQuery {
  maxResults?: number
  pageToken?: string
  syncToken?: string
  timeMin?: string
  timeMax?: string
  updatedMin?: string
  q?: string
  orderBy?: string
  iCalUID?: string
  showDeleted?: boolean
  singleEvents?: boolean
  privateExtendedProperty?: string[]
  sharedExtendedProperty?: string[]
}

interface PageState {
  /** full list or sync list */
  k: 'f' | 's'
  /** full: sequence when the first page was served (becomes the sync token) */
  a: number
  /** keyset cursor: [sortValue, id] for full lists, seq for sync lists */
  c: [number, string] | number
  /** fingerprint of the query the token belongs to */
  f: string
}

const WRITABLE_EXCLUDED = new Set([
  'kind',
  'etag',
  'id',
  'htmlLink',
  'created',
  'updated',
  'iCalUID',
  'creator',
  'organizer',
])
const ID_PATTERN = /^[a-v0-9]{5,1024}$/
const DATE = /^\d{4}-\d{2}-\d{2}$/

export class GoogleCalendarSandbox {
  readonly auth: GoogleAuthState
  readonly push: PushChannels
  readonly #calendars = new Map<string, Calendar>()
  readonly #requests: Instrumentation['requests']
  readonly #restrictAttendees: boolean
  /** Distinguishes this sandbox's tokens from another run's (a restart invalidates them). */
  readonly #epoch = randomBytes(4).toString('hex')
  #seq = 0

  constructor(opts: GoogleCalendarSandboxOptions, requests: Instrumentation['requests']) {
    this.#requests = requests
    this.#restrictAttendees = opts.restrictServiceAccountAttendees ?? true
    this.auth = new GoogleAuthState(opts.accessTokenTtlSeconds)
    this.push = new PushChannels(opts.push ?? {})
    for (const c of opts.calendars ?? []) this.addCalendar(c)
    for (const sa of opts.serviceAccounts ?? []) this.auth.addServiceAccount(sa.clientEmail, sa.publicKeyPem)
  }

  // --- test-facing ----------------------------------------------------------------------

  /** Creates a calendar (no-op when it exists). */
  addCalendar(config: string | CalendarConfig): void {
    const c = typeof config === 'string' ? { id: config } : config
    if (!c.id) throw new TypeError('calendar id must be non-empty')
    if (this.#calendars.has(c.id)) return
    this.#calendars.set(c.id, {
      config: {
        id: c.id,
        summary: c.summary ?? c.id,
        timeZone: c.timeZone ?? 'UTC',
        accessRole: c.accessRole ?? 'owner',
      },
      events: new Map(),
      tokenGeneration: 0,
      resourceId: randomBytes(14).toString('base64url'),
    })
  }

  hasCalendar(id: string): boolean {
    return this.#calendars.has(id)
  }

  calendarIds(): string[] {
    return [...this.#calendars.keys()]
  }

  /** Changes a calendar's access role (e.g. to `reader`, to see writes refused). */
  setAccessRole(id: string, role: AccessRole): void {
    this.#calendar(id).config.accessRole = role
  }

  /** The calendar's events (cancelled ones only with `showDeleted`), by start. */
  events(calendarId: string, opts: { showDeleted?: boolean } = {}): EventResource[] {
    const cal = this.#calendars.get(calendarId)
    if (!cal) return []
    return [...cal.events.values()]
      .filter((e) => opts.showDeleted || e.resource.status !== 'cancelled')
      .sort(byStart)
      .map((e) => structuredClone(e.resource))
  }

  /** One event (cancelled too), or undefined. */
  event(calendarId: string, eventId: string): EventResource | undefined {
    const e = this.#calendars.get(calendarId)?.events.get(eventId)
    return e ? structuredClone(e.resource) : undefined
  }

  /** Creates an event as a user would in Google's UI. */
  insertByHand(calendarId: string, body: Record<string, unknown>): EventResource {
    return this.insert(calendarId, body, { id: HAND, kind: 'test' }, '')
  }

  /** Changes an event as a user would (patch semantics). */
  patchByHand(calendarId: string, eventId: string, patch: Record<string, unknown>): EventResource {
    return this.patch(calendarId, eventId, patch, undefined, '')
  }

  /** Deletes an event as a user would. */
  deleteByHand(calendarId: string, eventId: string): void {
    this.delete(calendarId, eventId, undefined)
  }

  /** Makes every sync token of the calendar (all calendars when omitted) answer 410. */
  expireSyncTokens(calendarId?: string): void {
    const cals = calendarId === undefined ? [...this.#calendars.values()] : [this.#calendar(calendarId)]
    for (const c of cals) c.tokenGeneration++
  }

  /** Requests that reached the plugin (any status, faults included), oldest first. */
  get requests(): RecordedRequest[] {
    return this.#requests.list(GOOGLE_CALENDAR_PROVIDER)
  }

  /** Forgets events, channels and notifications; keeps calendars, accounts and tokens. */
  reset(): void {
    for (const c of this.#calendars.values()) {
      c.events.clear()
      c.tokenGeneration++
    }
    this.push.reset()
  }

  // --- API --------------------------------------------------------------------------------

  /** The calendar or a 404 in Google's words. */
  #calendar(id: string): Calendar {
    const cal = this.#calendars.get(id)
    if (!cal) throw new GoogleApiError(404, 'notFound', 'Not Found')
    return cal
  }

  /** Checks the caller may read (and write) the calendar. */
  access(calendarId: string, write: boolean): Calendar {
    const cal = this.#calendar(calendarId)
    if (write && cal.config.accessRole === 'reader') {
      throw new GoogleApiError(403, 'requiredAccessLevel', 'You need to have writer access to this calendar.')
    }
    return cal
  }

  list(calendarId: string, query: ListQuery) {
    const cal = this.access(calendarId, false)
    const sync = query.syncToken !== undefined
    if (sync) {
      const conflicting: string[] = (
        ['timeMin', 'timeMax', 'updatedMin', 'q', 'orderBy', 'iCalUID'] as const
      ).filter((k) => query[k] !== undefined)
      if (query.privateExtendedProperty?.length) conflicting.push('privateExtendedProperty')
      if (query.sharedExtendedProperty?.length) conflicting.push('sharedExtendedProperty')
      if (conflicting.length > 0) {
        throw new GoogleApiError(
          400,
          'invalid',
          `Sync token cannot be used with the following parameters: ${conflicting.join(', ')}`,
        )
      }
    }
    if (query.orderBy !== undefined && query.orderBy !== 'startTime' && query.orderBy !== 'updated') {
      throw new GoogleApiError(400, 'invalid', 'Invalid value for orderBy')
    }
    if (query.orderBy === 'startTime' && !query.singleEvents) {
      throw new GoogleApiError(
        400,
        'badRequest',
        'The requested ordering is not available for the particular query.',
      )
    }
    let max = query.maxResults ?? DEFAULT_MAX_RESULTS
    if (!Number.isInteger(max) || max < 1)
      throw new GoogleApiError(400, 'invalid', 'Invalid value for maxResults')
    max = Math.min(max, MAX_MAX_RESULTS)
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([calendarId, { ...query, pageToken: undefined, maxResults: undefined }]))
      .digest('base64url')
      .slice(0, 16)
    const timeMin = parseInstant(query.timeMin, 'timeMin')
    const timeMax = parseInstant(query.timeMax, 'timeMax')
    const updatedMin = parseInstant(query.updatedMin, 'updatedMin')

    let page: PageState | undefined
    if (query.pageToken !== undefined) {
      page = this.#decode<PageState>(query.pageToken)
      if (!page || page.f !== fingerprint || (page.k === 's') !== sync) {
        throw new GoogleApiError(400, 'invalid', 'Invalid page token value.')
      }
    }

    const base = {
      kind: 'calendar#events',
      etag: `"${this.#seq}"`,
      summary: cal.config.summary,
      updated: new Date().toISOString(),
      timeZone: cal.config.timeZone,
      accessRole: cal.config.accessRole,
      defaultReminders: [],
    }

    if (sync) {
      const since = this.#readSyncToken(cal, calendarId, query.syncToken as string)
      const after = page ? (page.c as number) : since
      const changed = [...cal.events.values()].filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq)
      const slice = changed.slice(0, max)
      const items = slice.map((e) => this.#listItem(e.resource))
      const last = slice.at(-1)
      if (changed.length > max && last) {
        return { ...base, items, nextPageToken: this.#encode({ k: 's', a: 0, c: last.seq, f: fingerprint }) }
      }
      return { ...base, items, nextSyncToken: this.#syncToken(cal, calendarId, this.#seq) }
    }

    const asOf = page ? page.a : this.#seq
    const filters = parseFilters(query.privateExtendedProperty)
    const shared = parseFilters(query.sharedExtendedProperty)
    const needle = query.q?.toLowerCase()
    const sortKey = (e: StoredEvent): number =>
      query.orderBy === 'updated' ? Date.parse(String(e.resource.updated)) : e.startMs
    const matching = [...cal.events.values()]
      .filter((e) => {
        const r = e.resource
        if (r.status === 'cancelled') {
          const recentlyDeleted = updatedMin !== undefined && Date.parse(String(r.updated)) >= updatedMin
          if (!query.showDeleted && !recentlyDeleted) return false
        }
        if (timeMin !== undefined && e.endMs <= timeMin) return false
        if (timeMax !== undefined && e.startMs >= timeMax) return false
        if (updatedMin !== undefined && Date.parse(String(r.updated)) < updatedMin) return false
        if (query.iCalUID !== undefined && r.iCalUID !== query.iCalUID) return false
        if (!matchesProps(r, 'private', filters) || !matchesProps(r, 'shared', shared)) return false
        if (needle) {
          const text = [r.summary, r.description, r.location].filter((v) => typeof v === 'string').join(' ')
          if (!text.toLowerCase().includes(needle)) return false
        }
        return true
      })
      .map((e) => ({ e, key: [sortKey(e), e.resource.id] as [number, string] }))
      .sort((a, b) => compareKeys(a.key, b.key))
    const cursor = page?.c as [number, string] | undefined
    const rest = cursor ? matching.filter((m) => compareKeys(m.key, cursor) > 0) : matching
    const slice = rest.slice(0, max)
    const items = slice.map((m) => this.#listItem(m.e.resource))
    const last = slice.at(-1)
    if (rest.length > max && last) {
      return { ...base, items, nextPageToken: this.#encode({ k: 'f', a: asOf, c: last.key, f: fingerprint }) }
    }
    return { ...base, items, nextSyncToken: this.#syncToken(cal, calendarId, asOf) }
  }

  get(calendarId: string, eventId: string): EventResource {
    const cal = this.access(calendarId, false)
    const e = cal.events.get(eventId)
    if (!e) throw new GoogleApiError(404, 'notFound', 'Not Found')
    return structuredClone(e.resource)
  }

  insert(
    calendarId: string,
    body: Record<string, unknown>,
    principal: Principal,
    baseUrl: string,
  ): EventResource {
    const cal = this.access(calendarId, true)
    const id = body.id === undefined ? randomId() : body.id
    if (typeof id !== 'string' || !ID_PATTERN.test(id))
      throw new GoogleApiError(400, 'invalid', 'Invalid resource id value.')
    if (cal.events.has(id))
      throw new GoogleApiError(409, 'duplicate', 'The requested identifier already exists.')
    this.#checkAttendees(body, principal)
    const now = new Date().toISOString()
    const writable = pickWritable(body)
    const resource: EventResource = {
      kind: 'calendar#event',
      etag: '',
      id,
      status: 'confirmed',
      htmlLink: `${baseUrl || 'https://www.google.com'}/calendar/event?eid=${Buffer.from(`${id} ${calendarId}`).toString('base64url')}`,
      created: now,
      updated: now,
      creator: { email: principal.subject ?? principal.id },
      organizer: { email: calendarId, displayName: cal.config.summary, self: true },
      iCalUID: `${id}@google.com`,
      sequence: 0,
      reminders: { useDefault: true },
      eventType: 'default',
      ...writable,
    }
    this.#store(cal, calendarId, normaliseAttendees(resource))
    return structuredClone(resource)
  }

  patch(
    calendarId: string,
    eventId: string,
    patch: Record<string, unknown>,
    ifMatch: string | undefined,
    _baseUrl: string,
    principal?: Principal,
  ): EventResource {
    const cal = this.access(calendarId, true)
    const e = cal.events.get(eventId)
    if (!e) throw new GoogleApiError(404, 'notFound', 'Not Found')
    checkEtag(e.resource, ifMatch)
    if (principal) this.#checkAttendees(patch, principal)
    const merged = deepMerge(structuredClone(e.resource), pickWritable(patch)) as EventResource
    merged.updated = new Date().toISOString()
    this.#store(cal, calendarId, normaliseAttendees(merged))
    return structuredClone(merged)
  }

  update(
    calendarId: string,
    eventId: string,
    body: Record<string, unknown>,
    ifMatch: string | undefined,
    principal: Principal,
  ): EventResource {
    const cal = this.access(calendarId, true)
    const e = cal.events.get(eventId)
    if (!e) throw new GoogleApiError(404, 'notFound', 'Not Found')
    checkEtag(e.resource, ifMatch)
    this.#checkAttendees(body, principal)
    const kept: Record<string, unknown> = {}
    for (const k of WRITABLE_EXCLUDED) if (k in e.resource) kept[k] = e.resource[k]
    const next = {
      ...kept,
      status: 'confirmed',
      reminders: { useDefault: true },
      eventType: 'default',
      ...pickWritable(body),
      updated: new Date().toISOString(),
    } as unknown as EventResource
    this.#store(cal, calendarId, normaliseAttendees(next))
    return structuredClone(next)
  }

  delete(calendarId: string, eventId: string, ifMatch: string | undefined): void {
    const cal = this.access(calendarId, true)
    const e = cal.events.get(eventId)
    if (!e) throw new GoogleApiError(404, 'notFound', 'Not Found')
    if (e.resource.status === 'cancelled')
      throw new GoogleApiError(410, 'deleted', 'Resource has been deleted')
    checkEtag(e.resource, ifMatch)
    const next = { ...e.resource, status: 'cancelled', updated: new Date().toISOString() }
    this.#store(cal, calendarId, next)
  }

  freeBusy(body: Record<string, unknown>) {
    const timeMin = parseInstant(typeof body.timeMin === 'string' ? body.timeMin : undefined, 'timeMin')
    const timeMax = parseInstant(typeof body.timeMax === 'string' ? body.timeMax : undefined, 'timeMax')
    if (timeMin === undefined) throw new GoogleApiError(400, 'required', 'Missing timeMin parameter.')
    if (timeMax === undefined) throw new GoogleApiError(400, 'required', 'Missing timeMax parameter.')
    if (timeMax <= timeMin)
      throw new GoogleApiError(400, 'timeRangeEmpty', 'The specified time range is empty.')
    const items = Array.isArray(body.items) ? body.items : []
    if (items.length > MAX_FREEBUSY_ITEMS) {
      throw new GoogleApiError(400, 'tooManyCalendarsRequested', 'Too many calendars requested.', 'calendar')
    }
    const calendars: Record<string, unknown> = {}
    for (const item of items) {
      const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined
      if (typeof id !== 'string') throw new GoogleApiError(400, 'required', 'Missing calendar id.')
      const cal = this.#calendars.get(id)
      if (!cal) {
        calendars[id] = { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] }
        continue
      }
      const blocks = [...cal.events.values()]
        .filter(
          (e) =>
            e.resource.status !== 'cancelled' &&
            e.resource.transparency !== 'transparent' &&
            e.startMs < timeMax &&
            e.endMs > timeMin,
        )
        .map((e) => [Math.max(e.startMs, timeMin), Math.min(e.endMs, timeMax)] as [number, number])
        .sort((a, b) => a[0] - b[0])
      const merged: [number, number][] = []
      for (const b of blocks) {
        const last = merged.at(-1)
        if (last && b[0] <= last[1]) last[1] = Math.max(last[1], b[1])
        else merged.push([b[0], b[1]])
      }
      calendars[id] = { busy: merged.map(([s, e]) => ({ start: rfc3339(s), end: rfc3339(e) })) }
    }
    return { kind: 'calendar#freeBusy', timeMin: rfc3339(timeMin), timeMax: rfc3339(timeMax), calendars }
  }

  /** The calendar's push resource id and URI (for `events.watch`). */
  resourceOf(calendarId: string, baseUrl: string): { resourceId: string; resourceUri: string } {
    const cal = this.access(calendarId, false)
    return {
      resourceId: cal.resourceId,
      resourceUri: `${baseUrl}/calendar/v3/calendars/${encodeURIComponent(calendarId)}/events?alt=json`,
    }
  }

  // --- internals ----------------------------------------------------------------------------

  #checkAttendees(body: Record<string, unknown>, principal: Principal): void {
    if (!this.#restrictAttendees || principal.kind !== 'serviceAccount' || principal.subject) return
    if (Array.isArray(body.attendees) && body.attendees.length > 0) {
      throw new GoogleApiError(
        403,
        'forbiddenForServiceAccounts',
        'Service accounts cannot invite attendees without Domain-Wide Delegation of Authority.',
        'calendar',
      )
    }
  }

  #store(cal: Calendar, calendarId: string, resource: EventResource): void {
    const times = validateTimes(resource)
    const seq = ++this.#seq
    resource.etag = `"${this.#epoch}${String(seq).padStart(10, '0')}"`
    const previous = cal.events.get(resource.id)
    if (previous && resource.status !== 'cancelled')
      resource.sequence = Number(previous.resource.sequence ?? 0) + 1
    cal.events.set(resource.id, { resource, seq, ...times })
    this.push.changed(calendarId, 'exists')
  }

  #listItem(r: EventResource): EventResource {
    if (r.status !== 'cancelled') return structuredClone(r)
    // a deleted event: only what Google guarantees for one
    return { kind: r.kind, etag: r.etag, id: r.id, status: 'cancelled', updated: r.updated } as EventResource
  }

  #syncToken(cal: Calendar, calendarId: string, seq: number): string {
    return `C${this.#encode({ e: this.#epoch, c: calendarId, g: cal.tokenGeneration, q: seq })}`
  }

  #readSyncToken(cal: Calendar, calendarId: string, token: string): number {
    const t = token.startsWith('C')
      ? this.#decode<{ e: string; c: string; g: number; q: number }>(token.slice(1))
      : undefined
    if (!t || typeof t.q !== 'number' || t.c !== calendarId) {
      throw new GoogleApiError(400, 'invalid', 'Invalid sync token value.')
    }
    if (t.e !== this.#epoch || t.g !== cal.tokenGeneration) {
      throw new GoogleApiError(
        410,
        'fullSyncRequired',
        'Sync token is no longer valid, a full sync is required.',
        'calendar',
      )
    }
    return t.q
  }

  #encode(value: unknown): string {
    return Buffer.from(JSON.stringify(value)).toString('base64url')
  }

  #decode<T>(token: string): T | undefined {
    try {
      const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
      return typeof v === 'object' && v !== null ? (v as T) : undefined
    } catch {
      return undefined
    }
  }
}

function byStart(a: StoredEvent, b: StoredEvent): number {
  return a.startMs - b.startMs || (a.resource.id < b.resource.id ? -1 : a.resource.id > b.resource.id ? 1 : 0)
}

function compareKeys(a: [number, string], b: [number, string]): number {
  if (a[0] !== b[0]) return a[0] - b[0]
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0
}

function randomId(): string {
  // base32hex, as Google's own ids
  return randomUUID().replaceAll('-', '').replace(/[w-z]/g, 'v')
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function parseInstant(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const t = Date.parse(value)
  // Google wants an offset: a bare local time is refused
  if (Number.isNaN(t) || !/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
    throw new GoogleApiError(400, 'badRequest', `Bad Request: invalid ${name}`)
  }
  return t
}

function parseFilters(values: string[] | undefined): [string, string][] {
  return (values ?? []).map((v) => {
    const eq = v.indexOf('=')
    if (eq <= 0) throw new GoogleApiError(400, 'invalid', 'Invalid extended property filter.')
    return [v.slice(0, eq), v.slice(eq + 1)]
  })
}

function matchesProps(r: EventResource, scope: 'private' | 'shared', filters: [string, string][]): boolean {
  if (filters.length === 0) return true
  const props = (
    r.extendedProperties as { private?: Record<string, string>; shared?: Record<string, string> } | undefined
  )?.[scope]
  return filters.every(([k, v]) => props?.[k] === v)
}

function checkEtag(r: EventResource, ifMatch: string | undefined): void {
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== r.etag) {
    throw new GoogleApiError(412, 'conditionNotMet', 'Precondition Failed')
  }
}

function pickWritable(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(body)) if (!WRITABLE_EXCLUDED.has(k)) out[k] = v
  return out
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Patch semantics: objects merge, arrays and scalars replace, null removes. */
function deepMerge(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k]
    else if (isPlainObject(v) && isPlainObject(target[k])) deepMerge(target[k] as Record<string, unknown>, v)
    else target[k] = structuredClone(v)
  }
  return target
}

function normaliseAttendees(r: EventResource): EventResource {
  if (Array.isArray(r.attendees)) {
    r.attendees = r.attendees.map((a) =>
      isPlainObject(a)
        ? { responseStatus: 'needsAction', ...a, email: String(a.email ?? '').toLowerCase() }
        : a,
    )
  }
  return r
}

const STATUSES = new Set(['confirmed', 'tentative', 'cancelled'])
const VISIBILITIES = new Set(['default', 'public', 'private', 'confidential'])

/** Checks the resource's fields as Google does on a write; resolves the start and end instants. */
function validateTimes(r: EventResource): { startMs: number; endMs: number } {
  if (!STATUSES.has(r.status)) throw new GoogleApiError(400, 'invalid', 'Invalid value for: status')
  if (r.visibility !== undefined && !VISIBILITIES.has(String(r.visibility))) {
    throw new GoogleApiError(400, 'invalid', 'Invalid value for: visibility')
  }
  if (r.transparency !== undefined && r.transparency !== 'opaque' && r.transparency !== 'transparent') {
    throw new GoogleApiError(400, 'invalid', 'Invalid value for: transparency')
  }
  const props = r.extendedProperties
  if (props !== undefined) {
    if (!isPlainObject(props)) throw new GoogleApiError(400, 'invalid', 'Invalid extended properties.')
    for (const scope of ['private', 'shared']) {
      const p = props[scope]
      if (p === undefined) continue
      if (!isPlainObject(p)) throw new GoogleApiError(400, 'invalid', 'Invalid extended properties.')
      for (const [k, v] of Object.entries(p)) {
        if (typeof v !== 'string' || k.length > 44 || v.length > 1024) {
          throw new GoogleApiError(400, 'invalid', 'Invalid extended property value.')
        }
      }
    }
  }
  const start = r.start as { date?: unknown; dateTime?: unknown } | undefined
  const end = r.end as { date?: unknown; dateTime?: unknown } | undefined
  if (!isPlainObject(start) || (start.date === undefined && start.dateTime === undefined)) {
    throw new GoogleApiError(400, 'required', 'Missing start time.')
  }
  if (!isPlainObject(end) || (end.date === undefined && end.dateTime === undefined)) {
    throw new GoogleApiError(400, 'required', 'Missing end time.')
  }
  const instant = (t: { date?: unknown; dateTime?: unknown }, which: string): [number, boolean] => {
    if (t.date !== undefined && t.date !== null) {
      if (
        typeof t.date !== 'string' ||
        !DATE.test(t.date) ||
        Number.isNaN(Date.parse(`${t.date}T00:00:00Z`))
      ) {
        throw new GoogleApiError(400, 'invalid', `Invalid ${which} time.`)
      }
      return [Date.parse(`${t.date}T00:00:00Z`), true]
    }
    const v = typeof t.dateTime === 'string' ? t.dateTime : ''
    const ms = Date.parse(v)
    if (Number.isNaN(ms) || !/T\d{2}:\d{2}/.test(v))
      throw new GoogleApiError(400, 'invalid', `Invalid ${which} time.`)
    return [ms, false]
  }
  const [startMs, startAllDay] = instant(start, 'start')
  const [endMs, endAllDay] = instant(end, 'end')
  if (startAllDay !== endAllDay)
    throw new GoogleApiError(
      400,
      'invalid',
      'Start and end times must either both be date or both be dateTime.',
    )
  if (endMs < startMs || (startAllDay && endMs === startMs)) {
    throw new GoogleApiError(400, 'timeRangeEmpty', 'The specified time range is empty.', 'calendar')
  }
  return { startMs, endMs }
}
