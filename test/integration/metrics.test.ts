import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOperator, type Operator } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createResource,
  createSecret,
  GROUP,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'
import { sample } from './process.ts'

describe('controller metrics and health', () => {
  let c: Clients
  let operator: Operator
  let base: string

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: capturedLogger('info').logger,
      metricsAddress: { host: '127.0.0.1', port: 0 },
    })
    await operator.start()
    base = `http://127.0.0.1:${operator.manager.metricsPort}`
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
  })

  it('serves healthz and readyz once caches have synced', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ok' })
  })

  it('exports the controller-runtime metric names with bounded labels, and promtool accepts the scrape', async () => {
    const ns = await createNamespace(c.core, 'metrics')
    await createSecret(c.core, ns, 'creds', { writeKey: 'wk-metrics-001' })
    await createResource(c, 'Destination', ns, 'm', { credentialsSecretRef: { name: 'creds' }, segment: {} })
    await waitForCondition(c, 'destinations', ns, 'm', 'Ready', 'True')
    const text = await waitFor('a scrape with reconciles', async () => {
      const t = await (await fetch(`${base}/metrics`)).text()
      return sample(t, 'controller_runtime_reconcile_total', { controller: 'destination' }) > 0
        ? t
        : undefined
    })
    for (const name of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total',
      'controller_runtime_reconcile_time_seconds_bucket',
      'controller_runtime_max_concurrent_reconciles',
      'controller_runtime_active_workers',
      'workqueue_depth',
      'workqueue_adds_total',
      'workqueue_retries_total',
      'workqueue_queue_duration_seconds_bucket',
      'workqueue_work_duration_seconds_bucket',
      'workqueue_longest_running_processor_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'))
    }
    expect(sample(text, 'controller_runtime_max_concurrent_reconciles', { controller: 'destination' })).toBe(
      4,
    )
    // The operator-wide metrics carry no per-object labels.
    for (const line of text.split('\n')) {
      if (/^(controller_runtime|workqueue)_/.test(line)) expect(line).not.toMatch(/namespace=|name="m"/)
    }
    // Per-resource condition series exist, and carry the object's identity.
    expect(
      sample(text, 'switchboard_resource_condition', {
        namespace: ns,
        name: 'm',
        type: 'Ready',
        status: 'True',
      }),
    ).toBe(1)

    const dir = mkdtempSync(join(tmpdir(), 'sb-metrics-'))
    try {
      const file = join(dir, 'scrape.prom')
      writeFileSync(file, text)
      // promtool exits non-zero on a malformed exposition or a lint problem.
      const out = execFileSync('sh', ['-c', `promtool check metrics < ${file}`], { encoding: 'utf8' })
      expect(out).toBe('')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }

    // Deleting the resource removes its per-resource series.
    await c.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: 'destinations',
      name: 'm',
    })
    await waitFor('per-resource series to go', async () => {
      const t = await (await fetch(`${base}/metrics`)).text()
      return t.includes(`namespace="${ns}"`) ? undefined : true
    })
  })
})
