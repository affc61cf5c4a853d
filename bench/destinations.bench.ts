/**
 * Bench: Destinations to Ready, each side on a fresh local control plane of its own, floors doing
 * the same API work at the same concurrency over the same kind of connection pool.
 *
 * Scenarios (all by default):
 * - apply:  the bench client creates N Secrets and N Destinations (16 at a time). Floor: then one
 *           status patch per Destination, `--concurrency` at a time. Operator: `switchboard
 *           controller --concurrency` runs while the creates happen; the clock stops when every
 *           Destination reports Ready=True for its generation.
 * - start:  N Destinations exist; the clock starts when a process is started. Floor:
 *           bench/floor-controller.ts (list, GET each Secret, one status patch each). Operator:
 *           `switchboard controller`. Both are Node processes on the same shared connection pool.
 * - scale:  `--large` Destinations exist; the controller is started: time to caches synced
 *           (cold start), to all Ready, RSS at the end, then CPU and API writes while idle for
 *           `--idle` (between resyncs).
 * - shards: `--large` Destinations labelled over three shards (a, b, unlabelled); three
 *           controllers (`--shard a`, `--shard b`, `--default-shard`) started together: time to all
 *           Ready, beside one controller for the same objects (the scale scenario).
 * - heap:   in this process (`node --expose-gc`), the operator's heap after a forced GC before and
 *           after N Destinations are Ready: heap held per object.
 *
 *   node --expose-gc bench/destinations.bench.ts [--count 1000] [--large 10000] [--concurrency 4]
 *     [--idle 300s] [--scenarios apply,start,scale,shards,heap]
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CoreV1Api, CustomObjectsApi, type KubeConfig, Watch } from '@kubernetes/client-node'
import { pino } from 'pino'
import { createOperator } from '../controller/index.ts'
import {
  closeSharedConnections,
  mergePatch,
  parseDuration,
  SHARD_LABEL,
  withSharedConnections,
} from '../controller/runtime/index.ts'
import { installCrds } from '../crds/index.ts'
import { type ControlPlane, startControlPlane } from '../test/controlplane/index.ts'

const GROUP = 'switchboard.dev'
const VERSION = 'v1alpha1'
const ROOT = resolve(import.meta.dirname, '..')
const NAMESPACE = 'bench'
const CREATE_CONCURRENCY = 16
/** NODE_OPTIONS of the controller processes (`--controller-node-options`): the image's by default. */
let controllerNodeOptions =
  /NODE_OPTIONS=(\S+)/.exec(readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8'))?.[1]?.replace(/^"|"$/g, '') ??
  ''

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T)
    }),
  )
}

const names = (count: number) => Array.from({ length: count }, (_, i) => `dest-${String(i).padStart(5, '0')}`)

/** N Secrets and N Destinations, 16 at a time; `shardOf` labels them. */
async function createAll(kc: KubeConfig, count: number, shardOf?: (i: number) => string | undefined) {
  const core = kc.makeApiClient(CoreV1Api)
  const custom = kc.makeApiClient(CustomObjectsApi)
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } }).catch(() => undefined)
  const all = names(count)
  await pool(
    all.map((n, i) => [n, i] as const),
    CREATE_CONCURRENCY,
    async ([name, i]) => {
      await core.createNamespacedSecret({
        namespace: NAMESPACE,
        body: { metadata: { name: `${name}-creds` }, stringData: { writeKey: `wk-${name}` } },
      })
      const shard = shardOf?.(i)
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NAMESPACE,
        plural: 'destinations',
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Destination',
          metadata: { name, ...(shard ? { labels: { [SHARD_LABEL]: shard } } : {}) },
          spec: { credentialsSecretRef: { name: `${name}-creds` }, segment: { host: 'http://127.0.0.1:9' } },
        },
      })
    },
  )
  return all
}

/** Resolves when `count` Destinations report Ready=True for their generation (watched, not polled). */
function allReady(kc: KubeConfig, count: number): { done: Promise<number>; stop(): void } {
  const ready = new Set<string>()
  let abort: { abort(): void } | undefined
  let stopped = false
  const done = new Promise<number>((resolveDone, reject) => {
    const onObj = (obj: {
      metadata: { name: string; generation?: number }
      status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> }
    }) => {
      const ok =
        obj.status?.observedGeneration === obj.metadata.generation &&
        obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      if (ok) ready.add(obj.metadata.name)
      else ready.delete(obj.metadata.name)
      if (ready.size >= count) resolveDone(performance.now())
    }
    const start = () => {
      if (stopped) return
      new Watch(kc)
        .watch(
          `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/destinations`,
          {},
          (_type, obj) => onObj(obj),
          () => setTimeout(start, 100),
        )
        .then((a) => {
          abort = a
        }, reject)
    }
    start()
  })
  return {
    done,
    stop: () => {
      stopped = true
      abort?.abort()
    },
  }
}

function procStat(pid: number): { rssMiB: number; hwmMiB: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of /proc/pid/stat, in clock ticks (100 per second here).
  const ticks = Number(fields[11]) + Number(fields[12])
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024, cpuMs: ticks * 10 }
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as { port: number }
  await new Promise((r) => srv.close(r))
  return port
}

interface Spawned {
  child: ChildProcess
  port: number
  exited: Promise<number | null>
}

async function spawnController(
  cp: ControlPlane,
  concurrency: number,
  extra: string[] = [],
): Promise<Spawned> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    [
      resolve(ROOT, 'bin/switchboard.ts'),
      'controller',
      '--kubeconfig',
      cp.kubeconfigPath,
      '--metrics-bind-address',
      `127.0.0.1:${port}`,
      '--concurrency',
      String(concurrency),
      '--log-level',
      'warn',
      // the Destinations point at a loopback Segment host
      '--allow-loopback-endpoints',
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: controllerNodeOptions } },
  )
  const exited = new Promise<number | null>((r) => child.once('exit', r))
  return { child, port, exited }
}

/** Resolves at the first 200 from /readyz (the caches have synced). */
async function untilReadyz(port: number, exited: Promise<unknown>): Promise<number> {
  let gone = false
  void exited.then(() => {
    gone = true
  })
  for (;;) {
    if (gone) throw new Error('the controller exited before it was ready')
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return performance.now()
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function stop(s: Spawned): Promise<void> {
  s.child.kill('SIGTERM')
  await s.exited
}

async function withControlPlane<T>(fn: (cp: ControlPlane, kc: KubeConfig) => Promise<T>): Promise<T> {
  const cp = await startControlPlane()
  try {
    const kc = withSharedConnections(cp.kubeConfig())
    await installCrds(kc)
    return await fn(cp, kc)
  } finally {
    await closeSharedConnections()
    await cp.stop()
  }
}

const round = (n: number, d = 1) => Number(n.toFixed(d))

async function applyScenario(count: number, concurrency: number) {
  const floorMs = await withControlPlane(async (_cp, kc) => {
    const custom = kc.makeApiClient(CustomObjectsApi)
    const started = performance.now()
    const all = await createAll(kc, count)
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    await pool(all, concurrency, async (name) => {
      await custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: 'destinations',
          namespace: NAMESPACE,
          name,
          body: {
            status: {
              observedGeneration: 1,
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
  })
  const op = await withControlPlane(async (cp, kc) => {
    const s = await spawnController(cp, concurrency)
    try {
      await untilReadyz(s.port, s.exited)
      const before = procStat(s.child.pid as number)
      const ready = allReady(kc, count)
      const started = performance.now()
      await createAll(kc, count)
      const end = await ready.done
      ready.stop()
      const after = procStat(s.child.pid as number)
      return { ms: end - started, before, after }
    } finally {
      await stop(s)
    }
  })
  return {
    count,
    concurrency,
    floorS: round(floorMs / 1000),
    operatorS: round(op.ms / 1000),
    ratio: round(op.ms / floorMs, 2),
    rssMiB: {
      before: Math.round(op.before.rssMiB),
      after: Math.round(op.after.rssMiB),
      peak: Math.round(op.after.hwmMiB),
    },
    operatorCpuS: round((op.after.cpuMs - op.before.cpuMs) / 1000),
  }
}

async function startScenario(count: number, concurrency: number) {
  const floor = await withControlPlane(async (cp, kc) => {
    await createAll(kc, count)
    const ready = allReady(kc, count)
    const started = performance.now()
    const child = spawn(
      process.execPath,
      [
        resolve(ROOT, 'bench/floor-controller.ts'),
        '--kubeconfig',
        cp.kubeconfigPath,
        '--namespace',
        NAMESPACE,
        '--concurrency',
        String(concurrency),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    let peak = { rssMiB: 0, hwmMiB: 0, cpuMs: 0 }
    const sampler = setInterval(() => {
      try {
        peak = procStat(child.pid as number)
      } catch {
        // exited
      }
    }, 50)
    const end = await ready.done
    ready.stop()
    clearInterval(sampler)
    await new Promise((r) => child.once('exit', r))
    return { ms: end - started, cpuMs: peak.cpuMs, hwmMiB: peak.hwmMiB }
  })
  const op = await withControlPlane(async (cp, kc) => {
    await createAll(kc, count)
    const ready = allReady(kc, count)
    const started = performance.now()
    const s = await spawnController(cp, concurrency)
    try {
      const end = await ready.done
      ready.stop()
      return { ms: end - started, stat: procStat(s.child.pid as number) }
    } finally {
      await stop(s)
    }
  })
  return {
    count,
    concurrency,
    floorS: round(floor.ms / 1000),
    operatorS: round(op.ms / 1000),
    ratio: round(op.ms / floor.ms, 2),
    floorCpuS: round(floor.cpuMs / 1000),
    operatorCpuS: round(op.stat.cpuMs / 1000),
    floorPeakMiB: Math.round(floor.hwmMiB),
    operatorRssMiB: Math.round(op.stat.rssMiB),
    operatorPeakMiB: Math.round(op.stat.hwmMiB),
  }
}

async function scaleScenario(count: number, concurrency: number, idleMs: number) {
  return withControlPlane(async (cp, kc) => {
    await createAll(kc, count)
    const ready = allReady(kc, count)
    const started = performance.now()
    const s = await spawnController(cp, concurrency)
    try {
      const synced = await untilReadyz(s.port, s.exited)
      const end = await ready.done
      ready.stop()
      const atReady = procStat(s.child.pid as number)
      // Idle: every object Ready, nothing changed. Count writes to Destinations and Events.
      await new Promise((r) => setTimeout(r, 5_000))
      let writes = 0
      const watches = await Promise.all(
        [
          `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/destinations`,
          `/api/v1/namespaces/${NAMESPACE}/events`,
        ].map((path) =>
          new Watch(kc).watch(
            path,
            { resourceVersion: '0', sendInitialEvents: false },
            (type) => {
              if (type === 'MODIFIED' || type === 'ADDED') writes++
            },
            () => {},
          ),
        ),
      )
      // The watch from resourceVersion 0 replays current objects as ADDED first: start counting after.
      await new Promise((r) => setTimeout(r, 2_000))
      writes = 0
      const idleStart = procStat(s.child.pid as number)
      await new Promise((r) => setTimeout(r, idleMs))
      const idleEnd = procStat(s.child.pid as number)
      for (const w of watches) w.abort()
      return {
        count,
        coldStartS: round((synced - started) / 1000, 2),
        allReadyS: round((end - started) / 1000),
        rssAtReadyMiB: Math.round(atReady.rssMiB),
        peakMiB: Math.round(atReady.hwmMiB),
        cpuToReadyS: round(atReady.cpuMs / 1000),
        idleS: round(idleMs / 1000),
        idleCpuPercentOfCore: round(((idleEnd.cpuMs - idleStart.cpuMs) / idleMs) * 100, 2),
        idleWrites: writes,
        rssAfterIdleMiB: Math.round(idleEnd.rssMiB),
      }
    } finally {
      await stop(s)
    }
  })
}

async function shardsScenario(count: number, concurrency: number) {
  return withControlPlane(async (cp, kc) => {
    const shardOf = (i: number) => (['a', 'b', undefined] as const)[i % 3]
    await createAll(kc, count, shardOf)
    const ready = allReady(kc, count)
    const started = performance.now()
    const procs = await Promise.all([
      spawnController(cp, concurrency, ['--shard', 'a']),
      spawnController(cp, concurrency, ['--shard', 'b']),
      spawnController(cp, concurrency, ['--default-shard']),
    ])
    try {
      const end = await ready.done
      ready.stop()
      const stats = procs.map((p) => procStat(p.child.pid as number))
      return {
        count,
        shards: 3,
        allReadyS: round((end - started) / 1000),
        rssMiB: stats.map((x) => Math.round(x.rssMiB)),
        cpuS: stats.map((x) => round(x.cpuMs / 1000)),
      }
    } finally {
      await Promise.all(procs.map(stop))
    }
  })
}

async function heapScenario(count: number, concurrency: number) {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return { skipped: 'run with node --expose-gc to measure the heap per object' }
  return withControlPlane(async (_cp, kc) => {
    const operator = createOperator({
      kubeConfig: kc,
      logger: pino({ level: 'silent' }),
      concurrency,
      endpoints: { allowLoopback: true },
    })
    await operator.start()
    try {
      const heap = async () => {
        for (let i = 0; i < 3; i++) {
          gc()
          await new Promise((r) => setTimeout(r, 50))
        }
        return process.memoryUsage().heapUsed
      }
      const before = await heap()
      const ready = allReady(kc, count)
      await createAll(kc, count)
      await ready.done
      ready.stop()
      // Let the Destinations' first counter flushes happen, then measure what stays.
      await new Promise((r) => setTimeout(r, 5_000))
      const after = await heap()
      return {
        count,
        heapBeforeMiB: round(before / 2 ** 20),
        heapAfterMiB: round(after / 2 ** 20),
        heapPerObjectKiB: round((after - before) / count / 1024, 2),
      }
    } finally {
      await operator.stop({ timeoutMs: 5_000 })
    }
  })
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '1000' },
      large: { type: 'string', default: '10000' },
      concurrency: { type: 'string', default: '4' },
      idle: { type: 'string', default: '300s' },
      scenarios: { type: 'string', default: 'apply,start,scale,shards,heap' },
      'controller-node-options': { type: 'string' },
    },
  })
  if (values['controller-node-options'] !== undefined)
    controllerNodeOptions = values['controller-node-options']
  const count = Number(values.count)
  const large = Number(values.large)
  const concurrency = Number(values.concurrency)
  const idleMs = parseDuration(values.idle, '--idle')
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    controllerNodeOptions,
  }
  for (const scenario of values.scenarios.split(',')) {
    const t0 = performance.now()
    if (scenario === 'apply') results.apply = await applyScenario(count, concurrency)
    else if (scenario === 'start') results.start = await startScenario(count, concurrency)
    else if (scenario === 'scale') results.scale = await scaleScenario(large, concurrency, idleMs)
    else if (scenario === 'shards') results.shards = await shardsScenario(large, concurrency)
    else if (scenario === 'heap') results.heap = await heapScenario(count, concurrency)
    else throw new Error(`unknown scenario "${scenario}"`)
    process.stderr.write(
      `bench: ${scenario} done in ${round((performance.now() - t0) / 1000)} s: ${JSON.stringify(results[scenario])}\n`,
    )
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
}
