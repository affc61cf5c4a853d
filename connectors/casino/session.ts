/**
 * A cached credential with a lifetime: an OAuth2 access token, a login session. One value is
 * shared by every request of a client; it is obtained on first use, renewed shortly before it
 * expires, and dropped when the platform answers 401 for it (the HTTP client then repeats the
 * request once with a fresh one). Concurrent callers share one in-flight renewal.
 */

export interface Grant {
  /** The token or session id (never logged). */
  value: string
  /** Lifetime from now, in ms. */
  expiresInMs: number
}

export interface SessionCacheOptions {
  /** Obtains a new grant (a token request, a login). Rejects with a SwitchboardError. */
  obtain: () => Promise<Grant>
  /** Renew this long before expiry. Default: a fifth of the lifetime, at most 60 s. */
  refreshBeforeMs?: number
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
}

export class SessionCache {
  readonly #obtain: () => Promise<Grant>
  readonly #refreshBeforeMs: number | undefined
  readonly #now: () => number
  #current: { value: string; renewAt: number; expiresAt: number } | undefined
  #pending: Promise<string> | undefined
  #obtained = 0

  constructor(opts: SessionCacheOptions) {
    this.#obtain = opts.obtain
    this.#refreshBeforeMs = opts.refreshBeforeMs
    this.#now = opts.now ?? Date.now
  }

  /** Grants obtained so far. */
  get obtained(): number {
    return this.#obtained
  }

  /** The current value, renewed first when it is missing or about to expire. */
  async get(): Promise<string> {
    const current = this.#current
    if (current && this.#now() < current.renewAt) return current.value
    this.#pending ??= this.#renew().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  /** Drops the cached value: all of it, or only if it still is `value` (a stale one). */
  invalidate(value?: string): void {
    if (value === undefined || this.#current?.value === value) this.#current = undefined
  }

  async #renew(): Promise<string> {
    const grant = await this.#obtain()
    this.#obtained++
    const now = this.#now()
    const lifetime = Math.max(0, grant.expiresInMs)
    const before = this.#refreshBeforeMs ?? Math.min(60_000, lifetime / 5)
    this.#current = {
      value: grant.value,
      expiresAt: now + lifetime,
      renewAt: now + Math.max(0, lifetime - before),
    }
    return grant.value
  }
}
