/**
 * The sandbox's Google token endpoint (`POST /token`) and the access tokens the Calendar API
 * routes check.
 *
 * - JWT-bearer grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `assertion`):
 *   an RS256 JWT whose `iss` is a known service account, verified with that account's public
 *   key; `aud` Google's token URL (what the library writes) or this endpoint's own URL; `iat`
 *   and `exp` at most an hour apart and around now (5 minutes of skew); `scope` required; `sub`
 *   (a user the account acts for) recorded.
 * - Refresh-token grant (`grant_type=refresh_token`, `client_id`, `client_secret`,
 *   `refresh_token`; the client may also authenticate with Basic auth). Google does not rotate
 *   refresh tokens: the answer carries none.
 * - Authorization-code grant (`grant_type=authorization_code`, `code`, `redirect_uri`,
 *   `code_verifier`): a code the consent page (`GET /o/oauth2/v2/auth`, the shared sandbox
 *   consent page) issued, once, bound to client, redirect URI and S256 challenge; the answer
 *   carries a refresh token only when the consent asked for `access_type=offline`, with the
 *   scopes consented to.
 *
 * Answers `{access_token, expires_in, token_type:"Bearer", scope}`, or Google's OAuth errors:
 * 400 `invalid_grant` / `invalid_scope` / `unsupported_grant_type` / `invalid_request`,
 * 401 `invalid_client`.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, verify } from 'node:crypto'
import { AuthorizationCodes, type CodeRequest, tokenClient } from '../oauth/index.ts'

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
export const SCOPE_CALENDAR = 'https://www.googleapis.com/auth/calendar'
export const SCOPE_CALENDAR_EVENTS = 'https://www.googleapis.com/auth/calendar.events'
export const SCOPE_CALENDAR_READONLY = 'https://www.googleapis.com/auth/calendar.readonly'
export const SCOPE_CALENDAR_EVENTS_READONLY = 'https://www.googleapis.com/auth/calendar.events.readonly'
const WRITE_SCOPES = new Set([SCOPE_CALENDAR, SCOPE_CALENDAR_EVENTS])
const READ_SCOPES = new Set([...WRITE_SCOPES, SCOPE_CALENDAR_READONLY, SCOPE_CALENDAR_EVENTS_READONLY])
const SKEW_SECONDS = 300

export interface Principal {
  /** The service account's email, or `oauth:<clientId>` for a refresh token's user. */
  id: string
  kind: 'serviceAccount' | 'user' | 'test'
  /** For a service account acting for a user (domain-wide delegation). */
  subject?: string
}

export interface IssuedToken {
  principal: Principal
  scopes: Set<string>
  expiresAt: number
}

export interface ServiceAccountKey {
  clientEmail: string
  privateKeyId: string
  privateKeyPem: string
  /** The key file, as Google's console hands it out (`JSON.stringify` it into a Secret). */
  keyFile: Record<string, string>
}

export type OAuthClientGrant = {
  clientId: string
  clientSecret: string
  refreshToken: string
}

export class TokenError extends Error {
  readonly status: number
  readonly error: string
  constructor(status: number, error: string, description: string) {
    super(description)
    this.status = status
    this.error = error
  }
}

function b64urlJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
}

export class GoogleAuthState {
  readonly #serviceAccounts = new Map<string, KeyObject>()
  /** OAuth clients, each with its users' refresh tokens and the scopes each was granted. */
  readonly #clients = new Map<string, { secret: string; refreshTokens: Map<string, string[]> }>()
  /** Codes the consent page issued: whether offline access was asked for. */
  readonly codes = new AuthorizationCodes<{ offline: boolean }>({ prefix: '4/sb-' })
  #consent: { refuse: boolean } = { refuse: false }
  readonly #tokens = new Map<string, IssuedToken>()
  readonly #ttlSeconds: number
  /** Token requests answered with a token, by grant. */
  readonly issued = { jwtBearer: 0, refreshToken: 0, authorizationCode: 0 }

  constructor(accessTokenTtlSeconds = 3600) {
    this.#ttlSeconds = accessTokenTtlSeconds
  }

  /** Makes a service account with a fresh RSA key; its key file points `token_uri` at `tokenUri`. */
  createServiceAccount(opts: { clientEmail?: string; tokenUri?: string } = {}): ServiceAccountKey {
    const clientEmail =
      opts.clientEmail ?? `sb-${randomBytes(4).toString('hex')}@sandbox-project.iam.gserviceaccount.com`
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const privateKeyId = randomBytes(20).toString('hex')
    this.#serviceAccounts.set(clientEmail, publicKey)
    const keyFile: Record<string, string> = {
      type: 'service_account',
      project_id: 'sandbox-project',
      private_key_id: privateKeyId,
      private_key: privateKeyPem,
      client_email: clientEmail,
      client_id: String(BigInt(`0x${randomBytes(8).toString('hex')}`)),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: opts.tokenUri ?? GOOGLE_TOKEN_URL,
    }
    return { clientEmail, privateKeyId, privateKeyPem, keyFile }
  }

  /** Registers a service account by its public key (PEM). */
  addServiceAccount(clientEmail: string, publicKeyPem: string): void {
    this.#serviceAccounts.set(clientEmail, createPublicKey(publicKeyPem))
  }

  /** Makes an OAuth client with one refresh token for a user. */
  createOAuthClient(scopes: string[] = [SCOPE_CALENDAR]): OAuthClientGrant {
    const clientId = `${randomBytes(6).toString('hex')}.apps.sandbox.googleusercontent.com`
    const clientSecret = `GOCSPX-${randomBytes(12).toString('base64url')}`
    const refreshToken = `1//sb-${randomBytes(24).toString('base64url')}`
    this.#clients.set(clientId, { secret: clientSecret, refreshTokens: new Map([[refreshToken, scopes]]) })
    return { clientId, clientSecret, refreshToken }
  }

  /** Makes a refresh token unusable (the user revoked access). */
  revokeRefreshToken(refreshToken: string): void {
    for (const c of this.#clients.values()) c.refreshTokens.delete(refreshToken)
  }

  hasClient(clientId: string): boolean {
    return this.#clients.has(clientId)
  }

  /** Whether a refresh token still works (tests check what a Secret holds). */
  refreshTokenValid(refreshToken: string): boolean {
    return [...this.#clients.values()].some((c) => c.refreshTokens.has(refreshToken))
  }

  /** Who answers the next consent page: consent at once, or a refusal. Stays until changed. */
  setConsent(consent: { refuse?: boolean }): void {
    this.#consent = { refuse: !!consent.refuse }
  }

  /** The consent page's answer (the caller checked the client and the redirect URI). */
  consent(req: CodeRequest, query: Record<string, string | undefined>): { code: string } | { error: string } {
    if (this.#consent.refuse) return { error: 'access_denied' }
    if (!req.scope.trim()) return { error: 'invalid_scope' }
    return { code: this.codes.issue(req, { offline: query.access_type === 'offline' }) }
  }

  /** An access token without the token endpoint (tests that do not exercise auth). */
  issueAccessToken(
    principal: Principal = { id: 'tester@sandbox', kind: 'test' },
    scopes = [SCOPE_CALENDAR],
  ): string {
    const token = `ya29.sb-${randomBytes(24).toString('base64url')}`
    this.#tokens.set(token, {
      principal,
      scopes: new Set(scopes),
      expiresAt: Date.now() + this.#ttlSeconds * 1000,
    })
    return token
  }

  /** Invalidates every access token issued so far (the API then answers 401). */
  revokeAccessTokens(): void {
    this.#tokens.clear()
  }

  /** The token's grant, or undefined when unknown or expired. */
  lookup(token: string): IssuedToken | undefined {
    const t = this.#tokens.get(token)
    if (!t) return undefined
    if (t.expiresAt <= Date.now()) {
      this.#tokens.delete(token)
      return undefined
    }
    return t
  }

  static canRead(t: IssuedToken): boolean {
    return [...t.scopes].some((s) => READ_SCOPES.has(s))
  }

  static canWrite(t: IssuedToken): boolean {
    return [...t.scopes].some((s) => WRITE_SCOPES.has(s))
  }

  /**
   * Answers a token request (the form fields, the Authorization header, and this endpoint's
   * own URL, which an assertion may name as audience).
   */
  grant(form: Record<string, string>, authorization: string | undefined, ownUrl: string) {
    const grantType = form.grant_type
    if (grantType === JWT_BEARER) return this.#jwtBearer(form.assertion ?? '', ownUrl)
    if (grantType === 'refresh_token') return this.#refresh(form, authorization)
    if (grantType === 'authorization_code') return this.#code(form, authorization)
    if (!grantType) throw new TokenError(400, 'invalid_request', 'Missing required parameter: grant_type')
    throw new TokenError(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType.slice(0, 64)}`)
  }

  #respond(principal: Principal, scopes: string[]) {
    const token = this.issueAccessToken(principal, scopes)
    return {
      access_token: token,
      expires_in: this.#ttlSeconds - 1,
      token_type: 'Bearer',
      scope: scopes.join(' '),
    }
  }

  #jwtBearer(assertion: string, ownUrl: string) {
    const parts = assertion.split('.')
    if (parts.length !== 3) throw new TokenError(400, 'invalid_grant', 'Invalid JWT: malformed assertion')
    const [h, p, s] = parts as [string, string, string]
    const header = b64urlJson(h) as { alg?: unknown } | undefined
    const claims = b64urlJson(p) as
      | { iss?: unknown; aud?: unknown; scope?: unknown; iat?: unknown; exp?: unknown; sub?: unknown }
      | undefined
    if (!header || !claims) throw new TokenError(400, 'invalid_grant', 'Invalid JWT: malformed assertion')
    if (header.alg !== 'RS256')
      throw new TokenError(400, 'invalid_grant', 'Invalid JWT: unsupported algorithm')
    const iss = typeof claims.iss === 'string' ? claims.iss : ''
    const key = this.#serviceAccounts.get(iss)
    if (!key) throw new TokenError(400, 'invalid_grant', 'Invalid grant: account not found')
    const ok = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))
    if (!ok) throw new TokenError(400, 'invalid_grant', 'Invalid JWT Signature.')
    if (claims.aud !== GOOGLE_TOKEN_URL && claims.aud !== ownUrl) {
      throw new TokenError(400, 'invalid_grant', 'Invalid JWT: audience is not the token endpoint')
    }
    const now = Math.floor(Date.now() / 1000)
    const iat = typeof claims.iat === 'number' ? claims.iat : Number.NaN
    const exp = typeof claims.exp === 'number' ? claims.exp : Number.NaN
    if (
      !Number.isFinite(iat) ||
      !Number.isFinite(exp) ||
      exp <= iat ||
      exp - iat > 3600 ||
      iat > now + SKEW_SECONDS ||
      exp < now - SKEW_SECONDS
    ) {
      throw new TokenError(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.',
      )
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(/\s+/).filter(Boolean) : []
    if (scopes.length === 0)
      throw new TokenError(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.')
    const principal: Principal = { id: iss, kind: 'serviceAccount' }
    if (typeof claims.sub === 'string' && claims.sub) principal.subject = claims.sub
    this.issued.jwtBearer++
    return this.#respond(principal, scopes)
  }

  #client(form: Record<string, string>, authorization: string | undefined) {
    const { clientId, clientSecret } = tokenClient(form, authorization)
    const client = this.#clients.get(clientId)
    if (!client || client.secret !== clientSecret) {
      throw new TokenError(401, 'invalid_client', 'The OAuth client was not found.')
    }
    return { clientId, client }
  }

  #refresh(form: Record<string, string>, authorization: string | undefined) {
    const { clientId, client } = this.#client(form, authorization)
    const scopes = client.refreshTokens.get(form.refresh_token ?? '')
    if (!scopes) throw new TokenError(400, 'invalid_grant', 'Token has been expired or revoked.')
    this.issued.refreshToken++
    return this.#respond({ id: `oauth:${clientId}`, kind: 'user' }, scopes)
  }

  #code(form: Record<string, string>, authorization: string | undefined) {
    const { clientId, client } = this.#client(form, authorization)
    const c = this.codes.redeem(clientId, form.code ?? '', form.redirect_uri ?? '', form.code_verifier)
    if (!c) throw new TokenError(400, 'invalid_grant', 'Malformed auth code.')
    this.issued.authorizationCode++
    const answer: Record<string, unknown> = this.#respond({ id: `oauth:${clientId}`, kind: 'user' }, c.scopes)
    if (c.grant.offline) {
      const refreshToken = `1//sb-${randomBytes(24).toString('base64url')}`
      client.refreshTokens.set(refreshToken, c.scopes)
      answer.refresh_token = refreshToken
    }
    return answer
  }
}
