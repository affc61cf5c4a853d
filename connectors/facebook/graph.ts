/**
 * Requests to the Facebook Graph API. Graph reports failures in the body,
 * `{"error":{"message","type","code","error_subcode","is_transient","fbtrace_id"}}`, with an
 * HTTP status that does not say what happened (throttling arrives as 400 or 403, an expired
 * token as 400 or 401), so the mapping reads `error.code`:
 *
 * | Graph error                                                | error                                     |
 * | ---------------------------------------------------------- | ----------------------------------------- |
 * | 190, 102 (token invalid, expired or revoked)               | `StallingError(Unauthorized)`             |
 * | 10, 200–299 (a permission the token lacks)                 | `StallingError(Unauthorized)`             |
 * | 4, 17, 32, 613, 80001–80014 (rate limits)                  | `WaitingError(RateLimited)`               |
 * | 1, 2, `is_transient`, HTTP 5xx without a Graph error        | `TransientError(ProviderUnavailable)`     |
 * | 368 (temporarily blocked)                                  | `WaitingError(ProviderRejected)`, 1 h     |
 * | 506 (duplicate of a recent post)                           | `DuplicatePostError` (stalling)           |
 * | anything else                                              | `StallingError(ProviderRejected)`         |
 *
 * The wait of a rate limit is the `estimated_time_to_regain_access` (minutes) of the
 * `X-Business-Use-Case-Usage` header when Graph sends one, else `Retry-After`, else 5 minutes.
 *
 * Requests go through the shared client of connectors/http (budget, timeouts, retries, logs,
 * metrics) with `graphErrorFor` as its `classify` hook, so the mapping above replaces the one by
 * status. Idempotent requests (GET) are retried on transient failures and timeouts; a POST never
 * is. A rate limit pauses the account's budget for its wait.
 */
import { createHmac } from 'node:crypto'
import type { Registry } from 'prom-client'
import type { z } from 'zod'
import { parseRetryAfter } from '../delivery.ts'
import {
  Reason,
  StallingError,
  type SwitchboardError,
  sanitizeMessage,
  TransientError,
  WaitingError,
} from '../errors.ts'
import { createProviderClient, type RequestBudget, type RetryPolicy } from '../http/index.ts'
import type { Logger } from '../log.ts'

export const FACEBOOK_PROVIDER = 'facebook'
export const GRAPH_URL = 'https://graph.facebook.com'
/** Graph API version used unless configured (each version lives about two years). */
export const DEFAULT_GRAPH_VERSION = 23
/** Wait after a rate limit that says nothing about when it ends. */
export const GRAPH_RATE_LIMIT_WAIT_MS = 5 * 60_000
const BLOCKED_WAIT_MS = 60 * 60_000

const RATE_CODES = new Set([4, 17, 32, 613])
const TOKEN_CODES = new Set([190, 102])
const TRANSIENT_CODES = new Set([1, 2])

export interface GraphError {
  message: string
  type: string
  code: number
  subcode: number | undefined
  transient: boolean
  traceId: string | undefined
}

/** The Graph error in a failed response's body, if there is one. */
export function readGraphError(data: unknown): GraphError | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const e = (data as { error?: unknown }).error
  if (typeof e !== 'object' || e === null) return undefined
  const o = e as Record<string, unknown>
  const code = typeof o.code === 'number' ? o.code : Number(o.code)
  if (!Number.isFinite(code)) return undefined
  return {
    message: typeof o.message === 'string' ? o.message : '',
    type: typeof o.type === 'string' ? o.type : '',
    code,
    subcode: typeof o.error_subcode === 'number' ? o.error_subcode : undefined,
    transient: o.is_transient === true,
    traceId: typeof o.fbtrace_id === 'string' ? o.fbtrace_id : undefined,
  }
}

function isRateCode(code: number): boolean {
  return RATE_CODES.has(code) || (code >= 80001 && code <= 80014)
}

/** Minutes until access returns, from `X-Business-Use-Case-Usage`, in ms. */
export function regainAccessMs(header: string | null): number | undefined {
  if (!header) return undefined
  try {
    const parsed = JSON.parse(header) as Record<string, { estimated_time_to_regain_access?: unknown }[]>
    let max = 0
    for (const entries of Object.values(parsed)) {
      for (const e of Array.isArray(entries) ? entries : []) {
        const m = Number(e.estimated_time_to_regain_access)
        if (Number.isFinite(m) && m > max) max = m
      }
    }
    return max > 0 ? max * 60_000 : undefined
  } catch {
    return undefined
  }
}

/** 506: Facebook refused a message identical to a recent post of the same feed. */
export class DuplicatePostError extends StallingError {
  constructor(message: string) {
    super(Reason.ProviderRejected, message)
  }
}

/** Maps a failed Graph response (status, parsed body, headers) to a registry error. */
export function graphErrorFor(
  status: number,
  data: unknown,
  headers: Headers,
  where: string,
  secrets: readonly string[],
): SwitchboardError {
  const g = readGraphError(data)
  const detail = g ? `(#${g.code}${g.subcode ? `/${g.subcode}` : ''}) ${g.message}` : ''
  const text = sanitizeMessage(`${where} answered ${status}${detail ? `: ${detail}` : ''}`, secrets)
  const retryAfter = parseRetryAfter(headers.get('retry-after'))
  if (g) {
    if (TOKEN_CODES.has(g.code)) {
      return new StallingError(
        Reason.Unauthorized,
        `${text} (the page access token is invalid or expired: renew it in the Secret)`,
      )
    }
    if (isRateCode(g.code)) {
      const wait =
        regainAccessMs(headers.get('x-business-use-case-usage')) ?? retryAfter ?? GRAPH_RATE_LIMIT_WAIT_MS
      return new WaitingError(Reason.RateLimited, `${text} (rate limited)`, wait)
    }
    if (g.code === 10 || (g.code >= 200 && g.code <= 299)) {
      return new StallingError(
        Reason.Unauthorized,
        `${text} (the token lacks a permission: a Page token with pages_manage_posts is needed)`,
      )
    }
    if (g.code === 506) return new DuplicatePostError(`${text} (the same message was posted recently)`)
    if (g.code === 368)
      return new WaitingError(Reason.ProviderRejected, `${text} (temporarily blocked)`, BLOCKED_WAIT_MS)
    if (TRANSIENT_CODES.has(g.code) || g.transient || status >= 500) {
      return new TransientError(Reason.ProviderUnavailable, text)
    }
    return new StallingError(Reason.ProviderRejected, text)
  }
  if (status === 429)
    return new WaitingError(
      Reason.RateLimited,
      `${text} (rate limited)`,
      retryAfter ?? GRAPH_RATE_LIMIT_WAIT_MS,
    )
  if (status === 401) return new StallingError(Reason.Unauthorized, text)
  if (status === 408 || status >= 500) return new TransientError(Reason.ProviderUnavailable, text)
  return new StallingError(Reason.ProviderRejected, text)
}

/** `appsecret_proof`: hex HMAC-SHA256 of the access token, keyed with the app secret. */
export function appSecretProof(accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex')
}

export interface GraphTransportOptions {
  accessToken: string
  appSecret?: string | undefined
  /** Default `https://graph.facebook.com`. */
  baseUrl?: string | undefined
  /** Major version: 23 → `/v23.0`. */
  version?: number | undefined
  logger?: Logger | undefined
  metrics?: Registry | undefined
  budget?: RequestBudget | undefined
  timeoutMs?: number | undefined
  retry?: RetryPolicy | undefined
  signal?: AbortSignal | undefined
}

export interface GraphCall<T> {
  /** Bounded metric label (`feed.publish`). */
  operation: string
  schema: z.ZodType<T>
  query?: Record<string, string | number | undefined>
  /** POST body, sent form-encoded as Graph expects. */
  form?: Record<string, string | undefined>
  signal?: AbortSignal | undefined
}

export interface GraphTransport {
  readonly baseUrl: string
  readonly version: string
  get<T>(path: string, call: GraphCall<T>): Promise<T>
  post<T>(path: string, call: GraphCall<T>): Promise<T>
}

export function createGraphTransport(opts: GraphTransportOptions): GraphTransport {
  const versionNumber = opts.version ?? DEFAULT_GRAPH_VERSION
  if (!Number.isInteger(versionNumber) || versionNumber < 2 || versionNumber > 99) {
    throw new StallingError(Reason.InvalidSpec, 'facebook: Graph API version must be an integer like 23', {
      field: 'graphApiVersion',
    })
  }
  const version = `v${versionNumber}.0`
  const secrets = [opts.accessToken, ...(opts.appSecret ? [opts.appSecret] : [])]
  const proof = opts.appSecret ? appSecretProof(opts.accessToken, opts.appSecret) : undefined
  const http = createProviderClient({
    provider: FACEBOOK_PROVIDER,
    baseUrl: opts.baseUrl ?? GRAPH_URL,
    logger: opts.logger,
    metrics: opts.metrics,
    budget: opts.budget,
    timeoutMs: opts.timeoutMs,
    retry: opts.retry,
    signal: opts.signal,
    headers: { authorization: `Bearer ${opts.accessToken}` },
    secrets: () => secrets,
    classify: (res, body, ctx) => graphErrorFor(res.status, body, res.headers, ctx.where, ctx.secrets),
  })
  const prefix = `/${version}`
  const defined = <V>(o: Record<string, V | undefined> = {}) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, V>

  return {
    baseUrl: http.baseUrl,
    version,
    get: (path, call) =>
      http.get(`${prefix}${path}`, {
        operation: call.operation,
        schema: call.schema,
        query: { ...defined(call.query), ...(proof ? { appsecret_proof: proof } : {}) },
        signal: call.signal,
      }),
    post: (path, call) =>
      http.post(`${prefix}${path}`, {
        operation: call.operation,
        schema: call.schema,
        query: defined(call.query),
        form: { ...defined(call.form), ...(proof ? { appsecret_proof: proof } : {}) },
        signal: call.signal,
      }),
  }
}
