import { getHeapStatistics } from 'node:v8'

/**
 * One full garbage collection once the controllers have gone quiet after a burst of work (the
 * start-up's first reconciles, a resync of every object). V8 collects when it allocates, so a
 * controller that goes idle after reconciling 10,000 objects keeps the heap the burst left, the
 * garbage with it, until something allocates again; nothing does while it is idle. The collection
 * runs only where the process exposes `gc` (the image runs Node with `--expose-gc`), once per
 * burst, after `quietMs` without a reconcile. It is V8's last-resort collection, which also
 * compacts the heap and gives its empty pages back: a plain `gc()` frees the garbage but keeps the
 * pages (measured in one process: 113 MB of garbage dropped, a plain `gc()` left the heap at
 * 199 MB committed and the RSS at 192 MiB; the last-resort one at 11 MB and 64 MiB, in 117 ms).
 */
export class HeapSettler {
  readonly #gc: (() => void) | undefined
  readonly #quietMs: number
  readonly #minWork: number
  readonly #growthBytes: number
  readonly #heapBytes: () => number
  /** The heap's committed size after the last collection of `during` (or at the first call). */
  #settledBytes: number | undefined
  #work = 0
  #lastWork = 0
  #timer: NodeJS.Timeout | undefined
  /** Collections run (tests). */
  collections = 0

  constructor(
    opts: {
      gc?: (() => void) | undefined
      quietMs?: number
      minWork?: number
      /** `during`: collect once the heap grew this much since the last collection (0: never). */
      growthBytes?: number
      /** The heap's committed size (tests). */
      heapBytes?: () => number
    } = {},
  ) {
    this.#gc = 'gc' in opts ? opts.gc : compactingGc()
    this.#quietMs = opts.quietMs ?? 10_000
    this.#minWork = opts.minWork ?? 200
    this.#growthBytes = opts.growthBytes ?? 0
    this.#heapBytes = opts.heapBytes ?? (() => getHeapStatistics().total_heap_size)
  }

  /**
   * A step of long work that keeps allocating (a page of a sync): V8 lets the heap of a busy
   * process grow well past what is alive between its own collections and keeps the pages it
   * grew into; once the heap committed `growthBytes` more than after the last collection made
   * here, the compacting one runs and gives them back. It costs one reading of the heap's size
   * per call, and a collection only when the heap grew by the bound.
   */
  during(): void {
    if (!this.#gc || this.#growthBytes <= 0) return
    const bytes = this.#heapBytes()
    if (this.#settledBytes === undefined || bytes < this.#settledBytes) {
      this.#settledBytes = bytes
      return
    }
    if (bytes - this.#settledBytes < this.#growthBytes) return
    this.collections++
    this.#gc()
    this.#settledBytes = this.#heapBytes()
  }

  /** A reconcile finished; `idle`: its queue has nothing else to hand out. */
  worked(idle: boolean): void {
    if (!this.#gc) return
    this.#work++
    this.#lastWork = Date.now()
    if (idle && this.#work >= this.#minWork && !this.#timer) this.#arm(this.#quietMs)
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), ms)
    this.#timer.unref()
  }

  #check(): void {
    this.#timer = undefined
    const quiet = Date.now() - this.#lastWork
    if (quiet < this.#quietMs) {
      this.#arm(this.#quietMs - quiet)
      return
    }
    this.#work = 0
    this.collections++
    this.#gc?.()
  }
}

/** V8's collection that compacts and releases memory, where the process exposes `gc`. */
function compactingGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: (options?: object) => unknown }).gc
  if (!gc) return undefined
  return () => {
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  }
}
