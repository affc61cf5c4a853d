/**
 * Data that exists only as a callback (Twilio delivery status, Twitch stream online/offline,
 * EventSub revocations) cannot be re-read from the provider by a later sync, so it is handed to a
 * `CallbackSink`. The kinds that need it implement one (patching their status idempotently);
 * {@link StatusCallbackSink} is a generic one that keeps the latest event per entity under a
 * status field.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { ProviderId } from '../controller/api/index.ts'
import { describeApiError, isNotFound, mergePatch } from '../controller/runtime/index.ts'
import { splitApiVersion } from './reconcile.ts'
import { keyOfTarget, type TargetRef } from './targets.ts'

export type CallbackValue = string | number | boolean | null

export interface CallbackEvent {
  provider: ProviderId
  /** What happened: `message-status`, `stream.online`, `stream.offline`, `revocation`. */
  type: string
  /** The entity it is about (a message sid, a broadcaster id, a subscription id); latest wins per key. */
  key: string
  /** The provider's delivery id (already deduplicated). */
  deliveryId: string
  /** When it happened according to the provider (RFC 3339), else when it arrived. */
  occurredAt: string
  /** A few scalar fields; never credentials, and no personal data the kind does not need. */
  data: Readonly<Record<string, CallbackValue>>
  /**
   * How far along the entity's life this event is (Twilio: queued < sent < delivered). A higher
   * rank wins over a lower one whatever the times say, so a late `sent` never undoes `delivered`.
   * Events without one are ordered by time alone.
   */
  rank?: number
}

export interface CallbackSink {
  /** Takes the event; must return at once (write asynchronously) and never throw. */
  deliver(target: TargetRef, event: CallbackEvent): void
  /** True while the sink holds as much as it may: new callback deliveries are refused with 503. */
  full?(): boolean
}

/** Keeps what it was given, bounded (tests, and a server run without a sink). */
export class MemoryCallbackSink implements CallbackSink {
  readonly events: Array<{ target: TargetRef; event: CallbackEvent }> = []
  readonly #max: number

  constructor(max = 10_000) {
    this.#max = max
  }

  deliver(target: TargetRef, event: CallbackEvent): void {
    if (this.events.length >= this.#max) this.events.shift()
    this.events.push({ target, event })
  }
}

/** Drops every event (a server whose kinds have no callback data). */
export const discardCallbacks: CallbackSink = { deliver() {} }

export interface StatusCallbackSinkOptions {
  custom: CustomObjectsApi
  /** Kind -> dotted field path under `status` (e.g. `callbacks` or `delivery.messages`). */
  fields: Readonly<Record<string, string>>
  logger?: Logger
  /** Events for one resource are written together, at most this often. Default 1000 ms. */
  flushIntervalMs?: number
  /** Entities written in one patch at most; more flush at once. Default 500. */
  maxBatch?: number
  /** Attempts for one batch when the API server fails. Default 3. */
  maxAttempts?: number
  /** Entities whose last accepted event is remembered, to order later batches. Default 50 000. */
  maxRemembered?: number
  /** Entities waiting to be written at most; beyond it the sink is {@link StatusCallbackSink.full}. Default 50 000. */
  maxPending?: number
  onPatch?(result: 'patched' | 'failed' | 'gone', target: TargetRef): void
}

interface Batch {
  target: TargetRef
  field: string
  entries: Map<string, CallbackEvent>
  timer: NodeJS.Timeout | undefined
  inFlight: Promise<void> | undefined
  attempts: number
}

/**
 * Writes `status.<field>.<key> = { type, occurredAt, ...data }` with a JSON merge patch on the
 * status subresource. Per resource, events are batched (one patch per interval); within a batch
 * the newest event per key wins. The write is idempotent: a redelivered event writes the same
 * value again. Events are ordered by meaning (`rank`), then time, against the last event taken
 * for the same entity, also across batches: a late `sent` never overwrites `delivered`.
 */
export class StatusCallbackSink implements CallbackSink {
  readonly #custom: CustomObjectsApi
  readonly #fields: Readonly<Record<string, string>>
  readonly #log: Logger | undefined
  readonly #interval: number
  readonly #maxBatch: number
  readonly #maxAttempts: number
  readonly #onPatch: StatusCallbackSinkOptions['onPatch']
  readonly #batches = new Map<string, Batch>()
  /** `<resource>|<entity>` → the last event taken for it (insertion order: oldest first). */
  readonly #latest = new Map<string, CallbackEvent>()
  readonly #maxRemembered: number
  readonly #maxPending: number
  #closed = false

  constructor(opts: StatusCallbackSinkOptions) {
    this.#maxRemembered = opts.maxRemembered ?? 50_000
    this.#maxPending = opts.maxPending ?? 50_000
    this.#custom = opts.custom
    this.#fields = opts.fields
    this.#log = opts.logger
    this.#interval = opts.flushIntervalMs ?? 1000
    this.#maxBatch = opts.maxBatch ?? 500
    this.#maxAttempts = opts.maxAttempts ?? 3
    this.#onPatch = opts.onPatch
  }

  /** Entities waiting to be written (not counting a batch being written). */
  pending(): number {
    let n = 0
    for (const b of this.#batches.values()) n += b.entries.size
    return n
  }

  full(): boolean {
    return this.pending() >= this.#maxPending
  }

  /** Whether this sink writes callbacks of the kind at all. */
  takes(kind: string): boolean {
    return this.#fields[kind] !== undefined
  }

  deliver(target: TargetRef, event: CallbackEvent): void {
    const field = this.#fields[target.kind]
    if (!field) {
      this.#log?.debug({ kind: target.kind, type: event.type }, 'no status field for callbacks of this kind')
      return
    }
    const key = keyOfTarget(target)
    let batch = this.#batches.get(key)
    if (!batch) {
      batch = { target, field, entries: new Map(), timer: undefined, inFlight: undefined, attempts: 0 }
      this.#batches.set(key, batch)
    }
    batch.target = target
    // ordered against what was taken before, also in batches already written
    const entity = `${key}|${event.key}`
    const prev = this.#latest.get(entity)
    if (prev && supersedes(prev, event)) return
    this.#latest.delete(entity)
    this.#latest.set(entity, event)
    if (this.#latest.size > this.#maxRemembered) {
      const oldest = this.#latest.keys().next().value
      if (oldest !== undefined) this.#latest.delete(oldest)
    }
    batch.entries.set(event.key, event)
    const full = batch.entries.size >= this.#maxBatch
    if (!batch.inFlight && (full || this.#closed)) {
      if (batch.timer) clearTimeout(batch.timer)
      batch.timer = undefined
      this.#flush(key, batch)
    } else if (!batch.timer && !batch.inFlight) {
      batch.timer = setTimeout(() => this.#flush(key, batch), this.#interval)
      batch.timer.unref()
    }
  }

  #flush(key: string, batch: Batch): void {
    batch.timer = undefined
    if (batch.entries.size === 0) {
      this.#batches.delete(key)
      return
    }
    const entries = batch.entries
    batch.entries = new Map()
    const values: Record<string, Record<string, CallbackValue>> = {}
    for (const [k, e] of entries) values[k] = { type: e.type, occurredAt: e.occurredAt, ...e.data }
    const status = nest(batch.field, values)
    const [group, version] = splitApiVersion(batch.target.apiVersion)
    batch.inFlight = this.#custom
      .patchNamespacedCustomObjectStatus(
        {
          group,
          version,
          namespace: batch.target.namespace,
          plural: batch.target.plural,
          name: batch.target.name,
          body: { status },
        },
        mergePatch,
      )
      .then(
        () => {
          batch.attempts = 0
          this.#onPatch?.('patched', batch.target)
        },
        (err: unknown) => {
          if (isNotFound(err)) {
            this.#onPatch?.('gone', batch.target)
            return
          }
          batch.attempts++
          this.#onPatch?.('failed', batch.target)
          const retry = batch.attempts < this.#maxAttempts
          this.#log?.warn(
            { err: describeApiError(err), object: `${batch.target.namespace}/${batch.target.name}`, retry },
            'could not write callback data to status',
          )
          if (!retry) {
            batch.attempts = 0
            return
          }
          // put them back unless newer ones arrived meanwhile
          for (const [k, e] of entries) {
            const newer = batch.entries.get(k)
            if (!newer || supersedes(e, newer)) batch.entries.set(k, e)
          }
        },
      )
    void batch.inFlight.finally(() => {
      batch.inFlight = undefined
      if (this.#batches.get(key) !== batch) return
      if (batch.entries.size === 0) {
        this.#batches.delete(key)
        return
      }
      const wait = this.#closed ? 0 : this.#interval * 2 ** batch.attempts
      batch.timer = setTimeout(() => this.#flush(key, batch), wait)
      batch.timer.unref()
    })
  }

  /** Writes everything pending now and waits (bounded); called on shutdown. */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed = true
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
    while (this.#batches.size > 0 && Date.now() < deadline) {
      for (const [key, batch] of this.#batches) {
        if (!batch.inFlight) {
          if (batch.timer) clearTimeout(batch.timer)
          this.#flush(key, batch)
        }
      }
      const inFlight = [...this.#batches.values()].map((b) => b.inFlight).filter((p) => p !== undefined)
      await Promise.race([
        Promise.allSettled(inFlight),
        new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))),
      ])
      await new Promise((r) => setImmediate(r))
    }
    for (const b of this.#batches.values()) if (b.timer) clearTimeout(b.timer)
    this.#batches.clear()
  }
}

/**
 * Whether `a` wins over `b` for the same entity: it is further along (`rank`), or, at the same
 * rank, it happened later (as instants, so Twitch's
 * nanosecond `2030-01-01T10:00:00.123456789Z` and a whole-second `2030-01-01T10:00:01Z` compare
 * by time, not as strings).
 */
export function supersedes(a: CallbackEvent, b: CallbackEvent): boolean {
  if (a.rank !== undefined && b.rank !== undefined && a.rank !== b.rank) return a.rank > b.rank
  return compareInstants(a.occurredAt, b.occurredAt) > 0
}

/**
 * Compares two RFC 3339 timestamps as instants, to the nanosecond (Date.parse keeps milliseconds
 * only). An unparseable one sorts first.
 */
export function compareInstants(a: string, b: string): number {
  const ia = instant(a)
  const ib = instant(b)
  return ia[0] - ib[0] || ia[1] - ib[1]
}

function instant(t: string): [number, number] {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(.*)$/.exec(t)
  const seconds = Date.parse(m ? `${m[1]}${m[3]}` : t)
  if (Number.isNaN(seconds)) return [Number.NEGATIVE_INFINITY, 0]
  return [seconds, Number((m?.[2] ?? '').padEnd(9, '0'))]
}

/** `nest('a.b', v)` → `{ a: { b: v } }`. */
function nest(path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.').filter(Boolean)
  let out: unknown = value
  for (let i = parts.length - 1; i >= 0; i--) out = { [parts[i] as string]: out }
  return out as Record<string, unknown>
}
