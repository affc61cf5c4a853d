/**
 * Provider request metrics. Labels are bounded: `provider` is a connector id, `operation` a name
 * the connector chose (`players.list`, `auth.token`), `code` an HTTP status or `error` (no
 * response: network error, timeout, abort). Registering twice on one registry returns the same
 * metrics, so every client of a process can ask for them.
 */
import { Counter, Histogram, type Registry } from 'prom-client'

export const PROVIDER_REQUESTS_TOTAL = 'switchboard_provider_requests_total'
export const PROVIDER_REQUEST_DURATION = 'switchboard_provider_request_duration_seconds'

/** Seconds; provider reads range from tens of milliseconds to a slow page of a few seconds. */
export const DURATION_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export interface ProviderMetrics {
  requests: Counter<'provider' | 'operation' | 'code'>
  duration: Histogram<'provider' | 'operation'>
}

const byRegistry = new WeakMap<Registry, ProviderMetrics>()

/** The provider metrics of `registry`, registered on first use. */
export function providerMetrics(registry: Registry): ProviderMetrics {
  const known = byRegistry.get(registry)
  if (known) return known
  const existingRequests = registry.getSingleMetric(PROVIDER_REQUESTS_TOTAL)
  const existingDuration = registry.getSingleMetric(PROVIDER_REQUEST_DURATION)
  const metrics: ProviderMetrics = {
    requests:
      existingRequests instanceof Counter
        ? (existingRequests as Counter<'provider' | 'operation' | 'code'>)
        : new Counter({
            name: PROVIDER_REQUESTS_TOTAL,
            help: 'HTTP requests Switchboard sent to providers, each retry counted, by status code (or error).',
            labelNames: ['provider', 'operation', 'code'] as const,
            registers: [registry],
          }),
    duration:
      existingDuration instanceof Histogram
        ? (existingDuration as Histogram<'provider' | 'operation'>)
        : new Histogram({
            name: PROVIDER_REQUEST_DURATION,
            help: 'Time from sending a request to a provider until its response headers (or the error).',
            labelNames: ['provider', 'operation'] as const,
            buckets: DURATION_BUCKETS,
            registers: [registry],
          }),
  }
  byRegistry.set(registry, metrics)
  return metrics
}
