/**
 * Google Calendar errors mapped onto the registry. Google answers
 * `{"error":{"code","message","errors":[{"domain","reason","message"}],"status"}}`; the
 * `reason` of the first entry decides:
 *
 * | answer                                                  | error                                          |
 * | ------------------------------------------------------- | ---------------------------------------------- |
 * | 401                                                     | `StallingError(Unauthorized)` (after one fresh token) |
 * | 403 `rateLimitExceeded` / `userRateLimitExceeded`, 429  | `WaitingError(RateLimited)` (Retry-After, else backoff) |
 * | 403 `quotaExceeded` / `dailyLimitExceeded`              | `WaitingError(RateLimited)`, 15 min unless Retry-After |
 * | 403 other (no access to the calendar, a scope missing)  | `StallingError(Unauthorized)`                  |
 * | 403 `forbiddenForServiceAccounts`                       | `StallingError(ProviderRejected)` (attendees need `subject`) |
 * | 404 listing or inserting (the calendar)                 | `CalendarNotFoundError` (stalling, `CalendarNotFound`) |
 * | 404 an event, 410 `deleted`                              | `EventNotFoundError` (transient)               |
 * | 409 `duplicate`                                         | `DuplicateEventError` (stalling)               |
 * | 410 `fullSyncRequired`                                  | `SyncTokenExpiredError` (transient, `InvalidCursor`) |
 * | 412 `conditionNotMet`                                   | `ConditionNotMetError` (transient)             |
 * | other 4xx                                               | `StallingError(ProviderRejected)`              |
 * | 408, 5xx, network                                       | `TransientError(ProviderUnavailable)`          |
 * | timeout                                                 | `TransientError(Timeout)`                      |
 * | token endpoint 400/401 (`invalid_grant`, `invalid_client`) | `StallingError(InvalidCredentials)`         |
 * | token endpoint 400 `invalid_grant` for a user's refresh token | `StallingError(TokenRevoked)`            |
 *
 * The library's own error object is never attached as `cause`: it holds the request's
 * configuration, Authorization header included, and a logger would print it.
 */
import { DEFAULT_RATE_LIMIT_WAIT_MS, parseRetryAfter } from '../delivery.ts'
import {
  Reason,
  StallingError,
  SwitchboardError,
  type SwitchboardErrorOptions,
  sanitizeMessage,
  TransientError,
  WaitingError,
} from '../errors.ts'

export const GOOGLE_CALENDAR_PROVIDER = 'google-calendar'

/** Wait after a `quotaExceeded` without Retry-After (Google's quotas refill per minute to per day). */
export const QUOTA_WAIT_MS = 15 * 60_000

/**
 * The saved sync token is no longer valid (410 `fullSyncRequired`): drop it and list the
 * calendar again from scratch.
 */
export class SyncTokenExpiredError extends SwitchboardError {
  readonly calendarId: string
  constructor(calendarId: string, message: string) {
    super(Reason.InvalidCursor, 'transient', message)
    this.calendarId = calendarId
  }
}

/** The calendar does not exist or is not shared with the account. */
export class CalendarNotFoundError extends StallingError {
  readonly calendarId: string
  constructor(calendarId: string, message: string, opts: SwitchboardErrorOptions = {}) {
    super(Reason.CalendarNotFound, message, { field: 'calendarId', ...opts })
    this.calendarId = calendarId
  }
}

/** The event does not exist (404), or was deleted (410 `deleted`, then `gone` is true). */
export class EventNotFoundError extends SwitchboardError {
  readonly calendarId: string
  readonly eventId: string
  readonly gone: boolean
  constructor(calendarId: string, eventId: string, message: string, gone = false) {
    super(Reason.ProviderRejected, 'transient', message)
    this.calendarId = calendarId
    this.eventId = eventId
    this.gone = gone
  }
}

/** 409 `duplicate`: an event with this id exists (or existed: Google keeps deleted ids). */
export class DuplicateEventError extends StallingError {
  readonly eventId: string | undefined
  constructor(eventId: string | undefined, message: string) {
    super(Reason.ProviderRejected, message)
    this.eventId = eventId
  }
}

/** 412 `conditionNotMet`: the event changed since the etag given was read. Read it again. */
export class ConditionNotMetError extends SwitchboardError {
  constructor(message: string) {
    super(Reason.ProviderRejected, 'transient', message)
  }
}

/** What a failed attempt looked like, taken from whatever the Google library threw. */
export interface FailedAttempt {
  /** HTTP status; 0 when there was no response. */
  status: number
  /** `errors[0].reason` (API) or `error` (token endpoint). */
  reason: string
  /** Provider text (unsanitised; pass it through `sanitizeMessage`). */
  message: string
  retryAfterMs: number | undefined
  /** The attempt went to the token endpoint. */
  token: boolean
  /** No response: timed out. */
  timeout: boolean
  /** No response: aborted by the caller. */
  aborted: boolean
  /** A SwitchboardError raised on the way (request budget). */
  own: SwitchboardError | undefined
}

interface LibraryError {
  message?: unknown
  code?: unknown
  cause?: unknown
  config?: { url?: unknown }
  response?: { status?: unknown; data?: unknown; headers?: unknown }
}

/** Reads a gaxios error (or anything else) without keeping a reference to it. */
export function describeFailure(err: unknown, tokenUrls: readonly string[]): FailedAttempt {
  const e = (typeof err === 'object' && err !== null ? err : {}) as LibraryError
  const own =
    err instanceof SwitchboardError ? err : e.cause instanceof SwitchboardError ? e.cause : undefined
  const res = e.response
  const status = typeof res?.status === 'number' ? res.status : 0
  const data = (res?.data ?? undefined) as unknown
  let reason = ''
  let message = ''
  if (data && typeof data === 'object') {
    const d = data as Record<string, unknown>
    const nested = d.error
    if (nested && typeof nested === 'object') {
      const n = nested as { message?: unknown; errors?: unknown; status?: unknown }
      const first = Array.isArray(n.errors) ? (n.errors[0] as { reason?: unknown } | undefined) : undefined
      reason = typeof first?.reason === 'string' ? first.reason : typeof n.status === 'string' ? n.status : ''
      message = typeof n.message === 'string' ? n.message : ''
    } else if (typeof nested === 'string') {
      // token endpoint: {"error":"invalid_grant","error_description":"..."}
      reason = nested
      message = typeof d.error_description === 'string' ? d.error_description : ''
    }
  } else if (typeof data === 'string') {
    message = data.slice(0, 200)
  }
  if (!message && status === 0 && typeof e.message === 'string') message = e.message
  const headers = res?.headers
  const retryAfter =
    headers && typeof (headers as Headers).get === 'function' ? (headers as Headers).get('retry-after') : null
  const url =
    typeof e.config?.url === 'string' ? e.config.url : e.config?.url instanceof URL ? e.config.url.href : ''
  const token = url !== '' && tokenUrls.some((t) => url.startsWith(t))
  const code = typeof e.code === 'string' ? e.code : ''
  const timeout = status === 0 && (code === 'TimeoutError' || /timed? ?out/i.test(message))
  const aborted = status === 0 && !timeout && code === 'AbortError'
  return {
    status,
    reason,
    message,
    retryAfterMs: parseRetryAfter(retryAfter),
    token,
    timeout,
    aborted,
    own,
  }
}

const RATE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'RESOURCE_EXHAUSTED'])
const QUOTA_REASONS = new Set(['quotaExceeded', 'dailyLimitExceeded'])

/** Whether another attempt may succeed (rate limits, 408, 5xx, network, timeouts). */
export function isRetryable(f: FailedAttempt): boolean {
  if (f.own) return false
  if (f.aborted) return false
  if (f.status === 0) return true
  if (f.status === 408 || f.status === 429 || f.status >= 500) return true
  return f.status === 403 && RATE_REASONS.has(f.reason)
}

/** Whether the failure is a rate limit (to pause the account's budget). */
export function isRateLimit(f: FailedAttempt): boolean {
  return f.status === 429 || (f.status === 403 && (RATE_REASONS.has(f.reason) || QUOTA_REASONS.has(f.reason)))
}

export interface MapContext {
  /** `google-calendar events.list` and the like, for messages. */
  where: string
  calendarId?: string
  eventId?: string
  /** Whether a 404 means the calendar (listing, inserting, watching) rather than an event. */
  notFound: 'calendar' | 'event'
  /** Attempts made, for messages. */
  attempts: number
  /** Wait for a rate limit without Retry-After (the caller's next backoff step). */
  backoffMs: number
  secrets: readonly string[]
  /** The credentials are a user's refresh token (not a service account): `invalid_grant` means revoked. */
  userGrant?: boolean
}

/** The registry error for a final failure. */
export function toGoogleError(f: FailedAttempt, ctx: MapContext): SwitchboardError {
  if (f.own) return f.own
  const tries = ctx.attempts === 1 ? '1 attempt' : `${ctx.attempts} attempts`
  const detail = [f.reason, f.message].filter(Boolean).join(': ')
  const text = sanitizeMessage(
    `${ctx.where} answered ${f.status}${detail ? ` (${detail})` : ''}`,
    ctx.secrets,
  )
  const cal = ctx.calendarId === undefined ? '' : ` "${ctx.calendarId}"`
  if (f.status === 0) {
    if (f.timeout) return new TransientError(Reason.Timeout, `${ctx.where} timed out (${tries})`)
    if (f.aborted) return new TransientError(Reason.Timeout, `${ctx.where}: aborted`)
    return new TransientError(
      Reason.ProviderUnavailable,
      sanitizeMessage(`${ctx.where} unreachable (${tries}): ${f.message || 'network error'}`, ctx.secrets),
    )
  }
  if (f.token) {
    if (ctx.userGrant && f.status === 400 && f.reason === 'invalid_grant') {
      return new StallingError(
        Reason.TokenRevoked,
        'the Google token endpoint refused the refresh token (invalid_grant): the user revoked the access, or the token expired; authorize again and put the new refreshToken in the Secret',
        { field: 'refreshToken' },
      )
    }
    if (f.status === 400 || f.status === 401 || f.status === 403) {
      return new StallingError(
        Reason.InvalidCredentials,
        sanitizeMessage(
          `the Google token endpoint refused the credentials (${detail || f.status}): check the Secret`,
          ctx.secrets,
        ),
      )
    }
    if (f.status === 429) {
      return new WaitingError(Reason.RateLimited, `${text} (${tries})`, f.retryAfterMs ?? ctx.backoffMs)
    }
    return new TransientError(Reason.ProviderUnavailable, `${text} (${tries})`)
  }
  if (f.status === 401) {
    return new StallingError(Reason.Unauthorized, `${text}: the access token was refused (check the Secret)`)
  }
  if (f.status === 429 || (f.status === 403 && RATE_REASONS.has(f.reason))) {
    return new WaitingError(
      Reason.RateLimited,
      `${text} (rate limited, ${tries})`,
      f.retryAfterMs ?? Math.max(ctx.backoffMs, 1000),
    )
  }
  if (f.status === 403 && QUOTA_REASONS.has(f.reason)) {
    return new WaitingError(Reason.RateLimited, `${text} (quota exhausted)`, f.retryAfterMs ?? QUOTA_WAIT_MS)
  }
  if (f.status === 403 && f.reason === 'forbiddenForServiceAccounts') {
    return new StallingError(
      Reason.ProviderRejected,
      `${text}: a service account can invite attendees only when it acts for a user (set "subject" in the Secret) or attendees are not copied`,
    )
  }
  if (f.status === 403) {
    return new StallingError(
      Reason.Unauthorized,
      `${text}: no access${cal ? ` to calendar${cal}` : ''} (share the calendar with the account, with "Make changes to events" for targets)`,
    )
  }
  if (f.status === 404) {
    if (ctx.notFound === 'calendar' && ctx.calendarId !== undefined) {
      return new CalendarNotFoundError(
        ctx.calendarId,
        `calendar${cal} not found, or not shared with the account (${ctx.where} answered 404)`,
      )
    }
    return new EventNotFoundError(ctx.calendarId ?? '', ctx.eventId ?? '', `${text}: event not found`)
  }
  if (f.status === 409) return new DuplicateEventError(ctx.eventId, `${text}: an event with this id exists`)
  if (f.status === 410 && f.reason === 'fullSyncRequired') {
    return new SyncTokenExpiredError(
      ctx.calendarId ?? '',
      `${text}: the sync token expired, a full sync is needed`,
    )
  }
  if (f.status === 410) {
    return new EventNotFoundError(ctx.calendarId ?? '', ctx.eventId ?? '', `${text}: event deleted`, true)
  }
  if (f.status === 412) return new ConditionNotMetError(`${text}: the event changed since it was read`)
  if (f.status === 408 || f.status >= 500) {
    return new TransientError(Reason.ProviderUnavailable, `${text} (${tries})`)
  }
  return new StallingError(Reason.ProviderRejected, text)
}

export { DEFAULT_RATE_LIMIT_WAIT_MS }
