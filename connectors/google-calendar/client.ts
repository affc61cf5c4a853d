/**
 * The typed Google Calendar client Switchboard uses: the official `@googleapis/calendar` client
 * (pointed at another host with `rootUrl`, the token endpoint with `tokenUrl`), wrapped so that
 * every call
 *
 * - goes through the account's request budget, and is counted and logged per request (see
 *   transport.ts);
 * - is retried only by the shared engine of connectors/http (gaxios retries are off): the SDK
 *   call is the attempt, `classify` below reads its failure. Idempotent calls up to `retry.limit` times on
 *   408, 429, 403 rate limits, 5xx, network errors and timeouts, waiting `Retry-After` when
 *   given (longer than `retry.maxRetryAfterMs`: a `WaitingError` at once), else an exponential
 *   backoff with jitter. Inserts are retried only when they carry their own event id (a repeat
 *   then answers 409, resolved by reading the event);
 * - repeats once with a fresh access token after a 401;
 * - fails with a registry error (see errors.ts).
 */
import { type calendar_v3, calendar as createCalendarApi } from '@googleapis/calendar'
import type { Registry } from 'prom-client'
import { Reason, TransientError } from '../errors.ts'
import {
  accountKeyFor,
  type BudgetRegistry,
  createProviderEngine,
  DEFAULT_TIMEOUT_MS,
  defaultBudgets,
  type Failure,
  type RequestBudget,
  type RetryPolicy,
} from '../http/index.ts'
import type { Logger } from '../log.ts'
import { credentialValues, GOOGLE_TOKEN_URL, type GoogleCredentials } from './credentials.ts'
import {
  CalendarNotFoundError,
  DuplicateEventError,
  describeFailure,
  EventNotFoundError,
  GOOGLE_CALENDAR_PROVIDER,
  isRateLimit,
  isRetryable,
  type MapContext,
  toGoogleError,
} from './errors.ts'
import { type GoogleEvent, OWNER_PROPERTY, ownerFilter, SOURCE_PROPERTY } from './events.ts'
import {
  type AuthClient,
  CALENDAR_SCOPE,
  createAuthClient,
  forgetToken,
  instrumentedFetch,
} from './transport.ts'

export const GOOGLE_ROOT_URL = 'https://www.googleapis.com/'
/** `events.list` page size bounds (Google's). */
export const DEFAULT_PAGE_SIZE = 250
export const MAX_PAGE_SIZE = 2500
/** Calendars one `freeBusy` query may name. */
export const MAX_FREEBUSY_CALENDARS = 50
/** Budget for one Google account unless the registry sets another (Calendar allows ~10/s per user). */
export const GOOGLE_CALENDAR_BUDGET = Object.freeze({ ratePerSecond: 5, burst: 10 })

export interface GoogleCalendarClientOptions {
  credentials: GoogleCredentials
  /** API host (only scheme, host and port count). Default `https://www.googleapis.com/`. */
  rootUrl?: string
  /**
   * Where token requests go. Default: the service account key's `token_uri` when it names
   * another host, else `https://oauth2.googleapis.com/token`.
   */
  tokenUrl?: string
  /** Default `[calendar]` (read and write); `calendar.readonly` for observe-only use. */
  scopes?: readonly string[]
  /** One line per attempt. Default: silent. */
  logger?: Logger
  /** Registry for `switchboard_provider_*` metrics. Default: none recorded. */
  metrics?: Registry
  /** The account's request budget. Default: from `budgets`, keyed by the account. */
  budget?: RequestBudget
  /**
   * Registry the account's budget comes from when `budget` is not given (the account is the
   * service account and the user it acts for, or the OAuth client and refresh token).
   * Default the process-wide one; limits `GOOGLE_CALENDAR_BUDGET` unless the registry sets others.
   */
  budgets?: BudgetRegistry
  /** Timeout of one attempt (ms). Default 10000. */
  timeoutMs?: number
  /** Same vocabulary and defaults as the shared HTTP layer (`limit` 3, base 300 ms, ...). */
  retry?: RetryPolicy
  /** Aborts every call of this client. */
  signal?: AbortSignal
}

export interface ListEventsOptions {
  /** Incremental: only changes since the token (cancelled events included). */
  syncToken?: string
  /** Lower bound (exclusive) on an event's end, RFC 3339. Not with `syncToken`. */
  timeMin?: string
  /** Upper bound (exclusive) on an event's start, RFC 3339. Not with `syncToken`. */
  timeMax?: string
  /** Resume at a page (from an earlier `nextPageToken`). */
  pageToken?: string
  /** Page size, 1..2500. Default 250. */
  maxResults?: number
  /** Include cancelled events in a full list (always included with `syncToken`). */
  showDeleted?: boolean
  /** Expand recurring events into instances. */
  singleEvents?: boolean
  /** `key=value` filters on private extended properties (all must match). Not with `syncToken`. */
  privateExtendedProperty?: readonly string[]
  signal?: AbortSignal
}

export interface EventsPage {
  items: GoogleEvent[]
  /** Present when another page follows. */
  nextPageToken?: string
  /** Present on the last page only: save it for the next incremental list. */
  nextSyncToken?: string
  /** The calendar's time zone. */
  timeZone?: string
}

export interface WriteOptions {
  /** Only if the event still has this etag (else `ConditionNotMetError`). */
  etag?: string
  signal?: AbortSignal
}

export interface InsertOptions {
  signal?: AbortSignal
}

export interface FreeBusyQuery {
  timeMin: string
  timeMax: string
  timeZone?: string
  /** Calendar ids (at most 50). */
  items: readonly (string | { id: string })[]
  signal?: AbortSignal
}

export interface BusyInterval {
  start: string
  end: string
}

export interface FreeBusyResult {
  timeMin: string
  timeMax: string
  calendars: Record<string, { busy: BusyInterval[]; errors?: { domain: string; reason: string }[] }>
}

export interface WatchRequest {
  /** Channel id: unique, at most 64 characters of `[A-Za-z0-9-_+/=]`. */
  id: string
  /** HTTPS URL notifications are POSTed to. */
  address: string
  /** Sent back as `X-Goog-Channel-Token`. */
  token?: string
  /** When the channel should end (Google may end it sooner). */
  expiration?: Date | number
  signal?: AbortSignal
}

export interface WatchResult {
  id: string
  resourceId: string
  resourceUri?: string
  /** Epoch ms at which Google ends the channel. */
  expiration: number
}

export interface OwnedEventsOptions {
  /** `<namespace>/<name>` of the CalendarSync. */
  owner: string
  /** Only the copy of this source event. */
  sourceId?: string
  showDeleted?: boolean
  maxResults?: number
  signal?: AbortSignal
}

export interface GoogleCalendarClient {
  readonly provider: typeof GOOGLE_CALENDAR_PROVIDER
  /** Pages of a calendar's events; the last one carries `nextSyncToken`. */
  listEvents(calendarId: string, opts?: ListEventsOptions): AsyncGenerator<EventsPage, void, undefined>
  /** The events `owner` made in a calendar (the `privateExtendedProperty` filter). */
  listOwnedEvents(calendarId: string, opts: OwnedEventsOptions): AsyncGenerator<EventsPage, void, undefined>
  /** The event, or undefined when it does not exist. Deleted events come back `cancelled`. */
  getEvent(
    calendarId: string,
    eventId: string,
    opts?: { signal?: AbortSignal },
  ): Promise<GoogleEvent | undefined>
  /**
   * Creates an event. With `event.id` (see `eventIdFor`) a lost answer is retried safely: a 409
   * for an event this owner already made with that source resolves to that event.
   */
  insertEvent(calendarId: string, event: GoogleEvent, opts?: InsertOptions): Promise<GoogleEvent>
  /** Changes the fields given (nested objects merge, arrays replace). */
  patchEvent(
    calendarId: string,
    eventId: string,
    patch: GoogleEvent,
    opts?: WriteOptions,
  ): Promise<GoogleEvent>
  /** Replaces the event. */
  updateEvent(
    calendarId: string,
    eventId: string,
    event: GoogleEvent,
    opts?: WriteOptions,
  ): Promise<GoogleEvent>
  /** Deletes the event; `absent` when it was already deleted (410) or never existed (404). */
  deleteEvent(calendarId: string, eventId: string, opts?: WriteOptions): Promise<'deleted' | 'absent'>
  /** Busy intervals of up to 50 calendars. */
  freeBusy(query: FreeBusyQuery): Promise<FreeBusyResult>
  /** Opens a push channel on a calendar's events. */
  watch(calendarId: string, channel: WatchRequest): Promise<WatchResult>
  /** Closes a push channel; resolves also when it had already ended. */
  stopChannel(channel: { id: string; resourceId: string }, opts?: { signal?: AbortSignal }): Promise<void>
  /**
   * Health: obtains an access token, then reads one event of each calendar named (which proves
   * the calendar exists and is shared).
   */
  checkAccess(calendarIds?: readonly string[], opts?: { signal?: AbortSignal }): Promise<void>
  /** The auth client (for tests and diagnostics; holds the credentials: never log it). */
  readonly authClient: AuthClient
}

interface CallInfo {
  operation: string
  idempotent: boolean
  calendarId?: string
  eventId?: string
  notFound: 'calendar' | 'event'
  signal?: AbortSignal | undefined
}

/** Builds a client for one Google account. */
export function createGoogleCalendarClient(options: GoogleCalendarClientOptions): GoogleCalendarClient {
  const { credentials } = options
  const rootUrl = options.rootUrl ?? GOOGLE_ROOT_URL
  const budget =
    options.budget ??
    (options.budgets ?? defaultBudgets).get(
      GOOGLE_CALENDAR_PROVIDER,
      accountKeyFor(rootUrl, ...accountIdentity(credentials)),
      GOOGLE_CALENDAR_BUDGET,
    )
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const tokenUrl = resolveTokenUrl(options.tokenUrl, credentials)
  const tokenUrls = [tokenUrl, GOOGLE_TOKEN_URL]
  const secrets = () => credentialValues(credentials)
  const engine = createProviderEngine({
    provider: GOOGLE_CALENDAR_PROVIDER,
    logger: options.logger,
    metrics: options.metrics,
    budget,
    retry: options.retry,
    secrets,
    signal: options.signal,
  })
  const authClient = createAuthClient({
    credentials,
    scopes: options.scopes ?? [CALENDAR_SCOPE],
    tokenUrl,
    fetch: instrumentedFetch(engine, tokenUrl),
  })
  const api = createCalendarApi({
    version: 'v3',
    rootUrl,
    auth: authClient,
    retry: false,
    timeout: timeoutMs,
  })

  /** One call of the SDK, run (and retried) by the shared engine. */
  function run<T>(info: CallInfo, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const where = `${GOOGLE_CALENDAR_PROVIDER} ${info.operation}`
    return engine.run({
      operation: info.operation,
      where,
      retry: info.idempotent,
      signal: info.signal,
      attempt: ({ signal }) => fn(signal),
      classify: (err, { attempts, nextBackoffMs }): Failure => {
        const failure = describeFailure(err, tokenUrls)
        const ctx: MapContext = {
          where,
          notFound: info.notFound,
          attempts,
          backoffMs: nextBackoffMs,
          secrets: secrets(),
          userGrant: credentials.kind === 'oauth',
        }
        if (info.calendarId !== undefined) ctx.calendarId = info.calendarId
        if (info.eventId !== undefined) ctx.eventId = info.eventId
        return {
          error: toGoogleError(failure, ctx),
          retryable: isRetryable(failure),
          retryAfterMs: failure.retryAfterMs,
          pauseBudgetMs: isRateLimit(failure) ? failure.retryAfterMs : undefined,
          // the cached token may have been revoked: one more try with a fresh one
          unauthorized: failure.status === 401 && !failure.token,
        }
      },
      onUnauthorized: () => forgetToken(authClient, credentials),
    })
  }

  async function* listEvents(
    calendarId: string,
    opts: ListEventsOptions = {},
  ): AsyncGenerator<EventsPage, void, undefined> {
    const filters = opts.privateExtendedProperty ?? []
    if (opts.syncToken && (opts.timeMin || opts.timeMax || filters.length > 0)) {
      throw new TypeError(
        'listEvents: syncToken cannot be combined with timeMin, timeMax or property filters',
      )
    }
    const maxResults = opts.maxResults ?? DEFAULT_PAGE_SIZE
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > MAX_PAGE_SIZE) {
      throw new RangeError(`listEvents: maxResults must be an integer 1..${MAX_PAGE_SIZE}`)
    }
    let pageToken = opts.pageToken
    for (;;) {
      const params: calendar_v3.Params$Resource$Events$List = { calendarId, maxResults }
      if (opts.syncToken) params.syncToken = opts.syncToken
      if (opts.timeMin) params.timeMin = opts.timeMin
      if (opts.timeMax) params.timeMax = opts.timeMax
      if (opts.showDeleted) params.showDeleted = true
      if (opts.singleEvents) params.singleEvents = true
      if (filters.length > 0) params.privateExtendedProperty = [...filters]
      if (pageToken) params.pageToken = pageToken
      const res = await run(
        { operation: 'events.list', idempotent: true, calendarId, notFound: 'calendar', signal: opts.signal },
        (signal) => api.events.list(params, { signal }),
      )
      const data = res.data
      if (typeof data !== 'object' || data === null || (data.items != null && !Array.isArray(data.items))) {
        throw malformed('events.list')
      }
      const page: EventsPage = { items: data.items ?? [] }
      if (data.nextPageToken) page.nextPageToken = data.nextPageToken
      if (data.nextSyncToken) page.nextSyncToken = data.nextSyncToken
      if (data.timeZone) page.timeZone = data.timeZone
      yield page
      if (!data.nextPageToken) return
      pageToken = data.nextPageToken
    }
  }

  async function getEvent(calendarId: string, eventId: string, opts: { signal?: AbortSignal } = {}) {
    try {
      const res = await run(
        {
          operation: 'events.get',
          idempotent: true,
          calendarId,
          eventId,
          notFound: 'event',
          signal: opts.signal,
        },
        (signal) => api.events.get({ calendarId, eventId }, { signal }),
      )
      return res.data
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  async function insertEvent(calendarId: string, event: GoogleEvent, opts: InsertOptions = {}) {
    const eventId = event.id ?? undefined
    try {
      const res = await run(
        {
          operation: 'events.insert',
          idempotent: eventId !== undefined,
          calendarId,
          notFound: 'calendar',
          signal: opts.signal,
          ...(eventId !== undefined ? { eventId } : {}),
        },
        (signal) => api.events.insert({ calendarId, sendUpdates: 'none', requestBody: event }, { signal }),
      )
      return res.data
    } catch (err) {
      if (!(err instanceof DuplicateEventError) || eventId === undefined) throw err
      // an earlier attempt may have created it: it is ours when it links to the same source
      const existing = await getEvent(calendarId, eventId, opts)
      const want = event.extendedProperties?.private ?? {}
      const have = existing?.extendedProperties?.private ?? {}
      if (
        existing &&
        existing.status !== 'cancelled' &&
        want[SOURCE_PROPERTY] !== undefined &&
        have[SOURCE_PROPERTY] === want[SOURCE_PROPERTY] &&
        have[OWNER_PROPERTY] === want[OWNER_PROPERTY]
      ) {
        return existing
      }
      throw err
    }
  }

  function writeHeaders(opts: WriteOptions): { headers?: Record<string, string> } {
    return opts.etag ? { headers: { 'If-Match': opts.etag } } : {}
  }

  async function patchEvent(
    calendarId: string,
    eventId: string,
    patch: GoogleEvent,
    opts: WriteOptions = {},
  ) {
    const res = await run(
      {
        operation: 'events.patch',
        idempotent: true,
        calendarId,
        eventId,
        notFound: 'event',
        signal: opts.signal,
      },
      (signal) =>
        api.events.patch(
          { calendarId, eventId, sendUpdates: 'none', requestBody: patch },
          { signal, ...writeHeaders(opts) },
        ),
    )
    return res.data
  }

  async function updateEvent(
    calendarId: string,
    eventId: string,
    event: GoogleEvent,
    opts: WriteOptions = {},
  ) {
    const res = await run(
      {
        operation: 'events.update',
        idempotent: true,
        calendarId,
        eventId,
        notFound: 'event',
        signal: opts.signal,
      },
      (signal) =>
        api.events.update(
          { calendarId, eventId, sendUpdates: 'none', requestBody: event },
          { signal, ...writeHeaders(opts) },
        ),
    )
    return res.data
  }

  async function deleteEvent(calendarId: string, eventId: string, opts: WriteOptions = {}) {
    try {
      await run(
        {
          operation: 'events.delete',
          idempotent: true,
          calendarId,
          eventId,
          notFound: 'event',
          signal: opts.signal,
        },
        (signal) =>
          api.events.delete({ calendarId, eventId, sendUpdates: 'none' }, { signal, ...writeHeaders(opts) }),
      )
      return 'deleted' as const
    } catch (err) {
      if (isNotFound(err)) return 'absent' as const
      throw err
    }
  }

  async function freeBusy(query: FreeBusyQuery): Promise<FreeBusyResult> {
    const items = query.items.map((i) => (typeof i === 'string' ? { id: i } : { id: i.id }))
    if (items.length === 0) throw new RangeError('freeBusy: name at least one calendar')
    if (items.length > MAX_FREEBUSY_CALENDARS) {
      throw new RangeError(`freeBusy: at most ${MAX_FREEBUSY_CALENDARS} calendars per query`)
    }
    const requestBody: calendar_v3.Schema$FreeBusyRequest = {
      timeMin: query.timeMin,
      timeMax: query.timeMax,
      items,
    }
    if (query.timeZone) requestBody.timeZone = query.timeZone
    const res = await run(
      { operation: 'freebusy.query', idempotent: true, notFound: 'event', signal: query.signal },
      (signal) => api.freebusy.query({ requestBody }, { signal }),
    )
    const data = res.data
    if (typeof data !== 'object' || data === null) throw malformed('freebusy.query')
    const calendars: FreeBusyResult['calendars'] = {}
    for (const [id, cal] of Object.entries(data.calendars ?? {})) {
      const entry: FreeBusyResult['calendars'][string] = {
        busy: (cal.busy ?? []).map((b) => ({ start: b.start ?? '', end: b.end ?? '' })),
      }
      if (cal.errors?.length) {
        entry.errors = cal.errors.map((e) => ({ domain: e.domain ?? '', reason: e.reason ?? '' }))
      }
      calendars[id] = entry
    }
    return { timeMin: data.timeMin ?? query.timeMin, timeMax: data.timeMax ?? query.timeMax, calendars }
  }

  async function watch(calendarId: string, channel: WatchRequest): Promise<WatchResult> {
    if (!/^[A-Za-z0-9\-_+/=]{1,64}$/.test(channel.id)) {
      throw new RangeError('watch: channel id must be 1-64 characters of [A-Za-z0-9-_+/=]')
    }
    const requestBody: calendar_v3.Schema$Channel = {
      id: channel.id,
      type: 'web_hook',
      address: channel.address,
    }
    if (channel.token !== undefined) requestBody.token = channel.token
    if (channel.expiration !== undefined) {
      const ms = channel.expiration instanceof Date ? channel.expiration.getTime() : channel.expiration
      requestBody.expiration = String(Math.floor(ms))
    }
    const res = await run(
      // a repeated watch would open a second channel (or be refused as a duplicate id)
      {
        operation: 'events.watch',
        idempotent: false,
        calendarId,
        notFound: 'calendar',
        signal: channel.signal,
      },
      (signal) => api.events.watch({ calendarId, requestBody }, { signal }),
    )
    const data = res.data
    if (!data?.resourceId) throw malformed('events.watch')
    const out: WatchResult = {
      id: data.id ?? channel.id,
      resourceId: data.resourceId,
      expiration: Number(data.expiration ?? 0),
    }
    if (data.resourceUri) out.resourceUri = data.resourceUri
    return out
  }

  async function stopChannel(
    channel: { id: string; resourceId: string },
    opts: { signal?: AbortSignal } = {},
  ) {
    try {
      await run(
        { operation: 'channels.stop', idempotent: true, notFound: 'event', signal: opts.signal },
        (signal) =>
          api.channels.stop({ requestBody: { id: channel.id, resourceId: channel.resourceId } }, { signal }),
      )
    } catch (err) {
      if (isNotFound(err)) return
      throw err
    }
  }

  async function checkAccess(calendarIds: readonly string[] = [], opts: { signal?: AbortSignal } = {}) {
    await run(
      { operation: 'auth.token', idempotent: true, notFound: 'event', signal: opts.signal },
      async () => {
        const { token } = await authClient.getAccessToken()
        if (!token) throw malformed('auth.token')
      },
    )
    for (const calendarId of calendarIds) {
      for await (const _page of listEvents(calendarId, { maxResults: 1, signal: opts.signal })) break
    }
  }

  return {
    provider: GOOGLE_CALENDAR_PROVIDER,
    listEvents,
    listOwnedEvents: (calendarId, opts) => {
      const list: ListEventsOptions = { privateExtendedProperty: ownerFilter(opts.owner, opts.sourceId) }
      if (opts.showDeleted) list.showDeleted = true
      if (opts.maxResults !== undefined) list.maxResults = opts.maxResults
      if (opts.signal) list.signal = opts.signal
      return listEvents(calendarId, list)
    },
    getEvent,
    insertEvent,
    patchEvent,
    updateEvent,
    deleteEvent,
    freeBusy,
    watch,
    stopChannel,
    checkAccess,
    authClient,
  }
}

function accountIdentity(c: GoogleCredentials): string[] {
  return c.kind === 'serviceAccount' ? [c.clientEmail, c.subject ?? ''] : [c.clientId, c.refreshToken]
}

/** Where token requests go (see `GoogleCalendarClientOptions.tokenUrl`). */
export function resolveTokenUrl(explicit: string | undefined, credentials: GoogleCredentials): string {
  const raw =
    explicit ?? (credentials.kind === 'serviceAccount' ? credentials.tokenUri : undefined) ?? GOOGLE_TOKEN_URL
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new RangeError('tokenUrl is not a valid URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RangeError('tokenUrl must be http(s)')
  return `${url.origin}${url.pathname}`
}

function isNotFound(err: unknown): boolean {
  return err instanceof EventNotFoundError || err instanceof CalendarNotFoundError
}

function malformed(operation: string): TransientError {
  return new TransientError(
    Reason.MalformedResponse,
    `${GOOGLE_CALENDAR_PROVIDER} ${operation} answered with an unexpected body`,
  )
}
