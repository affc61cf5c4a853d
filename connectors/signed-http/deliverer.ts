/**
 * Delivers records to any HTTPS endpoint as signed JSON batches. Each chunk of `batchSize`
 * records is POSTed as `{ batchId, records }`, where `batchId` is a stable hash of the chunk's
 * message ids (a re-sent chunk carries the same id, so the receiver can dedupe), with headers
 * `X-Switchboard-Delivery: <batchId>` and `<signatureHeader>: t=<unix seconds>,v1=<hex>` (see
 * `signature.ts`). A 2xx acknowledges the chunk. Retries are the shared engine's
 * (connectors/http `runAttempts`; POST included, since the batch id makes a repeat
 * recognisable: 408/429/5xx, network errors and timeouts, Retry-After honoured on 429/503,
 * capped exponential backoff with jitter), and every attempt is signed afresh.
 */
import { createHash } from 'node:crypto'
import {
  abortedError,
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
import { Reason, StallingError, SwitchboardError, sanitizeMessage, TransientError } from '../errors.ts'
import { anySignal, type Failure, isTimeout, resolveRetryPolicy, runAttempts } from '../http/index.ts'
import type { Logger } from '../log.ts'
import { signPayload } from './signature.ts'

export const DEFAULT_SIGNATURE_HEADER = 'X-Switchboard-Signature'
export const DELIVERY_HEADER = 'X-Switchboard-Delivery'
/** Largest accepted `batchSize`. */
export const MAX_BATCH_SIZE = 1000

export interface HttpDelivererOptions {
  /** The receiver's URL (http or https). Only `host/path` of it ever appears in logs and errors. */
  url: string
  /** HMAC key shared with the receiver. Never logged. */
  signingSecret: string
  /** Header carrying the signature. Default `X-Switchboard-Signature`. */
  signatureHeader?: string
  /** Records per POST, 1..1000. Default 100. */
  batchSize?: number
  /** Timeout of one HTTP attempt in ms. Default 10000. */
  timeoutMs?: number
  /** Retries after the first attempt (on 408, 429, 5xx, network errors, timeouts). Default 3. */
  maxRetries?: number
  /** Base of the exponential backoff in ms (`base * 2^(n-1)`, 50–100% jitter). Default 500. */
  retryDelayMs?: number
  /** Upper bound of one backoff delay in ms. Default 30000. */
  backoffLimitMs?: number
  /**
   * Longest Retry-After (ms) waited for inside `deliver`; a longer one ends the retries at once
   * with `WaitingError(RateLimited, retryAfterMs)` so the controller reschedules. Default 60000.
   */
  maxRetryAfterMs?: number
  /** pino logger: one line per HTTP attempt (method, host+path, status, latency). */
  logger?: Logger
}

const DESTINATION = 'signed HTTP destination'

/** Retried statuses: 408, 429 and the 5xx that can pass (not 501 Not Implemented, 505, 511). */
const RETRY_STATUS_CODES = [408, 429, 500, 502, 503, 504, 506, 507, 508, 509, 510, 520, 521, 522, 523, 524]

/** Stable id of a chunk: the first 32 hex chars of sha256 over its message ids. */
export function batchIdFor(records: readonly Pick<DeliveryRecord, 'messageId'>[]): string {
  const hash = createHash('sha256')
  for (const r of records) hash.update(r.messageId).update('\n')
  return hash.digest('hex').slice(0, 32)
}

/** The exact body POSTed for a chunk. */
export function batchBody(batchId: string, records: readonly DeliveryRecord[]): string {
  return JSON.stringify({ batchId, records })
}

export function createHttpDeliverer(options: HttpDelivererOptions): Deliverer {
  const {
    url,
    signingSecret,
    signatureHeader = DEFAULT_SIGNATURE_HEADER,
    batchSize = 100,
    timeoutMs = 10_000,
    maxRetries = 3,
    retryDelayMs = 500,
    backoffLimitMs = 30_000,
    maxRetryAfterMs = 60_000,
  } = options
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: url is not a valid URL`, { field: 'url' })
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: url must be http or https`, { field: 'url' })
  }
  if (typeof signingSecret !== 'string' || signingSecret.length === 0) {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: signingSecret is empty`, {
      field: 'signingSecret',
    })
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: batchSize must be 1..${MAX_BATCH_SIZE}`, {
      field: 'batchSize',
    })
  }
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new StallingError(Reason.InvalidSpec, `${DESTINATION}: maxRetries must be >= 0`, {
      field: 'maxRetries',
    })
  }

  const target = describeUrl(parsed)
  // values in the URL's query or userinfo may be tokens: never echo them either
  const secrets = [signingSecret, ...parsed.searchParams.values(), decodeURIComponent(parsed.password)]
  const log = (options.logger ?? silentLogger()).child({ destination: 'http', target })
  const inFlight = new Set<Promise<unknown>>()
  let closed = false

  const policy = resolveRetryPolicy(
    {
      limit: maxRetries,
      backoffBaseMs: retryDelayMs,
      backoffLimitMs,
      maxRetryAfterMs,
      statusCodes: RETRY_STATUS_CODES,
    },
    DESTINATION,
  )

  async function postChunk(chunk: readonly DeliveryRecord[], signal: AbortSignal | undefined): Promise<void> {
    const batchId = batchIdFor(chunk)
    const body = batchBody(batchId, chunk)
    const send = async (attempt: number): Promise<void> => {
      const started = performance.now()
      const fields = { method: 'POST', url: target, batchId, records: chunk.length, attempt }
      let res: Response
      try {
        res = await fetch(parsed, {
          method: 'POST',
          body,
          headers: {
            'Content-Type': 'application/json',
            [DELIVERY_HEADER]: batchId,
            // each attempt is signed afresh, so waiting out a Retry-After never makes `t` stale
            [signatureHeader]: signPayload(signingSecret, nowSeconds(), body),
          },
          signal: anySignal(signal, AbortSignal.timeout(timeoutMs)) ?? null,
        })
      } catch (err) {
        const latencyMs = Math.round(performance.now() - started)
        const error = sanitizeMessage(describeError(err), secrets)
        log.warn({ ...fields, status: 0, latencyMs, error }, 'destination request failed')
        throw err
      }
      const latencyMs = Math.round(performance.now() - started)
      if (res.ok) log.info({ ...fields, status: res.status, latencyMs }, 'destination request')
      else log.warn({ ...fields, status: res.status, latencyMs }, 'destination request failed')
      const text = await res.text()
      if (!res.ok) throw new RefusedBatch(res, text)
    }
    try {
      await runAttempts(policy, {
        operation: 'batch.post',
        where: `${DESTINATION} at ${target}`,
        retry: true,
        signal,
        attempt: ({ attempt }) => send(attempt),
        classify: (err) => classify(err, batchId),
      })
    } catch (err) {
      if (signal?.aborted) throw abortedError(DESTINATION, signal)
      throw err
    }
  }

  function classify(err: unknown, batchId: string): Failure {
    if (err instanceof SwitchboardError) return { error: err }
    if (err instanceof RefusedBatch) {
      const res = err.response
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'))
      return {
        error: errorForStatus({
          destination: DESTINATION,
          target,
          status: res.status,
          detail: `${res.statusText} ${dataSnippet(err.text)} (batch ${batchId})`.trim(),
          retryAfterMs,
          secrets,
        }),
        retryable: policy.statusCodes.includes(res.status),
        retryAfterMs: policy.afterStatusCodes.includes(res.status) ? retryAfterMs : undefined,
      }
    }
    if (isTimeout(err)) {
      return {
        error: new TransientError(
          Reason.DestinationUnavailable,
          `${DESTINATION} at ${target} timed out after ${timeoutMs} ms (after retries, batch ${batchId})`,
        ),
        retryable: true,
      }
    }
    return { error: unavailableError(DESTINATION, target, err, secrets), retryable: err instanceof TypeError }
  }

  async function run(
    records: readonly DeliveryRecord[],
    signal: AbortSignal | undefined,
  ): Promise<DeliveryResult> {
    const started = performance.now()
    validateRecords(records, DESTINATION)
    let delivered = 0
    for (let i = 0; i < records.length; i += batchSize) {
      if (signal?.aborted) throw abortedError(DESTINATION, signal)
      const chunk = records.slice(i, i + batchSize)
      await postChunk(chunk, signal)
      delivered += chunk.length
    }
    return { delivered, durationMs: Math.round(performance.now() - started) }
  }

  return {
    type: 'http',
    deliver(records, opts: DeliverOptions = {}) {
      if (closed) {
        return Promise.reject(new TransientError(Reason.Internal, `${DESTINATION}: deliverer is closed`))
      }
      const task = run(records, opts.signal)
      const tracked = task.catch(() => {})
      inFlight.add(tracked)
      void tracked.finally(() => inFlight.delete(tracked))
      return withAbort(task, opts.signal, DESTINATION)
    },
    async close() {
      closed = true
      await Promise.allSettled([...inFlight])
    },
  }
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

/** A non-2xx answer of the receiver, as an attempt throws it. */
class RefusedBatch extends Error {
  readonly response: Response
  readonly text: string
  constructor(response: Response, text: string) {
    super(`answered ${response.status}`)
    this.response = response
    this.text = text
  }
}

/** A short piece of a receiver's error body for the message (sanitised by the caller). */
function dataSnippet(body: string): string {
  if (body === '') return ''
  let data: unknown
  try {
    data = JSON.parse(body)
  } catch {
    data = body
  }
  if (data === null) return ''
  let text: string
  if (typeof data === 'string') text = data
  else if (typeof data === 'object' && 'message' in data && typeof data.message === 'string')
    text = data.message
  else if (typeof data === 'object' && 'error' in data && typeof data.error === 'string') text = data.error
  else text = JSON.stringify(data)
  return `- ${text.slice(0, 200)}`
}
