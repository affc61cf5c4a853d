/**
 * The one retry engine of connectors/. A `ProviderEngine` belongs to one provider connection and
 * does two things:
 *
 * - `fetch(input, init, meta)`: one HTTP exchange. It takes a token from the account's
 *   `RequestBudget` (waiting at most `retry.maxRetryAfterMs`), runs `meta.beforeSend` (signing
 *   that exact attempt), sends with an optional per-attempt timeout, writes one log line and
 *   counts the exchange in `switchboard_provider_requests_total` / `..._duration_seconds`, and
 *   pauses the budget for a 429/503 `Retry-After`. `createProviderClient` sends with it, and an
 *   official SDK can be given it as its fetch implementation (Google Calendar does).
 * - `run({ attempt, classify, retry })`: the retry loop. `attempt` is anything that may fail (an
 *   HTTP exchange, or a call of an official SDK); `classify` turns what it threw into a `Failure`
 *   (the registry error, whether another attempt may help, the provider's `Retry-After`).
 *   Retryable failures of calls that may be repeated wait `Retry-After`, else an exponential
 *   backoff with jitter, and try again up to `retry.limit` times; a `Retry-After` longer than
 *   `retry.maxRetryAfterMs` ends the call at once. A failure marked `unauthorized` calls
 *   `onUnauthorized` once and repeats the call once. An abort ends the call at once.
 */
import { pino } from 'pino'
import type { Registry } from 'prom-client'
import { abortError, anySignal, sleep, throwIfAborted } from '../abort.ts'
import { describeError, parseRetryAfter } from '../delivery.ts'
import { type SwitchboardError, sanitizeMessage } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { RequestBudget } from './budget.ts'
import { type ProviderMetrics, providerMetrics } from './metrics.ts'

export interface RetryPolicy {
  /** Retries after the first attempt. Default 3. */
  limit?: number
  /** Base of the exponential backoff in ms: retry n waits `base * 2^(n-1)`. Default 300. */
  backoffBaseMs?: number
  /** Upper bound of one backoff delay in ms. Default 10000. */
  backoffLimitMs?: number
  /**
   * Longest `Retry-After` (ms) waited for inside a call. A longer one ends the call at once with
   * a `WaitingError` carrying it, so the controller comes back later. Also the longest wait
   * accepted for the request budget. Default 30000.
   */
  maxRetryAfterMs?: number
  /** Statuses retried (by `createProviderClient`'s own mapping). Default 408, 429, 500, 502, 503, 504, 520–524. */
  statusCodes?: readonly number[]
  /** Statuses whose `Retry-After` decides the delay and pauses the budget. Default 429, 503. */
  afterStatusCodes?: readonly number[]
  /**
   * Randomises each backoff delay (never a Retry-After): `true` for full jitter (0–100%), `false`
   * for none, a function for your own. Default: 50–100% of the delay.
   */
  jitter?: boolean | ((delayMs: number) => number)
}

export const DEFAULT_RETRY: Readonly<Required<Omit<RetryPolicy, 'jitter'>>> = Object.freeze({
  limit: 3,
  backoffBaseMs: 300,
  backoffLimitMs: 10_000,
  maxRetryAfterMs: 30_000,
  statusCodes: Object.freeze([408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524]),
  afterStatusCodes: Object.freeze([429, 503]),
})

export type ResolvedRetryPolicy = Readonly<Required<Omit<RetryPolicy, 'jitter'>>> & {
  readonly jitter: (delayMs: number) => number
}

/** The policy with defaults filled in (keys given as undefined keep their defaults). */
export function resolveRetryPolicy(retry: RetryPolicy | undefined, provider: string): ResolvedRetryPolicy {
  const given = Object.fromEntries(Object.entries(retry ?? {}).filter(([, v]) => v !== undefined))
  const { jitter: _jitter, ...rest } = given as RetryPolicy
  const policy = { ...DEFAULT_RETRY, ...rest, jitter: jitterFunction(retry?.jitter) }
  if (!Number.isInteger(policy.limit) || policy.limit < 0) {
    throw new RangeError(`${provider}: retry.limit must be an integer >= 0`)
  }
  return Object.freeze(policy)
}

function jitterFunction(jitter: RetryPolicy['jitter']): (delayMs: number) => number {
  if (typeof jitter === 'function') return jitter
  if (jitter === true) return (d) => Math.random() * d
  if (jitter === false) return (d) => d
  return (d) => d * (0.5 + Math.random() * 0.5)
}

/** The backoff before retry `n` (1 for the first retry), before jitter. */
export function backoffDelay(policy: ResolvedRetryPolicy, n: number): number {
  return Math.min(policy.backoffLimitMs, policy.backoffBaseMs * 2 ** Math.max(0, n - 1))
}

/** What a failed attempt means, as `classify` tells the engine. */
export interface Failure {
  /** The error the call ends with when this attempt is the last. */
  error: SwitchboardError
  /** Another attempt may succeed (network, timeout, 408/429/5xx, a provider's rate limit). */
  retryable?: boolean | undefined
  /** The provider's `Retry-After` (ms): the next attempt waits this long instead of the backoff. */
  retryAfterMs?: number | undefined
  /** Holds every client of the account this long (a rate limit of the account). */
  pauseBudgetMs?: number | undefined
  /** The credentials were refused: `onUnauthorized`, then one more attempt. */
  unauthorized?: boolean | undefined
}

export interface FailureContext {
  /** Attempts made so far, this one included (for messages: "3 attempts"). */
  attempts: number
  /** The backoff that would follow the next retry, before jitter (a hint for a wait). */
  nextBackoffMs: number
}

export interface AttemptContext {
  /** 1 for the first attempt, then 2, 3 ... (retries and a re-authenticated repeat). */
  attempt: number
  /** The caller's signal combined with the engine's. */
  signal: AbortSignal | undefined
}

export interface RunOptions<T> {
  /** Bounded name of the call (`players.list`). */
  operation: string
  /** Start of messages: `<provider> <operation>: <METHOD> <host><path>`. */
  where: string
  /** Whether retryable failures are retried: true only for calls that may be repeated safely. */
  retry: boolean
  signal?: AbortSignal | undefined
  attempt: (ctx: AttemptContext) => Promise<T>
  classify: (err: unknown, ctx: FailureContext) => Failure
  /** Called on the first `unauthorized` failure (drop a cached token); the call is repeated once. */
  onUnauthorized?: ((err: unknown) => void | Promise<void>) | undefined
}

export interface ExchangeMeta {
  operation: string
  /** Logged when known. */
  attempt?: number | undefined
  /** The caller's signal (to tell its abort from a timeout in the log). */
  signal?: AbortSignal | undefined
  /** Per-attempt timeout (ms), from sending until the body is read. Default: none here. */
  timeoutMs?: number | undefined
  /** Runs after the budget granted the attempt, before it is sent (signatures, auth headers). */
  beforeSend?: (() => void | Promise<void>) | undefined
}

export interface ProviderEngineOptions {
  /** Connector id: a label of the logs and metrics. */
  provider: string
  logger?: Logger | undefined
  metrics?: Registry | undefined
  budget?: RequestBudget | undefined
  retry?: RetryPolicy | undefined
  /** Exact values (credentials, tokens) that must never appear in a message. */
  secrets?: (() => Iterable<string>) | undefined
  /** Aborts every call. */
  signal?: AbortSignal | undefined
}

export interface ProviderEngine {
  readonly provider: string
  readonly policy: ResolvedRetryPolicy
  readonly budget: RequestBudget | undefined
  secrets(): string[]
  fetch(input: string | URL | Request, init: RequestInit | undefined, meta: ExchangeMeta): Promise<Response>
  run<T>(opts: RunOptions<T>): Promise<T>
}

let silent: Logger | undefined
function silentLogger(): Logger {
  silent ??= pino({ level: 'silent' })
  return silent
}

export function createProviderEngine(options: ProviderEngineOptions): ProviderEngine {
  const { provider, budget } = options
  const policy = resolveRetryPolicy(options.retry, provider)
  const parent = options.logger ?? silentLogger()
  // a caller's child logger may already carry the provider: do not write the key twice
  const log = parent.bindings().provider === undefined ? parent.child({ provider }) : parent
  const metrics: ProviderMetrics | undefined = options.metrics ? providerMetrics(options.metrics) : undefined
  const secrets = (): string[] => [...(options.secrets?.() ?? [])]

  async function exchange(
    input: string | URL | Request,
    init: RequestInit | undefined,
    meta: ExchangeMeta,
  ): Promise<Response> {
    const { operation } = meta
    const url = new URL(input instanceof Request ? input.url : String(input))
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
    const given = init?.signal ?? undefined
    await budget?.take({ signal: given, maxWaitMs: policy.maxRetryAfterMs })
    await meta.beforeSend?.()
    const signal =
      meta.timeoutMs === undefined ? given : anySignal(given, AbortSignal.timeout(meta.timeoutMs))
    const fields = {
      operation,
      method,
      path: url.pathname,
      ...(meta.attempt === undefined ? {} : { attempt: meta.attempt }),
    }
    const started = performance.now()
    const observe = (code: string) => {
      const latencyMs = Math.round(performance.now() - started)
      metrics?.requests.inc({ provider, operation, code })
      metrics?.duration.observe({ provider, operation }, latencyMs / 1000)
      return latencyMs
    }
    try {
      const res = await fetch(input, signal === given ? init : { ...init, signal: signal ?? null })
      const latencyMs = observe(String(res.status))
      if (res.ok) log.info({ ...fields, status: res.status, latencyMs }, 'provider request')
      else log.warn({ ...fields, status: res.status, latencyMs }, 'provider request failed')
      if (budget && policy.afterStatusCodes.includes(res.status)) {
        const wait = parseRetryAfter(res.headers.get('retry-after'))
        if (wait !== undefined) budget.pause(wait)
      }
      return res
    } catch (err) {
      if (given?.aborted) {
        // Switchboard called it off (a page read ahead that a stopped sync no longer needs, a
        // shutdown): not the provider's failure, so not counted or logged as one.
        const latencyMs = observe('aborted')
        log.debug({ ...fields, latencyMs }, 'provider request cancelled')
        throw err
      }
      const latencyMs = observe('error')
      const error =
        isTimeout(err) && meta.timeoutMs !== undefined && !meta.signal?.aborted
          ? `timed out after ${meta.timeoutMs} ms`
          : sanitizeMessage(describeError(err), secrets())
      log.warn({ ...fields, status: 0, latencyMs, error }, 'provider request failed')
      throw err
    }
  }

  const run = <T>(opts: RunOptions<T>): Promise<T> =>
    runAttempts(policy, { ...opts, signal: anySignal(opts.signal, options.signal) }, budget)

  return { provider, policy, budget, secrets, fetch: exchange, run }
}

/**
 * The retry loop itself, for callers that need no exchange of the engine (a destination that
 * logs in its own format and has no budget): `engine.run` is this with the engine's policy,
 * budget and signal.
 */
export async function runAttempts<T>(
  policy: ResolvedRetryPolicy,
  opts: RunOptions<T>,
  budget?: RequestBudget,
): Promise<T> {
  const { signal } = opts
  const aborted = `${opts.where}: aborted`
  let attempt = 0
  let retries = 0
  let reauthenticated = false
  for (;;) {
    attempt++
    throwIfAborted(signal, aborted)
    try {
      return await opts.attempt({ attempt, signal })
    } catch (err) {
      if (signal?.aborted) throw abortError(signal, aborted)
      const failure = opts.classify(err, {
        attempts: attempt,
        nextBackoffMs: backoffDelay(policy, retries + 2),
      })
      if (failure.unauthorized && opts.onUnauthorized && !reauthenticated) {
        reauthenticated = true
        await opts.onUnauthorized(err)
        continue
      }
      if (failure.pauseBudgetMs !== undefined) budget?.pause(failure.pauseBudgetMs)
      const wait = failure.retryAfterMs
      const tooLong = wait !== undefined && wait > policy.maxRetryAfterMs
      if (!opts.retry || !failure.retryable || retries >= policy.limit || tooLong) throw failure.error
      retries++
      await sleep(wait ?? policy.jitter(backoffDelay(policy, retries)), signal, aborted)
    }
  }
}

/** A per-attempt timeout (`AbortSignal.timeout`), as fetch and a body read report it. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError'
}
