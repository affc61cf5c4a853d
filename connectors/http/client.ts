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
 * Every call runs through the provider engine (engine.ts): each attempt first takes a token from
 * the account's `RequestBudget`, then runs `auth` (which signs or adds headers to that exact
 * attempt), is sent with a per-attempt timeout, and is logged once and counted in the metrics;
 * the engine retries (exponential backoff with jitter, Retry-After honoured on 429/503). A
 * provider whose failures the HTTP status does not describe gives `classify`, which maps a
 * failed response to a registry error (a transient one is retried, others end the call). Logs
 * and messages carry the method, host and path, never the query, a header or a credential.
 */
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
import { createProviderEngine, type Failure, isTimeout, type RetryPolicy } from './engine.ts'

/** What `auth` sees of one attempt: set headers on `headers`; everything else is read-only. */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE'

export interface AuthContext {
  readonly operation: string
  readonly method: HttpMethod
  /** The full URL of the request, query included. */
  readonly url: URL
  /** The exact body that is sent (undefined for GET). */
  readonly body: string | undefined
  readonly headers: Headers
  /** 1 for the first attempt, then 2, 3 ... (retries and a re-authenticated repeat). */
  readonly attempt: number
  readonly signal: AbortSignal | undefined
}

export interface ClassifyContext {
  /** `<provider> <operation>: <METHOD> <host><path>`, to start a message with. */
  readonly where: string
  /** Attempts made, this one included. */
  readonly attempts: number
  /** Values to pass to `sanitizeMessage`. */
  readonly secrets: readonly string[]
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
  /** Timeout of one attempt, from sending until the body is read. Default 10000. */
  timeoutMs?: number
  retry?: RetryPolicy
  /**
   * Maps a failed (non-2xx) response to a registry error, for providers whose status codes do
   * not say what happened (Graph's error codes, a rate limit sent as 403). `body` is the parsed
   * JSON, else the text. A transient error is retried (idempotent calls only), a waiting
   * `RateLimited` one pauses the account's budget for its wait, and any error ends the call;
   * undefined falls back to the mapping by status.
   */
  classify?: (response: Response, body: unknown, ctx: ClassifyContext) => SwitchboardError | undefined
  /**
   * Reads the wait a 429/503 asks for from the body, for providers that put it there rather than
   * in `Retry-After` (Patreon's `errors[].retry_after_seconds`), in ms. A `Retry-After` header
   * wins. The wait is then honoured as a header's would be (retried within `maxRetryAfterMs`).
   */
  retryAfter?: (response: Response, body: unknown) => number | undefined
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
  /** A JSON body, like `post`; not retried unless `idempotent`. */
  patch<T>(path: string, opts: PostOptions<T>): Promise<T>
  /** Resolves once the provider answered 2xx; a body, if any, is not read. Retried (idempotent). */
  delete(path: string, opts: Omit<CallOptions<unknown>, 'schema'>): Promise<void>
}

export const DEFAULT_TIMEOUT_MS = 10_000

/** A non-2xx answer, as an attempt throws it for `classify`. */
class FailedResponse extends Error {
  readonly response: Response
  readonly data: unknown
  readonly requestHeaders: Headers
  constructor(response: Response, data: unknown, requestHeaders: Headers) {
    super(`answered ${response.status}`)
    this.response = response
    this.data = data
    this.requestHeaders = requestHeaders
  }
}

export function createProviderClient(options: ProviderClientOptions): ProviderClient {
  const { provider, auth, onUnauthorized } = options
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`${provider}: timeoutMs must be a positive number`)
  }
  const engine = createProviderEngine({
    provider,
    logger: options.logger,
    metrics: options.metrics,
    budget: options.budget,
    retry: options.retry,
    secrets: options.secrets,
    signal: options.signal,
  })
  const { policy } = engine
  const base = parseBaseUrl(options.baseUrl, provider)
  const host = base.host

  function buildUrl(path: string, query: Record<string, QueryValue> | undefined): URL {
    if (!path.startsWith('/')) throw new TypeError(`${provider}: path must start with '/'`)
    const url = new URL(`${base.prefix}${path}`)
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.append(k, String(v))
    }
    return url
  }

  function classify(err: unknown, where: string, attempts: number): Failure {
    const secrets = engine.secrets()
    const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`
    if (err instanceof FailedResponse) {
      const res = err.response
      const retryAfterMs = policy.afterStatusCodes.includes(res.status)
        ? (parseRetryAfter(res.headers.get('retry-after')) ?? options.retryAfter?.(res, err.data))
        : undefined
      const own = options.classify?.(res, err.data, { where, attempts, secrets })
      if (own) {
        const rateLimited = own.kind === 'waiting' && own.reason === Reason.RateLimited
        return {
          error: own,
          retryable: own.kind === 'transient',
          retryAfterMs,
          pauseBudgetMs: rateLimited ? own.retryAfterMs : undefined,
          unauthorized: res.status === 401,
        }
      }
      return {
        error: errorForStatus(res, err.data, { where, tries, secrets, retryAfterMs }),
        retryable: policy.statusCodes.includes(res.status),
        retryAfterMs,
        unauthorized: res.status === 401,
      }
    }
    if (err instanceof SwitchboardError) return { error: err }
    if (isTimeout(err)) {
      return {
        error: new TransientError(Reason.Timeout, `${where} timed out after ${timeoutMs} ms (${tries})`),
        retryable: true,
      }
    }
    if (isNetworkError(err)) {
      return {
        error: new TransientError(
          Reason.ProviderUnavailable,
          sanitizeMessage(`${where} unreachable (${tries}): ${describeError(err)}`, secrets),
        ),
        retryable: true,
      }
    }
    return {
      error: new TransientError(
        Reason.Internal,
        sanitizeMessage(`${where} failed: ${describeError(err)}`, secrets),
      ),
    }
  }

  async function call<T>(
    method: HttpMethod,
    path: string,
    opts: CallOptions<T>,
    payload: { body: string; contentType: string } | undefined,
  ): Promise<T> {
    const { operation } = opts
    const url = buildUrl(path, opts.query)
    const where = `${provider} ${operation}: ${method} ${host}${url.pathname}`
    const useAuth = opts.auth !== false && auth !== undefined
    return engine.run({
      operation,
      where,
      retry: opts.idempotent ?? method === 'GET',
      signal: opts.signal,
      attempt: async ({ attempt, signal }) => {
        const headers = new Headers({
          accept: 'application/json',
          'user-agent': 'switchboard',
          ...options.headers,
          ...opts.headers,
        })
        if (payload) headers.set('content-type', payload.contentType)
        const beforeSend = useAuth
          ? () =>
              auth({ operation, method, url: new URL(url), body: payload?.body, headers, attempt, signal })
          : undefined
        const res = await engine.fetch(
          url,
          { method, headers, body: payload?.body ?? null, redirect: 'manual', signal: signal ?? null },
          { operation, attempt, signal, timeoutMs, beforeSend },
        )
        const text = await res.text()
        if (!res.ok) throw new FailedResponse(res, parseError(text), headers)
        if (method === 'DELETE') return undefined as T
        return parseBody(text, opts.schema, {
          where,
          status: res.status,
          contentType: res.headers.get('content-type') ?? '',
        })
      },
      classify: (err, ctx) => classify(err, where, ctx.attempts),
      onUnauthorized:
        useAuth && onUnauthorized
          ? (err) => onUnauthorized({ headers: (err as FailedResponse).requestHeaders })
          : undefined,
    })
  }

  const withBody =
    (method: 'POST' | 'PATCH') =>
    <T>(path: string, opts: PostOptions<T>): Promise<T> => {
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
      return call(method, path, opts, payload)
    }

  return {
    provider,
    baseUrl: base.prefix,
    get: (path, opts) => call('GET', path, opts, undefined),
    post: withBody('POST'),
    patch: withBody('PATCH'),
    delete: async (path, opts) => {
      await call('DELETE', path, { idempotent: true, ...opts, schema: undefined as never }, undefined)
    },
  }
}

/** An error body: its JSON when it is JSON, else its text. */
function parseError(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** fetch's own failures: no connection, a reset, a body cut short. */
function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError && (err.message === 'fetch failed' || err.message === 'terminated')
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

interface StatusContext {
  where: string
  tries: string
  secrets: readonly string[]
  /** The wait the answer asked for (header, or body through `retryAfter`). */
  retryAfterMs: number | undefined
}

/** The registry error for a non-2xx answer, by status (see the table at the top of this file). */
function errorForStatus(res: Response, data: unknown, ctx: StatusContext): SwitchboardError {
  const { status } = res
  const detail = providerDetail(data)
  const text = sanitizeMessage(`${ctx.where} answered ${status}${detail ? `: ${detail}` : ''}`, ctx.secrets)
  const retryAfterMs = ctx.retryAfterMs ?? parseRetryAfter(res.headers.get('retry-after'))
  if (status === 401 || status === 403) {
    return new StallingError(Reason.Unauthorized, `${text} (check the credentials in the Secret)`)
  }
  if (status === 429) {
    return new WaitingError(
      Reason.RateLimited,
      `${text} (rate limited, ${ctx.tries})`,
      retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS,
    )
  }
  if (status === 503 && retryAfterMs !== undefined) {
    return new WaitingError(Reason.ProviderUnavailable, `${text} (${ctx.tries})`, retryAfterMs)
  }
  if (status === 408 || status >= 500) {
    return new TransientError(Reason.ProviderUnavailable, `${text} (${ctx.tries})`)
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
