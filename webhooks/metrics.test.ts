import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { PROVIDERS } from '../controller/api/index.ts'
import { FUZZ_SEED, prng } from '../test/seeded/index.ts'
import { type ProviderLabel, type Result, WebhookMetrics } from './metrics.ts'
import { REJECTS, RESULTS, type RejectReason } from './rejects.ts'

const SEED = FUZZ_SEED

/** The request metrics as prom-client writes them when every request is recorded at once. */
function reference() {
  const registry = new Registry()
  const requests = new Counter({
    name: 'switchboard_webhook_requests_total',
    help: 'Webhook requests by provider, result (accepted, duplicate, handshake, rejected) and reject reason',
    labelNames: ['provider', 'result', 'reason'],
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'switchboard_webhook_request_duration_seconds',
    help: 'Time from the arrival of a webhook request to its response, by provider',
    labelNames: ['provider'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  for (const provider of PROVIDERS) requests.inc({ provider, result: 'accepted', reason: 'none' }, 0)
  return { registry, requests, duration }
}

const text = async (registry: Registry, name: string) => (await registry.getSingleMetricAsString(name)).trim()

describe('webhook request metrics', () => {
  it('read the same series and values as prom-client recording each request, read at any point (seeded)', async () => {
    const { next } = prng(SEED)
    process.stderr.write(`[metrics] seed ${SEED} (replay: FUZZ_SEED=${SEED})\n`)
    const metrics = new WebhookMetrics({ defaultMetrics: false })
    const ref = reference()
    const providers: ProviderLabel[] = [...PROVIDERS, 'unknown']
    const reasons = Object.keys(REJECTS) as RejectReason[]
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T
    let reads = 0
    for (let n = 0; n < 5000; n++) {
      const provider = pick(providers)
      const result: Result = pick(RESULTS)
      const reason = result === 'rejected' ? pick(reasons) : 'none'
      const seconds = next() * 0.02
      metrics.observe(provider, result, reason, seconds)
      ref.requests.inc({ provider, result, reason })
      ref.duration.observe({ provider }, seconds)
      if (next() < 0.01) {
        reads++
        for (const name of [
          'switchboard_webhook_requests_total',
          'switchboard_webhook_request_duration_seconds',
        ])
          expect(await text(metrics.registry, name), `seed ${SEED}, after ${n + 1} requests`).toBe(
            await text(ref.registry, name),
          )
      }
    }
    expect(reads, `seed ${SEED}`).toBeGreaterThan(10)
    expect(await text(metrics.registry, 'switchboard_webhook_requests_total')).toBe(
      await text(ref.registry, 'switchboard_webhook_requests_total'),
    )
    // and the counter's own reader sees them too
    const values = (await metrics.requests.get()).values
    expect(values.reduce((a, v) => a + v.value, 0)).toBe(5000)
  })
})
