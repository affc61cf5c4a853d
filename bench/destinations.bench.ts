/**
 * Bench: N Destinations from apply to all Ready, beside a raw-client floor measured in the same
 * run on the same API server.
 *
 * - floor: the bench client creates N Secrets and N Destinations, then writes one status patch per
 *   Destination (Ready=True) with the same concurrency the controller uses. This is the least API
 *   work any operator must do for N objects.
 * - operator: the same creates, with `switchboard controller` running as its own process; the clock
 *   stops when every Destination reports Ready=True for its generation.
 *
 * Also reports the controller's resident memory before and after (VmRSS, VmHWM from /proc).
 *
 *   node bench/destinations.bench.ts [--count 1000] [--concurrency 4]
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node'
import { mergePatch } from '../controller/runtime/index.ts'
import { installCrds } from '../crds/index.ts'
import { startControlPlane } from '../test/controlplane/index.ts'

const GROUP = 'switchboard.dev'
const VERSION = 'v1alpha1'
const ROOT = resolve(import.meta.dirname, '..')

export interface DestinationsBenchResult {
  count: number
  concurrency: number
  floorMs: number
  operatorMs: number
  ratio: number
  rssBeforeMiB: number
  rssAfterMiB: number
  rssPeakMiB: number
}

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T
        await fn(item)
      }
    }),
  )
}

async function createAll(
  kc: KubeConfig,
  namespace: string,
  count: number,
  concurrency: number,
): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api)
  const custom = kc.makeApiClient(CustomObjectsApi)
  await core.createNamespace({ body: { metadata: { name: namespace } } })
  const names = Array.from({ length: count }, (_, i) => `dest-${String(i).padStart(5, '0')}`)
  await pool(names, concurrency, async (name) => {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: `${name}-creds`, namespace }, stringData: { writeKey: `wk-${name}` } },
    })
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'destinations',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Destination',
        metadata: { name, namespace },
        spec: { credentialsSecretRef: { name: `${name}-creds` }, segment: { host: 'http://127.0.0.1:9' } },
      },
    })
  })
  return names
}

async function floor(kc: KubeConfig, count: number, concurrency: number): Promise<number> {
  const custom = kc.makeApiClient(CustomObjectsApi)
  const namespace = `bench-floor-${Date.now()}`
  const started = performance.now()
  const names = await createAll(kc, namespace, count, 16)
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
  await pool(names, concurrency, async (name) => {
    await custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: 'destinations',
        namespace,
        name,
        body: {
          status: {
            observedGeneration: 1,
            type: 'segment',
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Succeeded',
                message: 'ok',
                observedGeneration: 1,
                lastTransitionTime: now,
              },
            ],
          },
        },
      },
      mergePatch,
    )
  })
  return performance.now() - started
}

function rss(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 }
}

async function operator(
  kc: KubeConfig,
  kubeconfigPath: string,
  count: number,
  concurrency: number,
): Promise<{ ms: number; before: number; after: number; peak: number }> {
  const child = spawn(
    process.execPath,
    [
      resolve(ROOT, 'bin/switchboard.ts'),
      'controller',
      '--kubeconfig',
      kubeconfigPath,
      '--metrics-bind-address',
      '0',
      '--concurrency',
      String(concurrency),
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  try {
    // Let it start and sync its (empty) caches before measuring.
    await new Promise((r) => setTimeout(r, 3_000))
    const pid = child.pid as number
    const before = rss(pid).rss
    const custom = kc.makeApiClient(CustomObjectsApi)
    const namespace = `bench-operator-${Date.now()}`
    const started = performance.now()
    await createAll(kc, namespace, count, 16)
    for (;;) {
      const list = (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'destinations',
        namespace,
      })) as {
        items: Array<{
          metadata: { generation: number }
          status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> }
        }>
      }
      const ready = list.items.filter(
        (o) =>
          o.status?.observedGeneration === o.metadata.generation &&
          o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      ).length
      if (ready === count) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const ms = performance.now() - started
    const after = rss(pid)
    return { ms, before, after: after.rss, peak: after.hwm }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
  }
}

export async function runDestinationsBench(opts: {
  count: number
  concurrency: number
}): Promise<DestinationsBenchResult> {
  const cp = await startControlPlane()
  try {
    const kc = cp.kubeConfig()
    await installCrds(kc)
    const floorMs = await floor(kc, opts.count, opts.concurrency)
    const op = await operator(kc, cp.kubeconfigPath, opts.count, opts.concurrency)
    return {
      count: opts.count,
      concurrency: opts.concurrency,
      floorMs: Math.round(floorMs),
      operatorMs: Math.round(op.ms),
      ratio: Number((op.ms / floorMs).toFixed(2)),
      rssBeforeMiB: Math.round(op.before),
      rssAfterMiB: Math.round(op.after),
      rssPeakMiB: Math.round(op.peak),
    }
  } finally {
    await cp.stop()
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { count: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '4' } },
  })
  const result = await runDestinationsBench({
    count: Number(values.count),
    concurrency: Number(values.concurrency),
  })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
