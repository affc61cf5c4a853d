/**
 * Delivers records to Segment through the official `@segment/analytics-node` SDK.
 *
 * How the SDK behaves (v3, read from its source) and what this module does about it:
 * - `identify`/`track` queue an event; the SDK groups events into batches of `flushAt` events
 *   (and < 480 KB), sends a full batch at once and a partial one after `flushInterval`. We keep
 *   `flushInterval` at a few ms so a batch goes out right after the last record of a `deliver`
 *   call was queued. We never call `analytics.flush()`: it is one global barrier that refuses
 *   overlapping calls, and one deliverer serves several syncs at the same time.
 * - Every event carries our `messageId` and `timestamp`, so a re-sent record has the same id.
 * - The outcome of each event is emitted once: `identify`/`track` with its context on success,
 *   `error` with `{ code: 'delivery_failure', reason, ctx }` when the SDK gave up. We match
 *   outcomes to waiting `deliver` calls by message id (per-call callbacks would add the SDK's
 *   300 ms callback delay to every call).
 * - Retries: 5xx (not 501/505/511), 408, 410, 429 without Retry-After and network errors are
 *   retried with backoff (500 ms × 2^n × 1–2, not configurable) up to `maxRetries`; 429 with
 *   Retry-After waits that long without counting a retry, for at most `maxRateLimitMs` (and
 *   `maxRetries + 20` attempts); 400 and other 4xx fail the batch at once. The failure reason is
 *   `Error('[<status>] <statusText>')`, a network error, or `Error('Rate limit duration exceeded')`.
 * - Events over 32 KB are failed by the SDK without being sent; we refuse such a batch up front.
 * - Transport: our own `HTTPClient` (fetch) logs one line per attempt, remembers Retry-After and
 *   bounds the number of requests in flight.
 */
import {
  Analytics,
  type Context,
  type HTTPClient,
  type HTTPClientRequest,
  type HTTPResponse,
} from '@segment/analytics-node'
import {
  DEFAULT_RATE_LIMIT_WAIT_MS,
  type Deliverer,
  type DeliverOptions,
  type DeliveryRecord,
  type DeliveryResult,
  describeError,
  describeUrl,
  errorForStatus,
  parseRetryAfter,
  silentLogger,
  unavailableError,
  validateRecords,
  withAbort,
} from '../delivery.ts'
import {
  Reason,
  StallingError,
  type SwitchboardError,
  sanitizeMessage,
  TransientError,
  WaitingError,
} from '../errors.ts'
import type { Logger } from '../log.ts'

export interface SegmentDelivererOptions {
  /** The Segment source's write key. Never logged. */
  writeKey: string
  /** API base. Default `https://api.segment.io`. */
  host?: string
  /** Batch endpoint path. Default `/v1/batch`. */
  path?: string
  /** Retries of a batch on 5xx/408/network errors (the SDK's `maxRetries`). Default 3. */
  maxRetries?: number
  /** Timeout of one HTTP attempt in ms (the SDK's `httpRequestTimeout`). Default 10000. */
  timeoutMs?: number
  /** Events per HTTP request (the SDK's `flushAt`; Segment allows 2500 and 500 KB). Default 100. */
  flushAt?: number
  /** Wait before a partial batch is sent (the SDK's `flushInterval`). Default 10. */
  flushIntervalMs?: number
  /**
   * How long the SDK keeps honouring 429 Retry-After before giving up on the batch; then
   * `deliver` rejects with `WaitingError(RateLimited)`. Default 60000.
   */
  maxRateLimitMs?: number
  /** HTTP requests in flight at once, across all `deliver` calls. Default 8. */
  maxConcurrentRequests?: number
  /** How long `close()` waits for queued events. Default 30000. */
  closeTimeoutMs?: number
  /** pino logger: one line per HTTP attempt (method, host+path, status, latency). */
  logger?: Logger
}

/** Segment's limit for one event. */
export const MAX_EVENT_BYTES = 32 * 1024
/** Room left for what the SDK adds to each event (context.library, _metadata, integrations). */
const SDK_EVENT_OVERHEAD_BYTES = 512
/** Events per request Segment accepts at most on /v1/batch. */
export const MAX_EVENTS_PER_BATCH = 2500

const DESTINATION = 'Segment'

type Outcome = { ok: true } | { ok: false; reason: unknown }
type Waiter = (outcome: Outcome) => void
/** The waiters of one message id: one in the common case, a queue when a record is in flight twice. */
type Waiting = Waiter | Waiter[]

export function createSegmentDeliverer(options: SegmentDelivererOptions): Deliverer {
  const {
    writeKey,
    host = 'https://api.segment.io',
    path = '/v1/batch',
    maxRetries = 3,
    timeoutMs = 10_000,
    flushAt = 100,
    flushIntervalMs = 10,
    maxRateLimitMs = 60_000,
    maxConcurrentRequests = 8,
    closeTimeoutMs = 30_000,
  } = options
  if (typeof writeKey !== 'string' || writeKey.length === 0) {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: writeKey is empty`, { field: 'writeKey' })
  }
  let endpoint: URL
  try {
    endpoint = new URL(path, host)
  } catch {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: host is not a valid URL`, { field: 'host' })
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: host must be http or https`, {
      field: 'host',
    })
  }
  if (!Number.isInteger(flushAt) || flushAt < 1 || flushAt > MAX_EVENTS_PER_BATCH) {
    throw new StallingError(
      Reason.InvalidSpec,
      `${DESTINATION}: flushAt must be 1..${MAX_EVENTS_PER_BATCH}`,
      {
        field: 'flushAt',
      },
    )
  }
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: maxRetries must be >= 0`, {
      field: 'maxRetries',
    })
  }

  const target = describeUrl(endpoint)
  // the write key travels as Basic base64(writeKey + ':'): both forms are secrets
  const secrets = [writeKey, Buffer.from(`${writeKey}:`).toString('base64')]
  const log = (options.logger ?? silentLogger()).child({ destination: 'segment', target })
  const transport = new SegmentTransport(log, Math.max(1, maxConcurrentRequests), secrets)

  // The SDK client is made at the first delivery: a Destination that no integration uses yet
  // costs its validated options, not an SDK instance with its queues (about 7 KiB of heap each,
  // 70 MiB for 10,000 Destinations).
  let sdk: Analytics | undefined
  const client = (): Analytics => {
    if (sdk) return sdk
    const analytics = new Analytics({
      writeKey,
      host,
      path,
      maxRetries,
      flushAt,
      flushInterval: flushIntervalMs,
      httpRequestTimeout: timeoutMs,
      maxRateLimitDuration: maxRateLimitMs / 1000,
      httpClient: transport,
    })
    analytics.on('identify', (ctx) => settle(ctx, { ok: true }))
    analytics.on('track', (ctx) => settle(ctx, { ok: true }))
    analytics.on('error', (err) => {
      if (err.ctx) settle(err.ctx, { ok: false, reason: err.reason })
      else
        log.error(
          { code: err.code, error: sanitizeMessage(describeError(err.reason), secrets) },
          'Segment SDK error',
        )
    })
    sdk = analytics
    return analytics
  }

  // outcomes are matched to waiting deliver calls by message id, first come first served
  const waiters = new Map<string, Waiting>()
  const wait = (id: string, waiter: Waiter) => {
    const waiting = waiters.get(id)
    if (waiting === undefined) waiters.set(id, waiter)
    else if (Array.isArray(waiting)) waiting.push(waiter)
    else waiters.set(id, [waiting, waiter])
  }
  const settle = (ctx: Context | undefined, outcome: Outcome) => {
    const id = ctx?.event.messageId
    if (id === undefined) return
    const waiting = waiters.get(id)
    if (waiting === undefined) return
    if (!Array.isArray(waiting)) {
      waiters.delete(id)
      waiting(outcome)
      return
    }
    const waiter = waiting.shift()
    if (waiting.length === 0) waiters.delete(id)
    waiter?.(outcome)
  }

  let closed = false

  function toError(reason: unknown): SwitchboardError {
    const text = reason instanceof Error ? reason.message : String(reason)
    const status = /^\[(\d{3})\]\s*(.*)$/.exec(text)
    if (status) {
      const code = Number(status[1])
      return errorForStatus({
        destination: DESTINATION,
        target,
        status: code,
        detail: status[2],
        retryAfterMs: code === 429 ? (transport.lastRetryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS) : undefined,
        secrets,
      })
    }
    if (/rate limit duration exceeded/i.test(text)) {
      return new WaitingError(
        Reason.RateLimited,
        `${DESTINATION} at ${target} kept rate limiting for ${Math.round(maxRateLimitMs / 1000)} s`,
        transport.lastRetryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS,
      )
    }
    if (/exceeds maximum event size/i.test(text)) {
      return new StallingError(
        Reason.DestinationRejected,
        sanitizeMessage(`${DESTINATION}: ${text}`, secrets),
      )
    }
    return unavailableError(DESTINATION, target, reason, secrets)
  }

  function send(records: readonly DeliveryRecord[]): Promise<DeliveryResult> {
    const started = performance.now()
    validateRecords(records, DESTINATION)
    checkEventSizes(records)
    if (records.length === 0) return Promise.resolve({ delivered: 0, durationMs: 0 })
    const analytics = client()
    return new Promise<DeliveryResult>((resolve, reject) => {
      let remaining = records.length
      let failure: SwitchboardError | undefined
      const done: Waiter = (outcome) => {
        if (!outcome.ok) failure = worse(failure, toError(outcome.reason))
        remaining--
        if (remaining > 0) return
        if (failure) reject(failure)
        else resolve({ delivered: records.length, durationMs: Math.round(performance.now() - started) })
      }
      for (const r of records) {
        try {
          if (r.type === 'identify') {
            analytics.identify({
              userId: r.userId,
              traits: r.properties,
              timestamp: r.timestamp,
              messageId: r.messageId,
            })
          } else {
            analytics.track({
              userId: r.userId,
              event: r.event ?? '',
              properties: r.properties,
              timestamp: r.timestamp,
              messageId: r.messageId,
            })
          }
        } catch (err) {
          // the SDK validates synchronously; this record never entered its queue
          done({ ok: false, reason: err })
          continue
        }
        wait(r.messageId, done)
      }
    })
  }

  return {
    type: 'segment',
    deliver(records, opts: DeliverOptions = {}) {
      if (closed) {
        return Promise.reject(new TransientError(Reason.Internal, `${DESTINATION}: deliverer is closed`))
      }
      let task: Promise<DeliveryResult>
      try {
        task = send(records)
      } catch (err) {
        return Promise.reject(err)
      }
      return withAbort(task, opts.signal, DESTINATION)
    },
    async close() {
      if (closed) return
      closed = true
      await sdk?.closeAndFlush({ timeout: closeTimeoutMs })
      // anything the SDK did not settle (it should have) is failed now rather than left hanging
      const closedBefore: Outcome = {
        ok: false,
        reason: new Error('deliverer closed before Segment acknowledged'),
      }
      for (const [, waiting] of waiters) {
        if (Array.isArray(waiting)) for (const w of waiting) w(closedBefore)
        else waiting(closedBefore)
      }
      waiters.clear()
    },
  }
}

/** Refuses the whole batch if one record cannot fit Segment's 32 KB event limit. */
function checkEventSizes(records: readonly DeliveryRecord[]): void {
  const budget = MAX_EVENT_BYTES - SDK_EVENT_OVERHEAD_BYTES
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as DeliveryRecord
    // a bound is enough for nearly every record; only one that might be over is serialised
    if (jsonBytesBound(r, budget) <= budget) continue
    const bytes = Buffer.byteLength(JSON.stringify(r)) + SDK_EVENT_OVERHEAD_BYTES
    if (bytes > MAX_EVENT_BYTES) {
      throw new StallingError(
        Reason.DestinationRejected,
        `${DESTINATION}: record ${i} (${r.messageId}) is about ${Math.ceil(bytes / 1024)} KB, over the 32 KB event limit`,
      )
    }
  }
}

/**
 * An upper bound of the UTF-8 bytes of `JSON.stringify(value)`, without building the string:
 * each UTF-16 unit of a string is at most 6 bytes (`\u001f`), a number at most 24 characters.
 * It stops counting once over `budget`, and answers `Infinity` for anything that is not plain
 * data (a `toJSON`, a class instance, a bigint) so that the caller measures it exactly.
 */
export function jsonBytesBound(value: unknown, budget: number): number {
  switch (typeof value) {
    case 'string':
      return 6 * value.length + 2
    case 'number':
    case 'boolean':
    case 'undefined':
      return 24
    case 'object':
      break
    default:
      return Number.POSITIVE_INFINITY
  }
  if (value === null) return 4
  let n = 2
  if (Array.isArray(value)) {
    for (const item of value) {
      n += jsonBytesBound(item, budget - n) + 1
      if (n > budget) return n
    }
    return n
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return Number.POSITIVE_INFINITY
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return Number.POSITIVE_INFINITY
  for (const key of Object.keys(value)) {
    n += 6 * key.length + 4 + jsonBytesBound((value as Record<string, unknown>)[key], budget - n)
    if (n > budget) return n
  }
  return n
}

const SEVERITY = { stalling: 3, waiting: 2, transient: 1 } as const
/** The error that matters most when a batch failed in several ways: stalling > waiting > transient. */
function worse(a: SwitchboardError | undefined, b: SwitchboardError): SwitchboardError {
  if (!a) return b
  return SEVERITY[b.kind] > SEVERITY[a.kind] ? b : a
}

/**
 * The SDK's HTTP transport: plain fetch with a per-attempt timeout, one log line per attempt
 * (never headers or body), the last Retry-After seen, and a bound on requests in flight.
 */
class SegmentTransport implements HTTPClient {
  lastRetryAfterMs: number | undefined
  readonly #log: Logger
  readonly #max: number
  readonly #secrets: readonly string[]
  #active = 0
  readonly #queue: (() => void)[] = []

  constructor(log: Logger, maxConcurrent: number, secrets: readonly string[]) {
    this.#log = log
    this.#max = maxConcurrent
    this.#secrets = secrets
  }

  async makeRequest(req: HTTPClientRequest): Promise<HTTPResponse> {
    await this.#acquire()
    const attempt = Number(req.headers['X-Retry-Count'] ?? 0) + 1
    const fields = { method: req.method, url: describeUrl(req.url), attempt, bytes: req.body.length }
    const started = performance.now()
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal: AbortSignal.timeout(req.httpRequestTimeout),
      })
      // read the (small) answer so the connection is reused; the SDK only looks at the status
      await res.arrayBuffer().catch(() => undefined)
      const latencyMs = Math.round(performance.now() - started)
      if (res.status === 429) this.lastRetryAfterMs = parseRetryAfter(res.headers.get('retry-after'))
      if (res.ok) this.#log.info({ ...fields, status: res.status, latencyMs }, 'destination request')
      else this.#log.warn({ ...fields, status: res.status, latencyMs }, 'destination request failed')
      return { status: res.status, statusText: res.statusText, headers: res.headers }
    } catch (err) {
      const latencyMs = Math.round(performance.now() - started)
      const error = sanitizeMessage(describeError(err), this.#secrets)
      this.#log.warn({ ...fields, status: 0, latencyMs, error }, 'destination request failed')
      throw err
    } finally {
      this.#release()
    }
  }

  #acquire(): Promise<void> {
    if (this.#active < this.#max) {
      this.#active++
      return Promise.resolve()
    }
    return new Promise((resolve) => this.#queue.push(resolve))
  }

  #release(): void {
    const next = this.#queue.shift()
    if (next) next()
    else this.#active--
  }
}
