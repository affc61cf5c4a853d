/**
 * A user's tokens as an OAuth provider keeps them after a consent: access tokens that expire,
 * and refresh tokens that renew them, rotated on every refresh (the spent one stops working, as
 * Calendly and Patreon do) or kept (as Google does: its refresh answer carries no new one).
 *
 * `G` is whose grant it is (a user, an organization...): what the API routes check the access
 * token against.
 */
import { randomBytes } from 'node:crypto'

export interface UserGrant<G> {
  clientId: string
  grant: G
  scopes: string[]
}

export interface IssuedTokens {
  accessToken: string
  /** Absent on a refresh of a provider that does not rotate (the client keeps its own). */
  refreshToken?: string
  expiresIn: number
  scopes: string[]
}

export interface UserTokensOptions {
  /** Access token lifetime. Default an hour. */
  ttlSeconds?: number
  /** A refresh spends the refresh token and issues a new one. Default true. */
  rotate?: boolean
  /** Prefixes, so that the tokens have a recognisable shape. */
  accessPrefix?: string
  refreshPrefix?: string
}

export class UserTokens<G> {
  readonly #access = new Map<string, UserGrant<G> & { expiresAt: number }>()
  readonly #refresh = new Map<string, UserGrant<G>>()
  readonly #o: Required<UserTokensOptions>
  /** Refreshes answered with tokens, and refresh tokens refused. */
  refreshes = 0
  refusedRefreshes = 0

  constructor(opts: UserTokensOptions = {}) {
    this.#o = {
      ttlSeconds: opts.ttlSeconds ?? 3600,
      rotate: opts.rotate ?? true,
      accessPrefix: opts.accessPrefix ?? '',
      refreshPrefix: opts.refreshPrefix ?? '',
    }
  }

  get ttlSeconds(): number {
    return this.#o.ttlSeconds
  }

  set ttlSeconds(s: number) {
    this.#o.ttlSeconds = s
  }

  /** An access token and a refresh token for a grant (what a redeemed code gives). */
  issue(g: UserGrant<G>): IssuedTokens & { refreshToken: string } {
    const refreshToken = `${this.#o.refreshPrefix}${randomBytes(24).toString('base64url')}`
    this.#refresh.set(refreshToken, g)
    return { ...this.#accessFor(g), refreshToken }
  }

  #accessFor(g: UserGrant<G>): IssuedTokens {
    const accessToken = `${this.#o.accessPrefix}${randomBytes(24).toString('base64url')}`
    this.#access.set(accessToken, { ...g, expiresAt: Date.now() + this.#o.ttlSeconds * 1000 })
    return { accessToken, expiresIn: this.#o.ttlSeconds, scopes: g.scopes }
  }

  /** The refresh-token grant for this client; undefined for a token it does not know (`invalid_grant`). */
  refresh(clientId: string, refreshToken: string): IssuedTokens | undefined {
    const g = this.#refresh.get(refreshToken)
    if (!g || g.clientId !== clientId) {
      this.refusedRefreshes++
      return undefined
    }
    this.refreshes++
    if (!this.#o.rotate) return this.#accessFor(g)
    this.#refresh.delete(refreshToken)
    return this.issue(g)
  }

  /** The grant behind a live access token. */
  lookup(accessToken: string): (UserGrant<G> & { expiresIn: number }) | undefined {
    const t = this.#access.get(accessToken)
    if (!t || t.expiresAt <= Date.now()) return undefined
    return {
      clientId: t.clientId,
      grant: t.grant,
      scopes: t.scopes,
      expiresIn: Math.floor((t.expiresAt - Date.now()) / 1000),
    }
  }

  refreshTokenValid(token: string): boolean {
    return this.#refresh.has(token)
  }

  /** The user revoked the application: every token of the grants `which` picks stops working. */
  revoke(which: (g: UserGrant<G>) => boolean): void {
    for (const [k, v] of this.#access) if (which(v)) this.#access.delete(k)
    for (const [k, v] of this.#refresh) if (which(v)) this.#refresh.delete(k)
  }

  /** Every access token expires now (refresh tokens keep working). */
  expireAccessTokens(): void {
    for (const v of this.#access.values()) v.expiresAt = Date.now() - 1
  }

  reset(): void {
    this.#access.clear()
    this.#refresh.clear()
    this.refreshes = 0
    this.refusedRefreshes = 0
  }
}

/**
 * The client of a token request: HTTP Basic (RFC 6749 §2.3.1) when the request carries it, else
 * `client_id` and `client_secret` in the form.
 */
export function tokenClient(
  form: Record<string, string | undefined>,
  authorization: string | undefined,
): { clientId: string; clientSecret: string; basic: boolean } {
  const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '')
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon > 0) {
      try {
        return {
          clientId: decodeURIComponent(decoded.slice(0, colon)),
          clientSecret: decodeURIComponent(decoded.slice(colon + 1)),
          basic: true,
        }
      } catch {
        return { clientId: '', clientSecret: '', basic: true }
      }
    }
  }
  return { clientId: form.client_id ?? '', clientSecret: form.client_secret ?? '', basic: false }
}
