import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/**
 * Sync metrics shared by every kind that syncs records. `kind`, `provider` and `stream` are
 * bounded; only the last-success gauge is per resource, and its series are removed with the
 * resource.
 */
export class SyncMetrics {
  readonly records: Counter<'kind' | 'provider' | 'stream' | 'result'>
  readonly duration: Histogram<'kind' | 'provider' | 'stream'>
  readonly lastSuccess: Gauge<'kind' | 'namespace' | 'name' | 'stream'>
  readonly interval: Gauge<'kind' | 'namespace' | 'name' | 'stream'>
  readonly #series = new Map<string, Set<string>>()

  constructor(registry: Registry) {
    const registers = [registry]
    this.records = new Counter({
      name: 'switchboard_sync_records_total',
      help: 'Records handled by syncs, by result (delivered: acknowledged by every destination; failed: not delivered)',
      labelNames: ['kind', 'provider', 'stream', 'result'],
      registers,
    })
    this.duration = new Histogram({
      name: 'switchboard_sync_duration_seconds',
      help: 'How long one sync of one stream took',
      labelNames: ['kind', 'provider', 'stream'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    })
    this.lastSuccess = new Gauge({
      name: 'switchboard_sync_last_success_timestamp_seconds',
      help: 'Unix time of the last successful sync of a stream of a resource',
      labelNames: ['kind', 'namespace', 'name', 'stream'],
      registers,
    })
    this.interval = new Gauge({
      name: 'switchboard_sync_interval_seconds',
      help: 'The configured sync interval of a stream of a resource (alerts compare the last success with it)',
      labelNames: ['kind', 'namespace', 'name', 'stream'],
      registers,
    })
  }

  succeeded(
    kind: string,
    namespace: string,
    name: string,
    stream: string,
    at: Date,
    intervalMs?: number,
  ): void {
    const key = `${kind}/${namespace}/${name}`
    const streams = this.#series.get(key) ?? new Set<string>()
    streams.add(stream)
    this.#series.set(key, streams)
    this.lastSuccess.set({ kind, namespace, name, stream }, at.getTime() / 1000)
    if (intervalMs !== undefined) this.interval.set({ kind, namespace, name, stream }, intervalMs / 1000)
  }

  removeResource(kind: string, namespace: string, name: string): void {
    const key = `${kind}/${namespace}/${name}`
    for (const stream of this.#series.get(key) ?? [])
      this.lastSuccess.remove({ kind, namespace, name, stream })
    this.#series.delete(key)
  }
}
