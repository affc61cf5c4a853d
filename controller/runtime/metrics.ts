import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client'

/**
 * How often the event loop's delay is sampled for `nodejs_eventloop_lag_*`, in ms. prom-client's
 * default (10 ms) wakes an idle process 100 times a second: 0.6 % of a core here, half of what
 * an idle controller with 10,000 objects used. At 100 ms a stall of the loop still shows in the
 * lag gauges (a stall delays the next sample by as long), and one shorter than 100 ms may be
 * missed.
 */
export const EVENT_LOOP_SAMPLE_MS = 100

/**
 * The process and Node.js default metrics, lint-clean: prom-client's three gauges named like
 * counters (`nodejs_active_{handles,requests,resources}_total`), which Prometheus' lint rejects,
 * are dropped; the per-type `nodejs_active_handles` / `_requests` / `_resources` gauges carry the
 * same information (sum them for the total).
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS })
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ]) {
    registry.removeSingleMetric(name)
  }
}

/**
 * Switchboard's operator metrics. The controller and work-queue metrics use the names and labels
 * that Go operators (controller-runtime, client-go) export, so existing dashboards and alerts
 * carry over. Their labels are bounded: controller and queue names only, never an object.
 */
export class OperatorMetrics {
  readonly registry: Registry
  readonly reconcileTotal: Counter<'controller' | 'result'>
  readonly reconcileErrors: Counter<'controller'>
  readonly terminalReconcileErrors: Counter<'controller'>
  readonly reconcileTime: Histogram<'controller'>
  readonly maxConcurrentReconciles: Gauge<'controller'>
  readonly activeWorkers: Gauge<'controller'>
  readonly queueDepth: Gauge<'name' | 'controller'>
  readonly queueAdds: Counter<'name' | 'controller'>
  readonly queueRetries: Counter<'name' | 'controller'>
  readonly queueDuration: Histogram<'name' | 'controller'>
  readonly workDuration: Histogram<'name' | 'controller'>
  readonly longestRunning: Gauge<'name' | 'controller'>
  readonly unfinishedWork: Gauge<'name' | 'controller'>
  readonly leaderStatus: Gauge<'name'>
  /** Per-resource condition gauge (like Flux's gotk_reconcile_condition); removed on delete. */
  readonly resourceCondition: ResourceConditionGauge
  readonly #queues = new Map<string, { longestRunningSeconds(): number; unfinishedWorkSeconds(): number }>()

  constructor(opts: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    const registry = opts.registry ?? new Registry()
    this.registry = registry
    if (opts.defaultMetrics !== false) registerProcessMetrics(registry)
    const registers = [registry]
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    })
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    })
    this.terminalReconcileErrors = new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal (stalling) reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    })
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1,
        1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
      ],
      registers,
    })
    this.maxConcurrentReconciles = new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    })
    this.activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    })
    const queueLabels = ['name', 'controller'] as const
    this.queueDepth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: queueLabels,
      registers,
    })
    this.queueAdds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: queueLabels,
      registers,
    })
    this.queueRetries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: queueLabels,
      registers,
    })
    const queueBuckets = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10, 100, 1000]
    this.queueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: queueLabels,
      buckets: queueBuckets,
      registers,
    })
    this.workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: queueLabels,
      buckets: queueBuckets,
      registers,
    })
    const queues = this.#queues
    this.longestRunning = new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: queueLabels,
      registers,
      collect() {
        for (const [name, q] of queues) this.set({ name, controller: name }, q.longestRunningSeconds())
      },
    })
    this.unfinishedWork = new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and has not been observed by work_duration',
      labelNames: queueLabels,
      registers,
      collect() {
        for (const [name, q] of queues) this.set({ name, controller: name }, q.unfinishedWorkSeconds())
      },
    })
    this.leaderStatus = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      labelNames: ['name'],
      registers,
    })
    this.resourceCondition = new ResourceConditionGauge()
    registry.registerMetric(this.resourceCondition as unknown as Metric)
  }

  /** Metric handles for one work queue, pre-bound to its labels. */
  queueMetrics(
    name: string,
    queue?: { longestRunningSeconds(): number; unfinishedWorkSeconds(): number },
  ): QueueMetrics {
    const labels = { name, controller: name }
    if (queue) this.#queues.set(name, queue)
    this.queueAdds.inc(labels, 0)
    this.queueRetries.inc(labels, 0)
    this.queueDepth.set(labels, 0)
    return {
      depth: this.queueDepth.labels(labels),
      adds: this.queueAdds.labels(labels),
      retries: this.queueRetries.labels(labels),
      queueDuration: this.queueDuration.labels(labels),
      workDuration: this.workDuration.labels(labels),
    }
  }

  registerQueue(
    name: string,
    queue: { longestRunningSeconds(): number; unfinishedWorkSeconds(): number },
  ): void {
    this.#queues.set(name, queue)
  }

  setResourceConditions(
    kind: string,
    namespace: string,
    name: string,
    conditions: ReadonlyArray<{ type: string; status: string }>,
  ): void {
    this.resourceCondition.set(kind, namespace, name, conditions)
  }

  /** Drops every per-resource series of a deleted resource. */
  removeResource(kind: string, namespace: string, name: string): void {
    this.resourceCondition.remove(kind, namespace, name)
  }
}

const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const

/** Distinct condition sets shared between resources; past this many, each resource keeps its own. */
const MAX_SHARED_CONDITION_SETS = 1024

/**
 * `switchboard_resource_condition{kind, namespace, name, type, status}`: for each condition of each
 * resource three series, 1 for the status the condition has and 0 for the other two (the series
 * and values of Flux's `gotk_reconcile_condition`). The series are made when the metrics are
 * scraped, from one entry per resource: its conditions as a list of type and status, shared by
 * every resource in the same state (at 10,000 resources, six stored series each were 60,000 label
 * sets with their keys, about 1.3 KiB per resource).
 */
export class ResourceConditionGauge {
  readonly name = 'switchboard_resource_condition'
  readonly help =
    'The current condition status of a Switchboard resource (1 for the status the condition has, 0 for the others)'
  readonly type = 'gauge'
  readonly aggregator = 'sum'
  /** kind → `namespace/name` → [type, status, type, status, ...] */
  readonly #byKind = new Map<string, Map<string, readonly string[]>>()
  readonly #shared = new Map<string, readonly string[]>()

  set(
    kind: string,
    namespace: string,
    name: string,
    conditions: ReadonlyArray<{ type: string; status: string }>,
  ): void {
    const flat: string[] = []
    for (const c of conditions) flat.push(c.type, c.status)
    const id = flat.join('\n')
    let shared = this.#shared.get(id)
    if (!shared) {
      shared = Object.freeze(flat)
      if (this.#shared.size < MAX_SHARED_CONDITION_SETS) this.#shared.set(id, shared)
    }
    let resources = this.#byKind.get(kind)
    if (!resources) {
      resources = new Map()
      this.#byKind.set(kind, resources)
    }
    resources.set(`${namespace}/${name}`, shared)
  }

  remove(kind: string, namespace: string, name: string): void {
    this.#byKind.get(kind)?.delete(`${namespace}/${name}`)
  }

  /** The series now (prom-client's `Metric.get`). */
  get(): {
    name: string
    help: string
    type: 'gauge'
    aggregator: 'sum'
    values: Array<{ labels: Record<string, string>; value: number }>
  } {
    const values: Array<{ labels: Record<string, string>; value: number }> = []
    for (const [kind, resources] of this.#byKind) {
      for (const [key, conditions] of resources) {
        const slash = key.indexOf('/')
        const namespace = key.slice(0, slash)
        const name = key.slice(slash + 1)
        for (let i = 0; i < conditions.length; i += 2) {
          const type = conditions[i] as string
          const has = conditions[i + 1]
          for (const status of CONDITION_STATUSES)
            values.push({ labels: { kind, namespace, name, type, status }, value: has === status ? 1 : 0 })
        }
      }
    }
    return { name: this.name, help: this.help, type: 'gauge', aggregator: 'sum', values }
  }

  /** Drops every series (prom-client's `Registry.resetMetrics`). */
  reset(): void {
    this.#byKind.clear()
    this.#shared.clear()
  }
}

export interface QueueMetrics {
  depth: { set(v: number): void }
  adds: { inc(): void }
  retries: { inc(): void }
  queueDuration: { observe(v: number): void }
  workDuration: { observe(v: number): void }
}
