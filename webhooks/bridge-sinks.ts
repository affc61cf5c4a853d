/**
 * What the webhook server without credentials reports back over the webhook bridge: refused
 * deliveries (which the controller records as Events) and callback-only data (which the controller
 * writes to status). Both sides bound it:
 *
 * - refusals pass the same gate as the Events themselves (one per resource and reason a minute,
 *   five a second overall) before they are queued, the queue holds at most 100, and the controller
 *   gates them again ({@link bridgeSinks}), so a flood of forged requests is a few Events;
 * - callbacks are coalesced per entity (the newest status by meaning wins, as in status), at most
 *   `maxPending` wait; when the controller answers 503 they stay and are offered again with
 *   backoff, and while the queue is full new callback deliveries are refused with 503 (the
 *   provider retries) instead of being dropped after a 204.
 *
 * {@link bridgeSinks} is the controller's half, built from the same writers the webhook server
 * uses when it holds a token of its own (`StatusCallbackSink`, `RejectEvents`); `bin/` hands it to
 * the controller, which does not import this folder.
 */
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { WEBHOOK_KINDS } from '../controller/api/index.ts'
import { EventRecorder } from '../controller/runtime/index.ts'
import { type BridgeEndpoint, bridgeCall } from './bridge-resolver.ts'
import { type CallbackEvent, type CallbackSink, StatusCallbackSink, supersedes } from './callbacks.ts'
import {
  REJECT_REASONS,
  RejectEvents,
  RejectGate,
  type RejectReason,
  type RejectReporter,
  rejectKey,
} from './rejects.ts'
import { keyOfTarget, type TargetRef } from './targets.ts'

export interface BridgeForwarderOptions {
  endpoint: BridgeEndpoint
  logger: Logger
  /** How often what is queued is sent. Default 200 ms. */
  flushIntervalMs?: number
}

/** Refusals to the controller, gated and bounded before they leave the webhook server. */
export class BridgeRejectForwarder implements RejectReporter {
  readonly #opts: BridgeForwarderOptions
  readonly #log: Logger
  readonly #gate: RejectGate
  readonly #queue: Array<{
    kind: string
    namespace: string
    name: string
    provider: string
    reason: string
  }> = []
  readonly #max: number
  readonly #onResult: ((result: 'recorded' | 'suppressed') => void) | undefined
  #timer: NodeJS.Timeout | undefined
  #inFlight: Promise<void> | undefined

  constructor(
    opts: BridgeForwarderOptions & {
      minIntervalMs?: number
      maxPerSecond?: number
      /** Refusals queued at most. Default 100. */
      maxQueued?: number
      now?: () => number
      onResult?(result: 'recorded' | 'suppressed'): void
    },
  ) {
    this.#opts = opts
    this.#log = opts.logger.child({ unit: 'bridge-rejects' })
    this.#gate = new RejectGate(opts)
    this.#max = opts.maxQueued ?? 100
    this.#onResult = opts.onResult
  }

  reject(target: TargetRef, provider: string, reason: RejectReason): void {
    if (this.#queue.length >= this.#max || !this.#gate.admit(rejectKey(target, reason))) {
      this.#onResult?.('suppressed')
      return
    }
    this.#onResult?.('recorded')
    this.#queue.push({ kind: target.kind, namespace: target.namespace, name: target.name, provider, reason })
    this.#schedule()
  }

  #schedule(): void {
    if (this.#timer || this.#inFlight) return
    this.#timer = setTimeout(() => this.#flush(), this.#opts.flushIntervalMs ?? 200)
    this.#timer.unref()
  }

  #flush(): void {
    this.#timer = undefined
    const items = this.#queue.splice(0, this.#queue.length)
    if (items.length === 0) return
    // Events are a notice, not data: a batch the controller cannot take is not sent again
    this.#inFlight = bridgeCall(this.#opts.endpoint, 'POST', '/v1/rejects', { items })
      .then(
        (res) => {
          if (res.status !== 200)
            this.#log.debug({ status: res.status }, 'refusals not taken by the controller')
        },
        (err: unknown) =>
          this.#log.debug(
            { err: err instanceof Error ? err.message : String(err) },
            'could not report refusals',
          ),
      )
      .finally(() => {
        this.#inFlight = undefined
        if (this.#queue.length > 0) this.#schedule()
      })
  }

  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer)
    this.#flush()
    await Promise.race([this.#inFlight, new Promise((r) => setTimeout(r, opts.timeoutMs ?? 5_000).unref())])
  }
}

interface Pending {
  target: TargetRef
  event: CallbackEvent
}

/** Callback-only data to the controller: coalesced per entity, bounded, kept until taken. */
export class BridgeCallbackForwarder implements CallbackSink {
  readonly #opts: BridgeForwarderOptions
  readonly #log: Logger
  readonly #max: number
  readonly #batch: number
  readonly #onResult: ((result: 'patched' | 'failed' | 'gone') => void) | undefined
  /** `<resource>|<entity>` → the newest event for it not yet taken by the controller. */
  #pending = new Map<string, Pending>()
  #timer: NodeJS.Timeout | undefined
  #inFlight: Promise<void> | undefined
  #failures = 0
  #closed = false

  constructor(
    opts: BridgeForwarderOptions & {
      /** Entities waiting at most; then {@link full}. Default 50 000. */
      maxPending?: number
      /** Events per request. Default 500 (what the bridge takes). */
      maxBatch?: number
      onResult?(result: 'patched' | 'failed' | 'gone'): void
    },
  ) {
    this.#opts = opts
    this.#log = opts.logger.child({ unit: 'bridge-callbacks' })
    this.#max = opts.maxPending ?? 50_000
    this.#batch = Math.min(opts.maxBatch ?? 500, 500)
    this.#onResult = opts.onResult
  }

  /** Entities waiting to be taken by the controller. */
  pending(): number {
    return this.#pending.size
  }

  full(): boolean {
    return this.#pending.size >= this.#max
  }

  deliver(target: TargetRef, event: CallbackEvent): void {
    this.#put(`${keyOfTarget(target)}|${event.key}`, { target, event })
    this.#schedule(this.#opts.flushIntervalMs ?? 200)
  }

  #put(key: string, p: Pending): void {
    const prev = this.#pending.get(key)
    if (prev && supersedes(prev.event, p.event)) return
    this.#pending.set(key, p)
  }

  #schedule(ms: number): void {
    if (this.#timer || this.#inFlight) return
    this.#timer = setTimeout(() => this.#flush(), this.#closed ? 0 : ms)
    this.#timer.unref()
  }

  #flush(): void {
    this.#timer = undefined
    if (this.#pending.size === 0) return
    const taken: Array<[string, Pending]> = []
    for (const entry of this.#pending) {
      taken.push(entry)
      if (taken.length >= this.#batch) break
    }
    for (const [k] of taken) this.#pending.delete(k)
    const items = taken.map(([, p]) => ({
      kind: p.target.kind,
      namespace: p.target.namespace,
      name: p.target.name,
      event: p.event,
    }))
    this.#inFlight = bridgeCall(this.#opts.endpoint, 'POST', '/v1/callbacks', { items }, 10_000)
      .then((res) => {
        if (res.status === 200) {
          this.#failures = 0
          this.#onResult?.('patched')
          return
        }
        if (res.status === 400) {
          // not ours to fix by sending again (a shape the controller does not take)
          this.#log.warn({ status: res.status, events: items.length }, 'callbacks refused by the controller')
          this.#onResult?.('gone')
          return
        }
        throw new Error(`webhook bridge answered ${res.status}`)
      })
      .catch((err: unknown) => {
        this.#failures++
        this.#onResult?.('failed')
        this.#log.warn(
          { err: err instanceof Error ? err.message : String(err), events: items.length },
          'callbacks not taken by the controller yet; kept',
        )
        // back, unless newer ones for the same entity arrived meanwhile
        for (const [k, p] of taken) this.#put(k, p)
      })
      .finally(() => {
        this.#inFlight = undefined
        if (this.#pending.size === 0) return
        const base = this.#opts.flushIntervalMs ?? 200
        this.#schedule(this.#failures === 0 ? 0 : Math.min(5_000, base * 2 ** this.#failures))
      })
  }

  /** Sends what is pending now and waits (bounded); called on shutdown. */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed = true
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
    while ((this.#pending.size > 0 || this.#inFlight) && Date.now() < deadline) {
      if (!this.#inFlight) {
        if (this.#timer) clearTimeout(this.#timer)
        this.#flush()
      }
      await Promise.race([
        this.#inFlight,
        new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref()),
      ])
      await new Promise((r) => setTimeout(r, 50).unref())
    }
    if (this.#timer) clearTimeout(this.#timer)
    if (this.#pending.size > 0) {
      this.#log.warn({ events: this.#pending.size }, 'callbacks not handed to the controller before shutdown')
    }
  }
}

export interface BridgeSinksOptions {
  core: CoreV1Api
  custom: CustomObjectsApi
  logger: Logger
  /** The controller's identity, in the Events' source. */
  instance: string
  /** Entities waiting to be written at most before the bridge answers 503. Default 50 000. */
  maxPending?: number
  /** Event limits (the same defaults as the webhook server's). */
  eventLimits?: { minIntervalMs?: number; maxPerSecond?: number }
}

/**
 * The controller's half: refusals become Events through {@link RejectEvents} (gated again), and
 * callbacks are written by a {@link StatusCallbackSink} to the kinds' callback status fields.
 */
export function bridgeSinks(opts: BridgeSinksOptions): {
  rejectReasons: readonly string[]
  reject(target: TargetRef, provider: string, reason: string): void
  takesCallbacks(kind: string): boolean
  full(): boolean
  callback(target: TargetRef, event: CallbackEvent): void
  close(o?: { timeoutMs?: number }): Promise<void>
} {
  const fields: Record<string, string> = {}
  for (const k of WEBHOOK_KINDS) if (k.callbackStatusField) fields[k.kind] = k.callbackStatusField
  const status = new StatusCallbackSink({
    custom: opts.custom,
    fields,
    logger: opts.logger,
    maxPending: opts.maxPending,
  })
  const events = new RejectEvents({
    sink: new EventRecorder({
      core: opts.core,
      component: 'switchboard-webhooks',
      instance: opts.instance,
      logger: opts.logger,
    }),
    minIntervalMs: opts.eventLimits?.minIntervalMs,
    maxPerSecond: opts.eventLimits?.maxPerSecond,
  })
  return {
    rejectReasons: REJECT_REASONS,
    reject: (target, provider, reason) => events.reject(target, provider, reason as RejectReason),
    takesCallbacks: (kind) => status.takes(kind),
    full: () => status.full(),
    callback: (target, event) => status.deliver(target, event),
    close: (o) => status.close(o),
  }
}
