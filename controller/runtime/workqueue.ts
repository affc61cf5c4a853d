import type { QueueMetrics } from './metrics.ts'

export interface BackoffOptions {
  /** First retry delay (default 500 ms). */
  baseDelayMs?: number
  /** Upper bound of the per-item exponential backoff (default 5 min). */
  maxDelayMs?: number
}

/** Per-item exponential backoff: base * 2^failures, capped. `forget` resets an item. */
export class ItemBackoff {
  readonly #failures = new Map<string, number>()
  readonly #base: number
  readonly #max: number

  constructor(opts: BackoffOptions = {}) {
    this.#base = opts.baseDelayMs ?? 500
    this.#max = opts.maxDelayMs ?? 5 * 60_000
  }

  when(key: string): number {
    const n = this.#failures.get(key) ?? 0
    this.#failures.set(key, n + 1)
    return Math.min(this.#base * 2 ** n, this.#max)
  }

  retries(key: string): number {
    return this.#failures.get(key) ?? 0
  }

  forget(key: string): void {
    this.#failures.delete(key)
  }
}

/**
 * A work queue with the guarantees controllers rely on: a key is queued at most once however
 * often it is added, a key being processed is never handed to a second worker (an add while it
 * runs is kept and handed out after `done`), delayed adds keep the earliest deadline, and
 * rate-limited adds back off per item.
 */
export class WorkQueue {
  readonly #queue: string[] = []
  readonly #dirty = new Set<string>()
  readonly #processing = new Map<string, number>()
  readonly #addedAt = new Map<string, number>()
  readonly #delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>()
  readonly #waiters: Array<(key: string | undefined) => void> = []
  readonly #backoff: ItemBackoff
  readonly #metrics: QueueMetrics | undefined
  #shuttingDown = false
  #drained: (() => void) | undefined

  constructor(opts: { backoff?: BackoffOptions; metrics?: QueueMetrics } = {}) {
    this.#backoff = new ItemBackoff(opts.backoff)
    this.#metrics = opts.metrics
  }

  get length(): number {
    return this.#queue.length
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown
  }

  add(key: string): void {
    if (this.#shuttingDown) return
    this.#metrics?.adds.inc()
    if (this.#dirty.has(key)) return
    this.#dirty.add(key)
    if (this.#processing.has(key)) return
    this.#push(key)
  }

  /** Adds the key after `delayMs`; a pending earlier deadline for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return
    if (delayMs <= 0) {
      this.add(key)
      return
    }
    const at = Date.now() + delayMs
    const existing = this.#delayed.get(key)
    if (existing && existing.at <= at) return
    if (existing) clearTimeout(existing.timer)
    const timer = setTimeout(() => {
      this.#delayed.delete(key)
      this.add(key)
    }, delayMs)
    timer.unref()
    this.#delayed.set(key, { at, timer })
  }

  /** Adds the key after its per-item backoff; returns the delay used. */
  addRateLimited(key: string): number {
    const delay = this.#backoff.when(key)
    this.#metrics?.retries.inc()
    this.addAfter(key, delay)
    return delay
  }

  /** Clears the key's backoff (call after a success or a stall). */
  forget(key: string): void {
    this.#backoff.forget(key)
  }

  retries(key: string): number {
    return this.#backoff.retries(key)
  }

  /** Waits for the next key; resolves `undefined` once the queue is shut down and empty. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift()
    if (key !== undefined) return Promise.resolve(this.#take(key))
    if (this.#shuttingDown) return Promise.resolve(undefined)
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  done(key: string): void {
    const started = this.#processing.get(key)
    this.#processing.delete(key)
    if (started !== undefined) this.#metrics?.workDuration.observe((performance.now() - started) / 1000)
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key)
    if (this.#shuttingDown && this.#processing.size === 0) this.#drained?.()
  }

  /** Seconds the longest-running key has been processed (for the workqueue gauge). */
  longestRunningSeconds(): number {
    let oldest = Number.POSITIVE_INFINITY
    for (const t of this.#processing.values()) oldest = Math.min(oldest, t)
    return oldest === Number.POSITIVE_INFINITY ? 0 : (performance.now() - oldest) / 1000
  }

  unfinishedWorkSeconds(): number {
    const now = performance.now()
    let total = 0
    for (const t of this.#processing.values()) total += now - t
    return total / 1000
  }

  /**
   * Stops handing out new work and waits (up to `timeoutMs`) for the keys being processed to
   * be done. Queued and delayed keys are dropped: the next leader lists everything anew.
   */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    this.#shuttingDown = true
    for (const { timer } of this.#delayed.values()) clearTimeout(timer)
    this.#delayed.clear()
    this.#queue.length = 0
    this.#dirty.clear()
    this.#metrics?.depth.set(0)
    for (const w of this.#waiters.splice(0)) w(undefined)
    if (this.#processing.size === 0) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      timer.unref()
      this.#drained = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  #push(key: string): void {
    this.#addedAt.set(key, performance.now())
    const waiter = this.#waiters.shift()
    if (waiter) {
      waiter(this.#take(key))
      return
    }
    this.#queue.push(key)
    this.#metrics?.depth.set(this.#queue.length)
  }

  #take(key: string): string {
    this.#dirty.delete(key)
    const now = performance.now()
    this.#processing.set(key, now)
    const added = this.#addedAt.get(key)
    this.#addedAt.delete(key)
    if (added !== undefined) this.#metrics?.queueDuration.observe((now - added) / 1000)
    this.#metrics?.depth.set(this.#queue.length)
    return key
  }
}
