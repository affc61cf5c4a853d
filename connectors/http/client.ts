/**
 * The HTTP client every provider connector uses. One `ProviderClient` per connection (endpoint +
 * credentials); each call names a bounded `operation` and a zod schema, and resolves with the
 * parsed, validated JSON body or rejects with a `SwitchboardError`:
 *
 * | outcome (after retries)                           | error                                          |
 * | ------------------------------------------------- | ---------------------------------------------- |
 * | 401, 403                                          | `StallingError(Unauthorized)`                  |
 * | 429                                               | `WaitingError(RateLimited, retryAfterMs)`      |
 * | Retry-After (429/503) longer than maxRetryAfterMs | `WaitingError(RateLimited or ProviderUnavailable)`, at once |
 * | 408, 5xx, network error                           | `TransientError(ProviderUnavailable)`          |
 * | per-attempt timeout                               | `TransientError(Timeout)`                      |
 * | any other 3xx/4xx                                 | `StallingError(ProviderRejected)`              |
 * | 2xx that is not JSON or not the expected shape    | `TransientError(MalformedResponse)`            |
 *
 * Retries are ky's (exponential backoff with jitter, Retry-After honoured on 429/503). Each
 * attempt first takes a token from the account's `RequestBudget`, then runs `auth` (which signs
 * or adds headers to that exact attempt), and is logged once and counted in the metrics. Logs
 * and messages carry the method, host and path, never the query, a header or a credential.
 */
import ky, { type HTTPError, isHTTPError, isNetworkError, isTimeoutError, type KyResponse } from 'ky'
import { pino } from 'pino'
import type { Registry } from 'prom-client'
import type { z } from 'zod'
import { DEFAULT_RATE_LIMIT_WAIT_MS, describeError, parseRetryAfter } from '../delivery.ts'
import {
  Reason,
  StallingError,
  SwitchboardError,
  sanitizeMessage,
  TransientError,
  WaitingError,
} from '../errors.ts'
import type { Logger } from '../log.ts'
import type { RequestBudget } from './budget.ts'
import { type ProviderMetrics, providerMetrics } from './metrics.ts'

export interface RetryPolicy {
  /** Retries after the first attempt. Default 3. */
  limit?: number
  /** Base of the exponential backoff in ms: attempt n waits `base * 2^(n-1)`. Default 300. */
  backoffBaseMs?: number
  /** Upper bound of one backoff delay in ms. Default 10000. */
  backoffLimitMs?: number
  /**
   * Longest `Retry-After` (ms) waited for inside a call. A longer one ends the call at once with
   * a `WaitingError` carrying it, so the controller comes back later. Also the longest wait
   * accepted for the request budget. Default 30000.
   */
  maxRetryAfterMs?: number
  /** Statuses retried. Default 408, 429, 500, 502, 503, 504, 520–524. */
  statusCodes?: readonly number[]
  /** Statuses whose `Retry-After` decides the delay. Default 429, 503. */
  afterStatusCodes?: readonly number[]
  /**
   * Randomises each backoff delay (never a Retry-After): `true` for full jitter (0–100%), a
   * function for your own. Default: 50–100% of the delay.
   */
  jitter?: boolean | ((delayMs: number) => number)
}

/** What `auth` sees of one attempt: set headers on `headers`; everything else is read-only. */
export interface AuthContext {
  readonly operation: string
  readonly method: 'GET' | 'POST'
  /** The full URL of the request, query included. */
  readonly url: URL
  /** The exact body that is sent (undefined for GET). */
  readonly body: string | undefined
  readonly headers: Headers
  /** 1 for the first attempt, then 2, 3 ... (retries and a re-authenticated repeat). */
  readonly attempt: number
  readonly signal: AbortSignal | undefined
}

export interface ProviderClientOptions {
  /** Connector id: a label of the logs and metrics (`softswiss`, `playtech-pam` ...). */
  provider: string
  /** Base URL; may carry a path prefix (`https://host/partner`); paths are appended to it. */
  baseUrl: string
  /** One line per attempt. Default: silent. */
  logger?: Logger
  /** Registry for `switchboard_provider_*` metrics. Default: none recorded. */
  metrics?: Registry
  /** The account's request budget (see `BudgetRegistry`). Default: unlimited. */
  budget?: RequestBudget
  /** Timeout of one attempt, until the response headers and again for the body. Default 10000. */
  timeoutMs?: number
  retry?: RetryPolicy
  /** Signs or adds headers to each attempt (runs after the budget granted it). */
  auth?: (request: AuthContext) => void | Promise<void>
  /**
   * Called once when an authenticated call answers 401, with the headers that attempt carried
   * (to drop the cached token or session it used); the call is then repeated once. A second
   * 401 is final (`Unauthorized`). Default: none.
   */
  onUnauthorized?: (failed: { headers: Headers }) => void | Promise<void>
  /** Exact values (credentials, tokens) that must never appear in an error message. */
  secrets?: () => Iterable<string>
  /** Headers sent with every request (never logged). */
  headers?: Record<string, string>
  /** Aborts every call of this client (e.g. the reconcile's signal). */
  signal?: AbortSignal
}

export type QueryValue = string | number | boolean | null | undefined

export interface CallOptions<T> {
  /** Bounded name of what this call does (`players.list`): a metric label, never a raw path. */
  operation: string
  /** Schema of the response body; its output is what the call resolves with. */
  schema: z.ZodType<T>
  /** Query parameters (undefined and null are left out), in this order. */
  query?: Record<string, QueryValue>
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Run `auth`. Default true; false for a login or token request that carries its own. */
  auth?: boolean
  /** Retry on retryable failures. Default true for GET, false for POST. */
  idempotent?: boolean
}

export interface PostOptions<T> extends CallOptions<T> {
  /** Sent as JSON. */
  json?: unknown
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string>
}

export interface ProviderClient {
  readonly provider: string
  readonly baseUrl: string
  get<T>(path: string, opts: CallOptions<T>): Promise<T>
  post<T>(path: string, opts: PostOptions<T>): Promise<T>
}

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_RETRY: Readonly<Required<Omit<RetryPolicy, 'jitter'>>> = Object.freeze({
  limit: 3,
  backoffBaseMs: 300,
  backoffLimitMs: 10_000,
  maxRetryAfterMs: 30_000,
  statusCodes: Object.freeze([408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524]),
  afterStatusCodes: Object.freeze([429, 503]),
})

const defaultJitter = (delay: number) => delay * (0.5 + Math.random() * 0.5)

let silent: Logger | undefined
function silentLogger(): Logger {
  silent ??= pino({ level: 'silent' })
  return silent
}

export function createProviderClient(options: ProviderClientOptions): ProviderClient {
  const { provider, budget, auth, onUnauthorized } = options
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  // keys given as undefined keep their defaults
  const given = Object.fromEntries(Object.entries(options.retry ?? {}).filter(([, v]) => v !== undefined))
  const policy = { ...DEFAULT_RETRY, ...(given as RetryPolicy) }
  const jitter = options.retry?.jitter ?? defaultJitter
  if (!Number.isInteger(policy.limit) || policy.limit < 0) {
    throw new RangeError(`${provider}: retry.limit must be an integer >= 0`)
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`${provider}: timeoutMs must be a positive number`)
  }
  const base = parseBaseUrl(options.baseUrl, provider)
  const host = base.host
  const parent = options.logger ?? silentLogger()
  // a caller's child logger may already carry the provider: do not write the key twice
  const log = parent.bindings().provider === undefined ? parent.child({ provider }) : parent
  const metrics: ProviderMetrics | undefined = options.metrics ? providerMetrics(options.metrics) : undefined
  const secretValues = (): string[] => [...(options.secrets?.() ?? [])]

  function buildUrl(path: string, query: Record<string, QueryValue> | undefined): URL {
    if (!path.startsWith('/')) throw new TypeError(`${provider}: path must start with '/'`)
    const url = new URL(`${base.prefix}${path}`)
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.append(k, String(v))
    }
    return url
  }

  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    opts: CallOptions<T>,
    payload: { body: string; contentType: string } | undefined,
  ): Promise<T> {
    const { operation } = opts
    const url = buildUrl(path, opts.query)
    const where = `${provider} ${operation}: ${method} ${host}${url.pathname}`
    const signal = anySignal(opts.signal, options.signal)
    const useAuth = opts.auth !== false && auth !== undefined
    const idempotent = opts.idempotent ?? method === 'GET'
    let attempt = 0
    let lastStatus = 0
    let lastContentType = ''

    const prepare = async (request: Request): Promise<void> => {
      attempt++
      await budget?.take({ signal, maxWaitMs: policy.maxRetryAfterMs })
      if (useAuth) {
        await auth({
          operation,
          method,
          url: new URL(request.url),
          body: payload?.body,
          headers: request.headers,
          attempt,
          signal,
        })
      }
    }

    const recordingFetch = async (input: Request | URL | string, init?: RequestInit): Promise<Response> => {
      const started = performance.now()
      const fields = { operation, method, path: url.pathname, attempt }
      try {
        const res = await fetch(input, init)
        const latencyMs = Math.round(performance.now() - started)
        lastStatus = res.status
        lastContentType = res.headers.get('content-type') ?? ''
        metrics?.requests.inc({ provider, operation, code: String(res.status) })
        metrics?.duration.observe({ provider, operation }, latencyMs / 1000)
        if (res.ok) log.info({ ...fields, status: res.status, latencyMs }, 'provider request')
        else log.warn({ ...fields, status: res.status, latencyMs }, 'provider request failed')
        if (budget && policy.afterStatusCodes.includes(res.status)) {
          const wait = parseRetryAfter(res.headers.get('retry-after'))
          if (wait !== undefined) budget.pause(wait)
        }
        return res
      } catch (err) {
        const latencyMs = Math.round(performance.now() - started)
        metrics?.requests.inc({ provider, operation, code: 'error' })
        metrics?.duration.observe({ provider, operation }, latencyMs / 1000)
        const error =
          isAbort(err) && !signal?.aborted
            ? `timed out after ${timeoutMs} ms`
            : sanitizeMessage(describeError(err), secretValues())
        log.warn({ ...fields, status: 0, latencyMs, error }, 'provider request failed')
        throw err
      }
    }

    const send = async (): Promise<string> => {
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': 'switchboard',
        ...options.headers,
        ...opts.headers,
      }
      if (payload) headers['content-type'] = payload.contentType
      return ky(url, {
        method,
        headers,
        body: payload?.body,
        timeout: timeoutMs,
        throwHttpErrors: true,
        redirect: 'manual',
        signal,
        fetch: recordingFetch,
        retry: {
          limit: policy.limit,
          methods: idempotent ? ['get', 'post'] : ['get'],
          statusCodes: [...policy.statusCodes],
          afterStatusCodes: [...policy.afterStatusCodes],
          maxRetryAfter: policy.maxRetryAfterMs,
          backoffLimit: policy.backoffLimitMs,
          delay: (n) => policy.backoffBaseMs * 2 ** (n - 1),
          jitter,
          retryOnTimeout: true,
          // a Retry-After longer than we wait inside a call ends it: the controller comes back
          shouldRetry: ({ error }) => {
            if (isHTTPError(error) && policy.afterStatusCodes.includes(error.response.status)) {
              const wait = parseRetryAfter(error.response.headers.get('retry-after'))
              if (wait !== undefined && wait > policy.maxRetryAfterMs) return false
            }
            return undefined
          },
        },
        hooks: {
          beforeRequest: [({ request }) => prepare(request)],
          beforeRetry: [({ request }) => prepare(request)],
        },
      }).text()
    }

    let reauthenticated = false
    for (;;) {
      let text: string
      try {
        text = await send()
      } catch (err) {
        if (
          useAuth &&
          onUnauthorized &&
          !reauthenticated &&
          !signal?.aborted &&
          isHTTPError(err) &&
          err.response.status === 401
        ) {
          reauthenticated = true
          await onUnauthorized({ headers: err.request.headers })
          continue
        }
        throw toProviderError(err, { where, signal, timeoutMs, attempts: attempt, secrets: secretValues() })
      }
      return parseBody(text, opts.schema, { where, status: lastStatus, contentType: lastContentType })
    }
  }

  return {
    provider,
    baseUrl: base.prefix,
    get: (path, opts) => call('GET', path, opts, undefined),
    post: (path, opts) => {
      if (opts.json !== undefined && opts.form !== undefined) {
        throw new TypeError(`${provider} ${opts.operation}: give json or form, not both`)
      }
      const payload =
        opts.form !== undefined
          ? {
              body: new URLSearchParams(opts.form).toString(),
              contentType: 'application/x-www-form-urlencoded',
            }
          : { body: JSON.stringify(opts.json ?? {}), contentType: 'application/json' }
      return call('POST', path, opts, payload)
    },
  }
}

interface ParseContext {
  where: string
  status: number
  contentType: string
}

/**
 * Parses and validates a 2xx body. Messages say what was wrong (not JSON, which fields) and
 * never quote the body.
 */
export function parseBody<T>(text: string, schema: z.ZodType<T>, ctx: ParseContext): T {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    const type = ctx.contentType ? `, ${ctx.contentType.split(';')[0]}` : ''
    throw new TransientError(
      Reason.MalformedResponse,
      `${ctx.where} answered ${ctx.status} with a body that is not valid JSON (${text.length} bytes${type})`,
    )
  }
  const result = schema.safeParse(json)
  if (result.success) return result.data
  const issues = result.error.issues
  const shown = issues
    .slice(0, 3)
    .map((i) => `${formatPath(i.path)}: ${i.message}`)
    .join('; ')
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''
  throw new TransientError(
    Reason.MalformedResponse,
    sanitizeMessage(`${ctx.where} answered ${ctx.status} with an unexpected body: ${shown}${more}`),
  )
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(body)'
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out
}

interface ErrorContext {
  where: string
  signal: AbortSignal | undefined
  timeoutMs: number
  attempts: number
  secrets: readonly string[]
}

/** Maps whatever a call threw to a SwitchboardError (see the table at the top of this file). */
export function toProviderError(err: unknown, ctx: ErrorContext): SwitchboardError {
  if (err instanceof SwitchboardError) return err
  if (ctx.signal?.aborted) {
    const reason: unknown = ctx.signal.reason
    if (reason instanceof SwitchboardError) return reason
    return new TransientError(Reason.Timeout, `${ctx.where}: aborted`)
  }
  const tries = ctx.attempts === 1 ? '1 attempt' : `${ctx.attempts} attempts`
  if (isHTTPError(err)) return errorForStatus(err, ctx, tries)
  if (isTimeoutError(err)) {
    return new TransientError(Reason.Timeout, `${ctx.where} timed out after ${ctx.timeoutMs} ms (${tries})`)
  }
  if (isNetworkError(err)) {
    return new TransientError(
      Reason.ProviderUnavailable,
      sanitizeMessage(`${ctx.where} unreachable (${tries}): ${describeError(err.cause)}`, ctx.secrets),
    )
  }
  return new TransientError(
    Reason.Internal,
    sanitizeMessage(`${ctx.where} failed: ${describeError(err)}`, ctx.secrets),
  )
}

function errorForStatus(err: HTTPError, ctx: ErrorContext, tries: string): SwitchboardError {
  const res: KyResponse = err.response
  const status = res.status
  const detail = providerDetail(err.data)
  const text = sanitizeMessage(`${ctx.where} answered ${status}${detail ? `: ${detail}` : ''}`, ctx.secrets)
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'))
  if (status === 401 || status === 403) {
    return new StallingError(Reason.Unauthorized, `${text} (check the credentials in the Secret)`)
  }
  if (status === 429) {
    return new WaitingError(
      Reason.RateLimited,
      `${text} (rate limited, ${tries})`,
      retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS,
    )
  }
  if (status === 503 && retryAfterMs !== undefined) {
    return new WaitingError(Reason.ProviderUnavailable, `${text} (${tries})`, retryAfterMs)
  }
  if (status === 408 || status >= 500) {
    return new TransientError(Reason.ProviderUnavailable, `${text} (${tries})`)
  }
  if (status >= 300 && status < 400) {
    return new StallingError(Reason.ProviderRejected, `${text} (unexpected redirect: check the endpoint)`)
  }
  return new StallingError(Reason.ProviderRejected, text)
}

/** A short, provider-written explanation from an error body (sanitised by the caller). */
function providerDetail(data: unknown): string {
  if (data === undefined || data === null || data === '') return ''
  // an HTML error page (a proxy's) says nothing useful and is noisy in a condition
  if (typeof data === 'string') return data.trimStart().startsWith('<') ? '' : data.slice(0, 200)
  if (typeof data !== 'object') return ''
  const d = data as Record<string, unknown>
  const pick = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined)
  const nested = typeof d.error === 'object' && d.error !== null ? (d.error as Record<string, unknown>) : {}
  const message =
    pick(nested.message) ??
    pick(d.message) ??
    pick(d.error_description) ??
    pick(d.error) ??
    pick(nested.code) ??
    pick(d.code)
  return message ? message.slice(0, 200) : ''
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')
}

function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined)
  if (present.length <= 1) return present[0]
  return AbortSignal.any(present)
}

function parseBaseUrl(raw: string, provider: string): { prefix: string; host: string } {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new StallingError(Reason.InvalidSpec, `${provider}: endpoint is not a valid URL`, {
      field: 'endpoint',
    })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new StallingError(Reason.InvalidSpec, `${provider}: endpoint must be http or https`, {
      field: 'endpoint',
    })
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new StallingError(
      Reason.InvalidSpec,
      `${provider}: endpoint must not carry credentials, a query or a fragment`,
      { field: 'endpoint' },
    )
  }
  return {
    prefix: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    host: url.host,
  }
}
