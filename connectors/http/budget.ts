/**
 * Request budgets: one token bucket per provider account, shared by every client of that account
 * in the process, so that fifty casinos on one platform account stay within the account's rate
 * limit together. The bucket itself is `limiter`'s `TokenBucket` (FIFO waiters, one timer); this
 * module adds what a provider client needs on top of it: a registry keyed by
 * `${provider}:${accountKey}`, a pause that every client of the account honours after the
 * provider answered 429/503 with `Retry-After`, abort signals, and a bound on how long a caller
 * is willing to wait (past it: `WaitingError(RateLimited)`, so the controller comes back later
 * instead of holding a reconcile).
 */
import { createHash } from 'node:crypto'
import { TokenBucket } from 'limiter'
import { raceAbort, sleep, throwIfAborted } from '../abort.ts'
import { Reason, WaitingError } from '../errors.ts'

export interface BudgetLimits {
  /** Sustained requests per second. */
  ratePerSecond: number
  /** Requests that may go out at once after a quiet period (the bucket size). */
  burst: number
}

/** Used for a provider with no limits of its own. */
export const DEFAULT_BUDGET_LIMITS: Readonly<BudgetLimits> = Object.freeze({ ratePerSecond: 10, burst: 20 })

export interface TakeOptions {
  signal?: AbortSignal | undefined
  /**
   * Longest wait (ms) the caller accepts. When the account is paused for longer, or the queue
   * ahead is longer, `take` throws `WaitingError(RateLimited, retryAfterMs)` at once.
   * Default: no bound.
   */
  maxWaitMs?: number | undefined
}

/** The budget of one provider account. Obtain it from a `BudgetRegistry`. */
export class RequestBudget {
  readonly key: string
  readonly limits: Readonly<BudgetLimits>
  readonly #bucket: TokenBucket
  #pausedUntil = 0
  #waiting = 0
  #granted = 0

  constructor(key: string, limits: BudgetLimits) {
    validateLimits(limits, key)
    this.key = key
    this.limits = Object.freeze({ ...limits })
    this.#bucket = new TokenBucket({
      bucketSize: limits.burst,
      tokensPerInterval: limits.ratePerSecond,
      interval: 1000,
    })
    // limiter starts a bucket empty; an account that has been quiet may use its burst at once
    this.#bucket.content = limits.burst
  }

  /** Requests let through since creation. */
  get granted(): number {
    return this.#granted
  }

  /** Callers waiting for a token right now. */
  get waiting(): number {
    return this.#waiting
  }

  /** Milliseconds left of a pause set by `pause` (0 when not paused). */
  get pausedForMs(): number {
    return Math.max(0, this.#pausedUntil - Date.now())
  }

  /**
   * Estimated wait (ms) for one more request: the pause left, plus the queue ahead divided by
   * the rate when the bucket cannot serve it at once.
   */
  estimateWaitMs(): number {
    this.#bucket.drip()
    const deficit = this.#waiting + 1 - this.#bucket.content
    return this.pausedForMs + Math.max(0, (deficit * 1000) / this.limits.ratePerSecond)
  }

  /**
   * Waits for the right to send one request. Rejects with `WaitingError(RateLimited)` when the
   * wait would exceed `maxWaitMs`, and with the signal's reason (or a `TransientError(Timeout)`)
   * when the signal aborts.
   */
  async take(opts: TakeOptions = {}): Promise<void> {
    const { signal, maxWaitMs } = opts
    throwIfAborted(signal, abortedWaiting(this.key))
    if (maxWaitMs !== undefined) {
      const wait = this.estimateWaitMs()
      if (wait > maxWaitMs) {
        throw new WaitingError(
          Reason.RateLimited,
          `request budget of ${this.key} exhausted: next request possible in about ${Math.ceil(wait / 1000)} s`,
          Math.ceil(wait),
        )
      }
    }
    this.#waiting++
    try {
      for (;;) {
        const pause = this.#pausedUntil - Date.now()
        if (pause > 0) {
          await sleep(pause, signal, abortedWaiting(this.key))
          continue
        }
        // a token the bucket grants after the caller gave up is spent (limiter cannot withdraw a
        // queued request), which errs on the side of sending fewer requests
        await raceAbort(this.#bucket.removeTokens(1), signal, abortedWaiting(this.key))
        // a pause set while this caller waited for its token applies to it as well
        if (this.#pausedUntil > Date.now()) continue
        this.#granted++
        return
      }
    } finally {
      this.#waiting--
    }
  }

  /**
   * Holds every client of the account for `ms` (a provider's `Retry-After`). A shorter pause
   * never shortens a longer one already set.
   */
  pause(ms: number): void {
    if (!Number.isFinite(ms) || ms <= 0) return
    this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + ms)
  }
}

export interface BudgetRegistryOptions {
  /** Limits per provider id; providers not listed get `fallback`. */
  limits?: Record<string, BudgetLimits>
  /** Limits for providers without an entry. Default `DEFAULT_BUDGET_LIMITS` (10/s, burst 20). */
  fallback?: BudgetLimits
}

/**
 * Budgets by `${provider}:${accountKey}`. One registry per process is the point (see
 * `defaultBudgets`); tests create their own to use tiny rates.
 */
export class BudgetRegistry {
  readonly #budgets = new Map<string, RequestBudget>()
  readonly #limits = new Map<string, BudgetLimits>()
  readonly #fallback: BudgetLimits

  constructor(opts: BudgetRegistryOptions = {}) {
    this.#fallback = opts.fallback ?? DEFAULT_BUDGET_LIMITS
    validateLimits(this.#fallback, 'fallback')
    for (const [provider, limits] of Object.entries(opts.limits ?? {})) this.setLimits(provider, limits)
  }

  /** Sets a provider's limits (over the connector's defaults) for budgets created from now on. */
  setLimits(provider: string, limits: BudgetLimits): void {
    validateLimits(limits, provider)
    this.#limits.set(provider, { ...limits })
  }

  /** Limits set for a provider on this registry, if any. */
  limitsFor(provider: string): BudgetLimits | undefined {
    return this.#limits.get(provider)
  }

  /**
   * The budget of one account, created on first use. Its limits: those set for the provider on
   * this registry, else `defaults` (the connector's own), else the registry's fallback.
   * `accountKey` must not be a credential: use `accountKeyFor`.
   */
  get(provider: string, accountKey: string, defaults?: BudgetLimits): RequestBudget {
    const key = `${provider}:${accountKey}`
    let budget = this.#budgets.get(key)
    if (!budget) {
      budget = new RequestBudget(key, this.#limits.get(provider) ?? defaults ?? this.#fallback)
      this.#budgets.set(key, budget)
    }
    return budget
  }

  /** Forgets an account's budget (its next `get` starts a fresh bucket). */
  delete(provider: string, accountKey: string): boolean {
    return this.#budgets.delete(`${provider}:${accountKey}`)
  }

  get size(): number {
    return this.#budgets.size
  }
}

/** The process-wide registry the connectors use unless given another. */
export const defaultBudgets = new BudgetRegistry()

/**
 * A stable, non-reversible key for an account: the first 16 hex chars of sha256 over the parts
 * (endpoint, account id, api key ...). Safe to log; the parts themselves never leave here.
 */
export function accountKeyFor(...parts: readonly string[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part).update('\0')
  return hash.digest('hex').slice(0, 16)
}

function validateLimits(limits: BudgetLimits, what: string): void {
  const { ratePerSecond, burst } = limits
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) {
    throw new RangeError(`budget ${what}: ratePerSecond must be a positive number`)
  }
  if (!Number.isInteger(burst) || burst < 1) {
    throw new RangeError(`budget ${what}: burst must be an integer >= 1`)
  }
}

const abortedWaiting = (key: string) => `aborted while waiting for the request budget of ${key}`
