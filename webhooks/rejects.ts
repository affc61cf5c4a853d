/**
 * Why a webhook request was refused: a bounded set (the `reason` metric label), each with the
 * HTTP status it is answered with and a sentence for the Kubernetes Event on the resource.
 */
import { Reason } from '../connectors/index.ts'
import type { EventType, InvolvedObject } from '../controller/runtime/index.ts'
import type { TargetRef } from './targets.ts'

export const RESULTS = ['accepted', 'duplicate', 'handshake', 'rejected'] as const

export const REJECTS = {
  not_found: { status: 404, text: 'no resource receives webhooks on this path' },
  malformed: { status: 400, text: 'the request is malformed (body, headers or parameters)' },
  missing_signature: { status: 401, text: 'the signature header is missing' },
  bad_signature: { status: 401, text: 'the signature does not match' },
  stale: { status: 401, text: 'the signed timestamp is too old (or too far in the future)' },
  unknown_channel: {
    status: 401,
    text: 'the push channel is not one this resource opened, is for another resource, or has expired',
  },
  body_too_large: { status: 413, text: 'the body is larger than the body limit' },
  unsupported_media_type: { status: 415, text: 'the content type is not the one this provider sends' },
  rate_limited: { status: 429, text: 'too many requests for this path' },
  suspended: { status: 503, text: 'the resource is suspended' },
  not_ready: {
    status: 503,
    text: 'the resource is not ready to receive webhooks (WebhookReady is not True)',
  },
  secret_unavailable: {
    status: 503,
    text: 'the webhook secret cannot be read (the Secret or its key is missing)',
  },
  overloaded: {
    status: 503,
    text: 'callback data is arriving faster than the controller takes it; the provider should retry',
  },
  internal: { status: 500, text: 'an internal error' },
} as const satisfies Record<string, { status: number; text: string }>

export type RejectReason = keyof typeof REJECTS
export const REJECT_REASONS = Object.keys(REJECTS) as RejectReason[]

/** The Event reason on a resource whose webhook was refused. */
export const WEBHOOK_REJECTED_EVENT = Reason.WebhookRejected

/** Anything that records Kubernetes Events (controller/runtime's `EventRecorder` does). */
export interface EventSink {
  record(obj: InvolvedObject, type: EventType, reason: string, message: string): void
}

/** Where the webhook server reports a refused delivery of a known resource. */
export interface RejectReporter {
  reject(target: TargetRef, provider: string, reason: RejectReason): void
}

export interface RejectGateOptions {
  /** At most one admission per key in this window. Default 60 s. */
  minIntervalMs?: number
  /** At most this many admissions per second over all keys (a burst of this size is allowed). Default 5. */
  maxPerSecond?: number
  /** Keys remembered at most. Default 10 000. */
  maxTracked?: number
  now?: () => number
}

/**
 * The rate limit twice over that keeps a flood of refusals from becoming a flood of writes: at
 * most one admission per key (resource and reason) in a window, and a token bucket over all keys.
 */
export class RejectGate {
  readonly #interval: number
  readonly #rate: number
  readonly #maxTracked: number
  readonly #now: () => number
  readonly #last = new Map<string, number>()
  #tokens: number
  #refilledAt: number

  constructor(opts: RejectGateOptions = {}) {
    this.#interval = opts.minIntervalMs ?? 60_000
    this.#rate = opts.maxPerSecond ?? 5
    this.#maxTracked = opts.maxTracked ?? 10_000
    this.#now = opts.now ?? Date.now
    this.#tokens = this.#rate
    this.#refilledAt = this.#now()
  }

  get intervalMs(): number {
    return this.#interval
  }

  /** Whether `key` may pass now (and, if so, takes its turn). */
  admit(key: string): boolean {
    const now = this.#now()
    const last = this.#last.get(key)
    if (last !== undefined && now - last < this.#interval) return false
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate)
    this.#refilledAt = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    this.#last.delete(key)
    this.#last.set(key, now)
    while (this.#last.size > this.#maxTracked) {
      const oldest = this.#last.keys().next().value
      if (oldest === undefined) break
      this.#last.delete(oldest)
    }
    return true
  }
}

/** The gate's key for a resource and a reason. */
export function rejectKey(target: TargetRef, reason: string): string {
  return `${target.uid ?? `${target.kind}/${target.namespace}/${target.name}`}|${reason}`
}

export interface RejectEventsOptions extends RejectGateOptions {
  sink: EventSink
  onResult?(result: 'recorded' | 'suppressed'): void
}

/**
 * Turns rejects into Warning Events on the resource, rate-limited twice (per resource and
 * reason, and overall), so that a flood of forged requests cannot become a flood of Events.
 * The metric counts every reject; the Events tell the resource's owner that rejects happen.
 */
export class RejectEvents implements RejectReporter {
  readonly #sink: EventSink
  readonly #gate: RejectGate
  readonly #onResult: RejectEventsOptions['onResult']

  constructor(opts: RejectEventsOptions) {
    this.#sink = opts.sink
    this.#gate = new RejectGate(opts)
    this.#onResult = opts.onResult
  }

  reject(target: TargetRef, provider: string, reason: RejectReason): void {
    if (!this.#gate.admit(rejectKey(target, reason))) {
      this.#onResult?.('suppressed')
      return
    }
    const { status, text } = REJECTS[reason]
    this.#sink.record(
      {
        apiVersion: target.apiVersion,
        kind: target.kind,
        namespace: target.namespace,
        name: target.name,
        ...(target.uid ? { uid: target.uid } : {}),
      },
      'Warning',
      WEBHOOK_REJECTED_EVENT,
      `Refused a ${provider} webhook with HTTP ${status} (${reason}): ${text}. Every refusal is counted ` +
        `in switchboard_webhook_requests_total; this event repeats at most every ${Math.round(this.#gate.intervalMs / 1000)}s.`,
    )
    this.#onResult?.('recorded')
  }
}
