/**
 * Progress of a long sync written at most every `everyPages` pages or `everyMs` milliseconds,
 * whichever comes first, instead of after every page.
 *
 * The page's cursor is advanced in the status being built only after every destination
 * acknowledged the page, so whatever a checkpoint writes is safe to resume from; what batching
 * changes is only how much is sent again after a crash: at most the pages acknowledged since the
 * last write, that is at most `everyPages` pages (fewer when the time limit came first). A graceful
 * stop, an error and the end of a sync write everything (`flush`).
 */
export interface CheckpointPolicy {
  /** Write after this many acknowledged pages at the latest (default 10). */
  everyPages: number
  /** Write when this long has passed since the last write, at the next page (default 2,000 ms). */
  everyMs: number
}

export const DEFAULT_CHECKPOINTS: CheckpointPolicy = { everyPages: 10, everyMs: 2_000 }

export class Checkpointer {
  readonly #write: () => Promise<void>
  readonly #policy: CheckpointPolicy
  readonly #now: () => number
  #pending = 0
  #last: number
  /** Writes made (tests and logs read it). */
  writes = 0

  constructor(
    write: () => Promise<void>,
    policy: Partial<CheckpointPolicy> = {},
    now: () => number = Date.now,
  ) {
    this.#write = write
    this.#policy = { ...DEFAULT_CHECKPOINTS, ...policy }
    if (!(this.#policy.everyPages >= 1)) throw new Error('checkpoint everyPages must be at least 1')
    this.#now = now
    this.#last = now()
  }

  /** Pages acknowledged and not yet written. */
  get pending(): number {
    return this.#pending
  }

  /** A page was acknowledged by every destination (its cursor is in the status being built). */
  async page(): Promise<void> {
    this.#pending++
    if (this.#pending >= this.#policy.everyPages || this.#now() - this.#last >= this.#policy.everyMs) {
      await this.flush()
    }
  }

  /** Writes what is pending, if anything. */
  async flush(): Promise<void> {
    if (this.#pending === 0) return
    await this.#write()
    this.#pending = 0
    this.#last = this.#now()
    this.writes++
  }
}
