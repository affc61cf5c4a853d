/**
 * The OAuth 2.0 authorization-code grant (RFC 6749 §4.1.3, with the PKCE verifier of RFC 7636
 * where the provider takes it): the code a user's consent gave, exchanged once for tokens. Posted
 * through the shared HTTP layer like the refresh grant, never repeated (a code works once).
 *
 * | answer                                  | error                                         |
 * | --------------------------------------- | --------------------------------------------- |
 * | `error: invalid_grant` (400)            | `StallingError(ProviderRejected)`: the code was spent, expired, or not issued for this link |
 * | `error: invalid_client` (401, 400)      | `StallingError(InvalidCredentials)`           |
 * | 429, 5xx, network                       | as the HTTP layer maps them                   |
 */
import type { Registry } from 'prom-client'
import { Reason, StallingError, type SwitchboardError } from '../errors.ts'
import { createProviderClient } from '../http/index.ts'
import type { Logger } from '../log.ts'
import {
  clientAuthentication,
  DEFAULT_EXPIRES_IN_S,
  invalidClient,
  oauthError,
  type TokenSet,
  tokenResponse,
  twitchInvalid,
} from './refresh.ts'

export interface CodeGrantOptions {
  provider: string
  tokenUrl: string
  clientId: string
  clientSecret: string
  code: string
  redirectUri: string
  /** The PKCE verifier whose S256 challenge the consent request carried. */
  codeVerifier?: string | undefined
  clientAuth?: 'body' | 'basic'
  logger?: Logger
  metrics?: Registry
  timeoutMs?: number
  signal?: AbortSignal
  now?: () => number
}

export async function codeGrant(opts: CodeGrantOptions): Promise<TokenSet> {
  const url = new URL(opts.tokenUrl)
  const now = opts.now ?? Date.now
  const http = createProviderClient({
    provider: opts.provider,
    baseUrl: url.origin,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    secrets: () => [opts.clientSecret, opts.code, ...(opts.codeVerifier ? [opts.codeVerifier] : [])],
    classify: (res, body, ctx): SwitchboardError | undefined => {
      const code = oauthError(body)
      if (code === 'invalid_grant' || twitchInvalid(res.status, body, 'authorization code')) {
        return new StallingError(
          Reason.ProviderRejected,
          `${ctx.where} refused the authorization code (invalid_grant): it was used already, expired, or was issued for another link`,
        )
      }
      return invalidClient(ctx.where, res.status, code)
    },
  })
  const form: Record<string, string> = {
    grant_type: 'authorization_code',
    code: opts.code,
    redirect_uri: opts.redirectUri,
  }
  if (opts.codeVerifier) form.code_verifier = opts.codeVerifier
  const headers = clientAuthentication(opts, form)
  const started = now()
  const body = await http.post(url.pathname, {
    operation: 'oauth.code',
    schema: tokenResponse,
    form,
    headers,
    idempotent: false,
  })
  if (!body.refresh_token) {
    throw new StallingError(
      Reason.MalformedResponse,
      `${opts.provider} answered the authorization code without a refresh token`,
    )
  }
  const out: TokenSet = {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    rotated: true,
    expiresAt: started + (body.expires_in ?? DEFAULT_EXPIRES_IN_S) * 1000,
  }
  if (body.scope !== undefined) out.scope = body.scope
  return out
}
