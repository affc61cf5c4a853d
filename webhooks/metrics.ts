import { Counter, Histogram, Registry } from 'prom-client'
import { PROVIDERS, type ProviderId } from '../controller/api/index.ts'
import { registerProcessMetrics } from '../controller/runtime/index.ts'
import type { RESULTS, RejectReason } from './rejects.ts'

/** `provider` label: a known provider, or `unknown` for paths outside every provider. */
export type ProviderLabel = ProviderId | 'unknown'
export type Result = (typeof RESULTS)[number]

/**
 * The webhook server's metrics, in its own registry. Every label is bounded: providers and
 * results are fixed lists, `reason` is a {@link RejectReason} (or `none`); no path, token or
 * resource name ever becomes a label.
 */
export class WebhookMetrics {
  readonly registry: Registry
  readonly requests: Counter<'provider' | 'result' | 'reason'>
  readonly duration: Histogram<'provider'>
  readonly dedupeHits: Counter<'provider'>
  readonly reconcilePatches: Counter<'result'>
  readonly callbackPatches: Counter<'result'>
  readonly events: Counter<'result'>
  /**
   * Per label set: the requests counted since the last read, and the histogram's child. The
   * counter is brought up to date when it is read (its `collect`), so a request costs an
   * addition instead of prom-client's label check and hash.
   */
  readonly #children = new Map<
    string,
    {
      labels: { provider: ProviderLabel; result: Result; reason: RejectReason | 'none' }
      pending: number
      duration: { observe(v: number): void }
    }
  >()

  constructor(opts: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    const registry = opts.registry ?? new Registry()
    this.registry = registry
    if (opts.defaultMetrics !== false) registerProcessMetrics(registry)
    const registers = [registry]
    this.requests = new Counter({
      name: 'switchboard_webhook_requests_total',
      help: 'Webhook requests by provider, result (accepted, duplicate, handshake, rejected) and reject reason',
      labelNames: ['provider', 'result', 'reason'],
      registers,
      // every read (a scrape, `get()`) sees every request observed before it
      collect: () => this.#flush(),
    })
    this.duration = new Histogram({
      name: 'switchboard_webhook_request_duration_seconds',
      help: 'Time from the arrival of a webhook request to its response, by provider',
      labelNames: ['provider'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    })
    this.dedupeHits = new Counter({
      name: 'switchboard_webhook_dedupe_hits_total',
      help: 'Verified webhook deliveries answered as duplicates of one already accepted, by provider',
      labelNames: ['provider'],
      registers,
    })
    this.reconcilePatches = new Counter({
      name: 'switchboard_webhook_reconcile_requests_total',
      help: 'Requested-at annotation patches sent to the API server, by result (patched, failed, gone)',
      labelNames: ['result'],
      registers,
    })
    this.callbackPatches = new Counter({
      name: 'switchboard_webhook_callback_writes_total',
      help: 'Status writes of callback-only data, by result (patched, failed, gone)',
      labelNames: ['result'],
      registers,
    })
    this.events = new Counter({
      name: 'switchboard_webhook_reject_events_total',
      help: 'Kubernetes Events about rejected webhooks, by result (recorded, suppressed by the event rate limit)',
      labelNames: ['result'],
      registers,
    })
    // export the main series from the start, so rate() and alerts work before the first request
    for (const provider of PROVIDERS) {
      this.requests.inc({ provider, result: 'accepted', reason: 'none' }, 0)
      this.dedupeHits.inc({ provider }, 0)
    }
    for (const result of ['patched', 'failed', 'gone']) {
      this.reconcilePatches.inc({ result }, 0)
      this.callbackPatches.inc({ result }, 0)
    }
    for (const result of ['recorded', 'suppressed']) this.events.inc({ result }, 0)
  }

  observe(provider: ProviderLabel, result: Result, reason: RejectReason | 'none', seconds: number): void {
    // bound children: label sets are few (bounded), and this runs on every request
    const key = `${provider}|${result}|${reason}`
    let child = this.#children.get(key)
    if (!child) {
      child = {
        labels: { provider, result, reason },
        pending: 0,
        duration: this.duration.labels({ provider }),
      }
      this.#children.set(key, child)
    }
    child.pending++
    child.duration.observe(seconds)
  }

  #flush(): void {
    for (const child of this.#children.values()) {
      if (child.pending === 0) continue
      this.requests.inc(child.labels, child.pending)
      child.pending = 0
    }
  }
}
