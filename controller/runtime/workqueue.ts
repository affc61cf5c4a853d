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
 *
 * Keys asked for (`add(key, { urgent: true })`: a webhook delivery, a connect callback, a user's
 * change to a spec) go before the rest (initial lists, resyncs, retries): a backlog of retries of
 * objects whose provider is down never holds up an object someone is waiting for.
 */
export class WorkQueue {
  readonly #queue: string[] = []
  readonly #urgent: string[] = []
  /** Keys asked for while being processed: handed out first after `done`. */
  readonly #urgentAfter = new Set<string>()
  readonly #dirty = new Set<string>()
  readonly #processing = new Map<string, number>()
  readonly #addedAt = new Map<string, number>()
  readonly #delayed = new DelayedKeys((key) => this.add(key, { urgent: this.#urgentDelayed.delete(key) }))
  /** Delayed keys that were asked for: urgent when due. */
  readonly #urgentDelayed = new Set<string>()
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
    return this.#queue.length + this.#urgent.length
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown
  }

  add(key: string, opts: { urgent?: boolean } = {}): void {
    if (this.#shuttingDown) return
    this.#metrics?.adds.inc()
    const urgent = opts.urgent === true
    if (this.#processing.has(key)) {
      this.#dirty.add(key)
      if (urgent) this.#urgentAfter.add(key)
      return
    }
    if (this.#dirty.has(key)) {
      // queued already: an urgent add moves it ahead of the rest
      if (urgent) {
        const i = this.#queue.indexOf(key)
        if (i >= 0) {
          this.#queue.splice(i, 1)
          this.#urgent.push(key)
        }
      }
      return
    }
    this.#dirty.add(key)
    this.#push(key, urgent)
  }

  /** Adds the key after `delayMs`; a pending earlier deadline for the same key wins. */
  addAfter(key: string, delayMs: number, opts: { urgent?: boolean } = {}): void {
    if (this.#shuttingDown) return
    if (delayMs <= 0) {
      this.add(key, opts)
      return
    }
    if (opts.urgent) this.#urgentDelayed.add(key)
    this.#delayed.add(key, Date.now() + delayMs)
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
    const key = this.#urgent.shift() ?? this.#queue.shift()
    if (key !== undefined) return Promise.resolve(this.#take(key))
    if (this.#shuttingDown) return Promise.resolve(undefined)
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  done(key: string): void {
    const started = this.#processing.get(key)
    this.#processing.delete(key)
    if (started !== undefined) this.#metrics?.workDuration.observe((performance.now() - started) / 1000)
    const urgent = this.#urgentAfter.delete(key)
    if (this.#dirty.has(key) && !this.#shuttingDown) this.#push(key, urgent)
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
    this.#delayed.clear()
    this.#queue.length = 0
    this.#urgent.length = 0
    this.#urgentAfter.clear()
    this.#urgentDelayed.clear()
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

  #push(key: string, urgent: boolean): void {
    this.#addedAt.set(key, performance.now())
    const waiter = this.#waiters.shift()
    if (waiter) {
      waiter(this.#take(key))
      return
    }
    ;(urgent ? this.#urgent : this.#queue).push(key)
    this.#metrics?.depth.set(this.length)
  }

  #take(key: string): string {
    this.#dirty.delete(key)
    const now = performance.now()
    this.#processing.set(key, now)
    const added = this.#addedAt.get(key)
    this.#addedAt.delete(key)
    if (added !== undefined) this.#metrics?.queueDuration.observe((now - added) / 1000)
    this.#metrics?.depth.set(this.length)
    return key
  }
}

/** setTimeout's longest delay (about 24.8 days); a later deadline is reached in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The delayed keys of a queue behind one timer, set for the earliest deadline: a min-heap of
 * deadlines (two parallel arrays, so a deadline is an unboxed number and not an object), and the
 * earliest deadline of each key. A queue holds a resync deadline for every object it watches, so a
 * timer per key would cost a Timeout (and, for every distinct delay, a timer list) per object.
 * A key whose deadline moved earlier leaves its later entry in the heap; it is skipped when due.
 */
class DelayedKeys {
  readonly #at: number[] = []
  readonly #keys: string[] = []
  readonly #deadline = new Map<string, number>()
  readonly #fire: (key: string) => void
  #timer: NodeJS.Timeout | undefined
  #timerAt = Number.POSITIVE_INFINITY

  constructor(fire: (key: string) => void) {
    this.#fire = fire
  }

  get size(): number {
    return this.#deadline.size
  }

  /** The key is due at `at` (ms since the epoch), unless it is due earlier already. */
  add(key: string, at: number): void {
    const existing = this.#deadline.get(key)
    if (existing !== undefined && existing <= at) return
    this.#deadline.set(key, at)
    this.#push(at, key)
    if (at < this.#timerAt) this.#schedule(at)
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    this.#at.length = 0
    this.#keys.length = 0
    this.#deadline.clear()
  }

  #schedule(at: number): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timerAt = at
    this.#timer = setTimeout(() => this.#due(), Math.min(Math.max(at - Date.now(), 0), MAX_TIMER_MS))
    this.#timer.unref()
  }

  #due(): void {
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    const now = Date.now()
    while (this.#at.length > 0 && (this.#at[0] as number) <= now) {
      const at = this.#at[0] as number
      const key = this.#keys[0] as string
      this.#pop()
      if (this.#deadline.get(key) !== at) continue // a stale entry: the key was due earlier
      this.#deadline.delete(key)
      this.#fire(key)
    }
    const next = this.#at[0]
    if (next !== undefined && this.#timer === undefined) this.#schedule(next)
  }

  #push(at: number, key: string): void {
    const a = this.#at
    const k = this.#keys
    let i = a.length
    a.push(at)
    k.push(key)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((a[parent] as number) <= at) break
      a[i] = a[parent] as number
      k[i] = k[parent] as string
      i = parent
    }
    a[i] = at
    k[i] = key
  }

  #pop(): void {
    const a = this.#at
    const k = this.#keys
    const lastAt = a.pop() as number
    const lastKey = k.pop() as string
    const n = a.length
    if (n === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && (a[right] as number) < (a[left] as number) ? right : left
      if ((a[child] as number) >= lastAt) break
      a[i] = a[child] as number
      k[i] = k[child] as string
      i = child
    }
    a[i] = lastAt
    k[i] = lastKey
  }
}
