/**
 * The Destination delivery contract. A sync hands a batch of records to a `Deliverer` and commits
 * its cursor only once `deliver` resolved: resolving means the destination acknowledged every
 * record of the batch. Failures reject with a `SwitchboardError` whose kind tells the controller
 * what to do (stall, wait, back off). Implementations: `connectors/segment`,
 * `connectors/signed-http`, `connectors/postgres`.
 *
 * A destination that can commit a stream's cursor in the same transaction as the page's records
 * (Postgres) has `cursors`: the sync hands it the page's cursor in `deliver` (`opts.checkpoint`)
 * and, when every destination of an integration is such a one, resumes from the cursor it
 * committed instead of the one in status. That makes the delivery exactly once.
 */
import { pino } from 'pino'
import { abortError, raceAbort } from './abort.ts'
import {
  Reason,
  StallingError,
  type SwitchboardError,
  sanitizeMessage,
  TransientError,
  WaitingError,
} from './errors.ts'
import type { Logger } from './log.ts'

export interface DeliveryRecord {
  /** Stable id (< 100 chars): a re-sent record carries the same id. */
  messageId: string
  /** `identify` for entity records (player, member), `track` for events. */
  type: 'identify' | 'track'
  userId: string
  /** The event name, required for `track`. */
  event?: string
  /** Traits for `identify`, properties for `track`. */
  properties: Record<string, unknown>
  /** ISO 8601. */
  timestamp: string
  /** The stream the record comes from (`players`, `transactions`, `games`): a table destination's table. */
  stream?: string
  /** The record's id within its stream (player id, transaction id, game-session id): its natural key. */
  key?: string
}

export interface DeliveryResult {
  /** Records the destination acknowledged (all of the batch). */
  delivered: number
  durationMs: number
}

export interface DeliverOptions {
  /** Aborting stops waiting: `deliver` rejects with a `TransientError(Reason.Timeout)`. */
  signal?: AbortSignal
  /**
   * Where the stream stands once this page is in: a destination with `cursors` commits it in the
   * same transaction as the records; the others ignore it.
   */
  checkpoint?: StreamCheckpoint
}

/** A stream's position, as a destination that keeps cursors stores it. */
export interface StreamCheckpoint {
  /** The integration the stream belongs to (`<Kind>/<namespace>/<name>`). */
  integration: string
  stream: string
  /** Opaque: the sync reads from it again. */
  cursor: string
}

/** The cursors a destination committed with its records. */
export interface CursorStore {
  /**
   * The cursor last committed for a stream with the number of records committed with it so far,
   * or undefined when none was (the database has nothing of it).
   */
  read(
    integration: string,
    stream: string,
    signal?: AbortSignal,
  ): Promise<{ cursor: string; records: number } | undefined>
}

export interface Deliverer {
  readonly type: 'segment' | 'http' | 'postgres'
  /** Present when the destination commits each page's cursor with its records (see above). */
  readonly cursors?: CursorStore
  /**
   * Present when the destination can be checked before records arrive (connects, prepares its
   * tables). Rejects as `deliver` does.
   */
  check?(signal?: AbortSignal): Promise<void>
  /**
   * Resolves once the destination acknowledged every record of `records`. Safe to call
   * concurrently. Rejects with `StallingError` (DestinationRejected, Unauthorized),
   * `WaitingError` (RateLimited, with `retryAfterMs`) or `TransientError`
   * (DestinationUnavailable, Timeout).
   */
  deliver(records: readonly DeliveryRecord[], opts?: DeliverOptions): Promise<DeliveryResult>
  /** Waits for deliveries in flight, then releases resources. Later `deliver` calls reject. */
  close(): Promise<void>
}

/** Longest message id a destination accepts (Segment dedupes on ids shorter than 100 chars). */
export const MAX_MESSAGE_ID_LENGTH = 99

/** Wait used when a destination rate-limits without saying for how long. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000

/**
 * Checks the records a caller handed in before anything is sent, so a malformed batch is
 * rejected whole (nothing partially delivered). Throws `StallingError(DestinationRejected)`.
 */
export function validateRecords(records: readonly DeliveryRecord[], destination: string): void {
  records.forEach((r, i) => {
    const where = `${destination}: record ${i}`
    if (typeof r.messageId !== 'string' || r.messageId.length === 0) {
      throw new StallingError(Reason.DestinationRejected, `${where} has no messageId`)
    }
    if (r.messageId.length > MAX_MESSAGE_ID_LENGTH) {
      throw new StallingError(
        Reason.DestinationRejected,
        `${where} has a messageId of ${r.messageId.length} chars (at most ${MAX_MESSAGE_ID_LENGTH})`,
      )
    }
    if (r.type !== 'identify' && r.type !== 'track') {
      throw new StallingError(Reason.DestinationRejected, `${where} has an unknown type`)
    }
    if (typeof r.userId !== 'string' || r.userId.length === 0) {
      throw new StallingError(Reason.DestinationRejected, `${where} (${r.messageId}) has no userId`)
    }
    if (r.type === 'track' && (typeof r.event !== 'string' || r.event.length === 0)) {
      throw new StallingError(
        Reason.DestinationRejected,
        `${where} (${r.messageId}) is a track without event`,
      )
    }
    if (typeof r.timestamp !== 'string' || Number.isNaN(Date.parse(r.timestamp))) {
      throw new StallingError(
        Reason.DestinationRejected,
        `${where} (${r.messageId}) has no valid ISO 8601 timestamp`,
      )
    }
  })
}

/** `host/path` of a URL, for logs and messages: no scheme, userinfo, query or fragment. */
export function describeUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url
    return `${u.host}${u.pathname}`
  } catch {
    return '[invalid url]'
  }
}

/** Parses a Retry-After value (delay seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now)
}

export interface StatusErrorContext {
  /** Human name of the destination in messages, e.g. `Segment` or `signed HTTP destination`. */
  destination: string
  /** `host/path` the request went to. */
  target: string
  status: number
  /** Provider text (status text, error body); sanitised here. */
  detail?: string
  /** For 429: how long the destination asked to wait. */
  retryAfterMs?: number
  /** Exact values that must never appear in the message. */
  secrets?: readonly string[]
}

/**
 * Maps the final HTTP status of a failed delivery (after the retries) to a Switchboard error:
 * 401/403 → stalling Unauthorized; 429 → waiting RateLimited; 408 and 5xx → transient
 * DestinationUnavailable; any other status (400, 404, 413, 422 ...) → stalling
 * DestinationRejected (reported, never retried until the spec changes).
 * No `cause` is attached: HTTP library errors carry full URLs, headers and request objects.
 */
export function errorForStatus(ctx: StatusErrorContext): SwitchboardError {
  const { status } = ctx
  const detail = ctx.detail ? `: ${ctx.detail}` : ''
  const text = sanitizeMessage(
    `${ctx.destination} at ${ctx.target} answered ${status}${detail}`,
    ctx.secrets ?? [],
  )
  if (status === 401 || status === 403) {
    return new StallingError(Reason.Unauthorized, `${text} (check the credentials)`)
  }
  if (status === 429) {
    const wait = ctx.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS
    return new WaitingError(Reason.RateLimited, `${text} (rate limited after retries)`, wait)
  }
  if (status === 408 || status >= 500) {
    return new TransientError(Reason.DestinationUnavailable, `${text} (after retries)`)
  }
  return new StallingError(Reason.DestinationRejected, text)
}

/**
 * A delivery that failed without any HTTP status (network error, timeout). Pass the low-level
 * error (fetch's TypeError with its code), not a wrapper whose message holds the full URL; only
 * its sanitised text is kept.
 */
export function unavailableError(
  destination: string,
  target: string,
  err: unknown,
  secrets: readonly string[] = [],
): SwitchboardError {
  return new TransientError(
    Reason.DestinationUnavailable,
    sanitizeMessage(`${destination} at ${target} unreachable after retries: ${describeError(err)}`, secrets),
  )
}

/** The rejection of a `deliver` whose caller aborted. */
export function abortedError(destination: string, signal: AbortSignal): SwitchboardError {
  return abortError(signal, abortedMessage(destination))
}

const abortedMessage = (destination: string) =>
  `${destination}: delivery aborted before the destination acknowledged it`

/** Error text with the code of its cause (ECONNREFUSED ...), unsanitised. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause
  const code =
    cause && typeof cause === 'object' && 'code' in cause && typeof cause.code === 'string' ? cause.code : ''
  if (code) return `${err.message} (${code})`
  if (cause instanceof Error && cause.message && cause.message !== err.message) {
    return `${err.message} (${cause.message})`
  }
  return err.message
}

let silent: Logger | undefined
/** A logger that writes nothing, for deliverers created without one. */
export function silentLogger(): Logger {
  silent ??= pino({ level: 'silent' })
  return silent
}

/** Runs `task`, rejecting early if `signal` aborts (the task itself keeps running). */
export function withAbort<T>(
  task: Promise<T>,
  signal: AbortSignal | undefined,
  destination: string,
): Promise<T> {
  return raceAbort(task, signal, abortedMessage(destination))
}
