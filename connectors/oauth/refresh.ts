/**
 * The OAuth 2.0 refresh-token grant (RFC 6749 §6), for every provider whose user tokens expire
 * (Patreon now; Twitch, Calendly and Google user tokens take the same call). It posts
 * `grant_type=refresh_token` with the client's id and secret through the shared HTTP layer
 * (budget, logs, metrics, redaction) and maps the answers that matter:
 *
 * | answer                                  | error                                         |
 * | --------------------------------------- | --------------------------------------------- |
 * | `error: invalid_grant` (400, some 401)  | `StallingError(TokenRevoked)`: authorise again |
 * | `error: invalid_client` (401, 400)      | `StallingError(InvalidCredentials)`           |
 * | 429, 5xx, network                       | as the HTTP layer maps them (waiting, transient) |
 *
 * The request is never repeated by the HTTP layer: with rotation, a refresh that reached the
 * provider has spent the old refresh token, so a blind retry would trade a lost answer for a dead
 * grant. Callers (controller/runtime/oauth-tokens.ts) retry on the next reconcile, after reading
 * the Secret again.
 */
import type { Registry } from 'prom-client'
import { z } from 'zod'
import { Reason, StallingError, type SwitchboardError } from '../errors.ts'
import { createProviderClient, type RetryPolicy } from '../http/index.ts'
import type { Logger } from '../log.ts'

export interface TokenSet {
  accessToken: string
  /** The refresh token to use next time: the new one when the provider rotated it, else the old. */
  refreshToken: string
  /** Epoch ms when the access token expires. */
  expiresAt: number
  /** Whether the provider sent a new refresh token (the old one is spent). */
  rotated: boolean
  scope?: string
}

export interface RefreshGrantOptions {
  /** Connector id, for logs and metrics (`patreon`). */
  provider: string
  /** Full URL of the token endpoint (`https://www.patreon.com/api/oauth2/token`). */
  tokenUrl: string
  clientId: string
  clientSecret: string
  refreshToken: string
  /** How the client authenticates: in the form body (Patreon, Twitch) or HTTP Basic. Default body. */
  clientAuth?: 'body' | 'basic'
  logger?: Logger
  metrics?: Registry
  timeoutMs?: number
  retry?: RetryPolicy
  signal?: AbortSignal
  /** The clock (tests). */
  now?: () => number
}

export const tokenResponse = z
  .object({
    access_token: z.string().min(1),
    refresh_token: z.string().min(1).optional(),
    expires_in: z.number().positive().optional(),
    // a space-separated string (RFC 6749), or an array of scopes (Twitch)
    scope: z.union([z.string(), z.array(z.string()).transform((a) => a.join(' '))]).optional(),
    token_type: z.string().optional(),
  })
  .loose()

/** Access tokens without `expires_in` are taken to last this long (an hour, as most do). */
export const DEFAULT_EXPIRES_IN_S = 3600

/**
 * How the OAuth client authenticates at the token endpoint: its id and secret in the form body, or
 * HTTP Basic (RFC 6749 §2.3.1). Adds them to `form`, or returns the header that carries them.
 */
export function clientAuthentication(
  opts: { clientId: string; clientSecret: string; clientAuth?: 'body' | 'basic' | undefined },
  form: Record<string, string>,
): Record<string, string> {
  if (opts.clientAuth === 'basic') {
    const basic = Buffer.from(
      `${encodeURIComponent(opts.clientId)}:${encodeURIComponent(opts.clientSecret)}`,
    ).toString('base64')
    return { authorization: `Basic ${basic}` }
  }
  form.client_id = opts.clientId
  form.client_secret = opts.clientSecret
  return {}
}

/** A refused OAuth client (`invalid_client`, or a bare 401): the Secret's clientId or clientSecret. */
export function invalidClient(
  where: string,
  status: number,
  code: string | undefined,
): StallingError | undefined {
  if (code !== 'invalid_client' && (status !== 401 || code !== undefined)) return undefined
  return new StallingError(
    Reason.InvalidCredentials,
    `${where} refused the OAuth client (${code ?? `HTTP ${status}`}): check clientId and clientSecret in the Secret`,
    { field: 'clientSecret' },
  )
}

export function oauthError(body: unknown): string | undefined {
  if (body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string') {
    return (body as { error: string }).error
  }
  return undefined
}

/**
 * Twitch answers a refused grant without an OAuth `error`: 400
 * `{"status":400,"message":"Invalid refresh token"}` (or `"Invalid authorization code"`).
 */
export function twitchInvalid(status: number, body: unknown, what: string): boolean {
  if (status !== 400 || !body || typeof body !== 'object') return false
  const message = (body as { message?: unknown }).message
  return typeof message === 'string' && message.toLowerCase() === `invalid ${what}`
}

/** Exchanges a refresh token for a new access token (and, with rotation, a new refresh token). */
export async function refreshGrant(opts: RefreshGrantOptions): Promise<TokenSet> {
  const url = new URL(opts.tokenUrl)
  const now = opts.now ?? Date.now
  const http = createProviderClient({
    provider: opts.provider,
    baseUrl: url.origin,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    secrets: () => [opts.clientSecret, opts.refreshToken],
    classify: (res, body, ctx): SwitchboardError | undefined => {
      const code = oauthError(body)
      if (code === 'invalid_grant' || twitchInvalid(res.status, body, 'refresh token')) {
        return new StallingError(
          Reason.TokenRevoked,
          `${ctx.where} refused the refresh token (invalid_grant): the creator revoked the app, or the token was replaced; authorise again and put the new refreshToken in the Secret`,
          { field: 'refreshToken' },
        )
      }
      return invalidClient(ctx.where, res.status, code)
    },
  })
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: opts.refreshToken }
  const headers = clientAuthentication(opts, form)
  const started = now()
  const body = await http.post(`${url.pathname}`, {
    operation: 'oauth.refresh',
    schema: tokenResponse,
    form,
    headers,
    idempotent: false,
  })
  const out: TokenSet = {
    accessToken: body.access_token,
    refreshToken: body.refresh_token ?? opts.refreshToken,
    rotated: body.refresh_token !== undefined && body.refresh_token !== opts.refreshToken,
    // from when the request was sent: the token cannot have lived longer than that
    expiresAt: started + (body.expires_in ?? DEFAULT_EXPIRES_IN_S) * 1000,
  }
  if (body.scope !== undefined) out.scope = body.scope
  return out
}
