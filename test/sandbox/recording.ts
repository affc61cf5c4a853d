/**
 * Recording shared by every provider plugin: a bounded log of the requests that arrived, a
 * bounded list for stored bodies, and a message-id tally (a Set plus counts, so a million
 * records cost ids, not bodies).
 */
import type { FastifyInstance } from 'fastify'
import { type FaultInjector, pathOf } from './faults.ts'

export interface RecordedRequest {
  /** Arrival time, epoch milliseconds (to 0.1 ms). */
  at: number
  provider: string
  method: string
  /** Path without the query string (credentials may sit in queries). */
  path: string
  status: number
  durationMs: number
  /** Answered (or delayed) by an injected fault. */
  fault: boolean
}

/** Keeps the first `cap` items and counts the rest. */
export class BoundedList<T> {
  readonly cap: number
  #items: T[] = []
  #total = 0

  constructor(cap: number) {
    this.cap = Math.max(0, cap)
  }

  push(item: T): void {
    this.#total++
    if (this.#items.length < this.cap) this.#items.push(item)
  }

  /** Items stored (at most `cap`). */
  get items(): readonly T[] {
    return this.#items
  }

  /** Items pushed, stored or not. */
  get total(): number {
    return this.#total
  }

  get truncated(): boolean {
    return this.#total > this.#items.length
  }

  clear(): void {
    this.#items = []
    this.#total = 0
  }
}

/** The last `cap` requests (a ring), with a running total. */
export class RequestLog {
  readonly cap: number
  #ring: RecordedRequest[] = []
  #next = 0
  #total = 0

  constructor(cap = 10_000) {
    this.cap = Math.max(1, cap)
  }

  record(entry: RecordedRequest): void {
    this.#total++
    if (this.#ring.length < this.cap) this.#ring.push(entry)
    else this.#ring[this.#next] = entry
    this.#next = (this.#next + 1) % this.cap
  }

  /** Requests kept, oldest first, optionally of one provider. */
  list(provider?: string): RecordedRequest[] {
    const ordered =
      this.#ring.length < this.cap
        ? [...this.#ring]
        : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)]
    return provider === undefined ? ordered : ordered.filter((r) => r.provider === provider)
  }

  /** Requests seen since the last reset (kept or not). */
  get total(): number {
    return this.#total
  }

  clear(): void {
    this.#ring = []
    this.#next = 0
    this.#total = 0
  }
}

/** Message ids seen: unique ones in a Set, repeats counted. */
export class MessageTally {
  readonly ids = new Set<string>()
  /** Items counted, repeats included. */
  received = 0
  /** Items whose id had been seen before. */
  duplicates = 0

  /** Counts one item; returns false when its id is a repeat. */
  add(id: string | undefined): boolean {
    this.received++
    if (id === undefined) return true
    if (this.ids.has(id)) {
      this.duplicates++
      return false
    }
    this.ids.add(id)
    return true
  }

  clear(): void {
    this.ids.clear()
    this.received = 0
    this.duplicates = 0
  }
}

export interface Instrumentation {
  faults: FaultInjector
  requests: RequestLog
}

/**
 * Adds the shared hooks to a provider plugin's (encapsulated) scope: its faults first, before
 * any parsing; delayed responses; and one request-log entry per response.
 */
export function instrument(
  app: FastifyInstance,
  provider: string,
  { faults, requests }: Instrumentation,
): void {
  app.addHook('onRequest', faults.hook(provider))
  app.addHook('onSend', faults.sendHook())
  app.addHook('onResponse', async (req, reply) => {
    const durationMs = reply.elapsedTime
    requests.record({
      at: Math.round((performance.timeOrigin + performance.now() - durationMs) * 10) / 10,
      provider,
      method: req.method,
      path: pathOf(req.url),
      status: reply.statusCode,
      durationMs: Math.round(durationMs * 10) / 10,
      fault: faults.wasFaulted(req),
    })
  })
}
