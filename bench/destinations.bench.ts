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
 * - cold:   `--large` Destinations exist (created once); each build of the controller is started
 *           `--repeat` times, the builds alternating: time to /readyz (caches synced, first
 *           reconciles queued) and RSS then; stopped at once.
 * - heap:   in this process (`node --expose-gc`), the operator's heap after a forced GC before and
 *           after N Destinations are Ready: heap held per object.
 *
 * Every scenario with a controller process runs it once per build in `--builds` (`ts`: the
 * TypeScript sources, `bundle`: the production bundle as the image runs it, built from the current
 * sources, both with the image's NODE_OPTIONS and GLIBC_TUNABLES; `bundle-glibc-default`: the
 * bundle with glibc's default malloc, to measure what the image's setting does), one row each,
 * beside the same floor.
 *
 *   node --expose-gc bench/destinations.bench.ts [--count 1000] [--large 10000] [--concurrency 4]
 *     [--idle 300s] [--interval 1h] [--builds ts,bundle] [--repeat 3]
 *     [--scenarios apply,start,cold,scale,shards,heap]
 *
 * `--interval` sets every Destination's `spec.interval` (default: the kind's, 10m). With 10,000
 * objects the first are resynced before the last are Ready, so the idle window of the scale
 * scenario is between resyncs only with an interval longer than the ramp and the window; the
 * reconciles that fell in the window are reported beside its CPU.
 */
import { spawn } from 'node:child_process'
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
import {
  type ControllerBuild,
  type ControllerProcess,
  controllerEntry,
  imageNodeOptions,
  loadAverage,
  parseBuilds,
  procStat,
  ROOT,
  sampleProc,
  startController,
  untilReadyz,
} from './lib.ts'

const GROUP = 'switchboard.dev'
const VERSION = 'v1alpha1'
const NAMESPACE = 'bench'
const CREATE_CONCURRENCY = 16
/** NODE_OPTIONS of the controller processes (`--controller-node-options`): the image's by default. */
let controllerNodeOptions = imageNodeOptions()

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
/** `spec.interval` of every Destination the bench creates (`--interval`); unset: the kind's default. */
let objectInterval: string | undefined

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
          spec: {
            credentialsSecretRef: { name: `${name}-creds` },
            segment: { host: 'http://127.0.0.1:9' },
            ...(objectInterval ? { interval: objectInterval } : {}),
          },
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

/** The controller of these benches: `--concurrency` workers, the chosen NODE_OPTIONS. */
function spawnController(
  cp: ControlPlane,
  build: ControllerBuild,
  concurrency: number,
  extra: string[] = [],
): Promise<ControllerProcess> {
  return startController({
    kubeconfig: cp.kubeconfigPath,
    build,
    nodeOptions: controllerNodeOptions,
    args: ['--concurrency', String(concurrency), ...extra],
  })
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

async function applyScenario(count: number, concurrency: number, builds: ControllerBuild[]) {
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
  const operators: Record<string, unknown> = {}
  for (const build of builds) {
    const op = await withControlPlane(async (cp, kc) => {
      const s = await spawnController(cp, build, concurrency)
      try {
        await untilReadyz(s)
        const before = procStat(s.pid)
        const ready = allReady(kc, count)
        const started = performance.now()
        await createAll(kc, count)
        const end = await ready.done
        ready.stop()
        const after = procStat(s.pid)
        return { ms: end - started, before, after }
      } finally {
        await s.stop()
      }
    })
    operators[build] = {
      operatorS: round(op.ms / 1000),
      ratio: round(op.ms / floorMs, 2),
      rssMiB: {
        before: Math.round(op.before.rssMiB),
        after: Math.round(op.after.rssMiB),
        peak: Math.round(op.after.hwmMiB),
      },
      operatorCpuS: round((op.after.cpuMs - op.before.cpuMs) / 1000),
      loadAverage: loadAverage(),
    }
  }
  return { count, concurrency, floorS: round(floorMs / 1000), operators }
}

/**
 * `count` Destinations created first; then the clock starts and the controller is started: when
 * /readyz first answered and when all were Ready (the controller is left running).
 */
async function startedOnExisting(
  cp: ControlPlane,
  kc: KubeConfig,
  build: ControllerBuild,
  count: number,
  concurrency: number,
): Promise<{ s: ControllerProcess; started: number; readyzAt: number; readyAt: number }> {
  await createAll(kc, count)
  const ready = allReady(kc, count)
  const started = performance.now()
  const s = await spawnController(cp, build, concurrency)
  try {
    const readyzAt = await untilReadyz(s)
    const readyAt = await ready.done
    return { s, started, readyzAt, readyAt }
  } catch (err) {
    await s.stop()
    throw err
  } finally {
    ready.stop()
  }
}

async function startScenario(count: number, concurrency: number, builds: ControllerBuild[]) {
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
    const sampler = sampleProc(child.pid as number)
    const end = await ready.done
    ready.stop()
    await new Promise((r) => child.once('exit', r))
    sampler.stop()
    const peak = sampler.last()
    return { ms: end - started, cpuMs: peak.cpuMs, hwmMiB: peak.hwmMiB }
  })
  const operators: Record<string, unknown> = {}
  for (const build of builds) {
    const op = await withControlPlane(async (cp, kc) => {
      const run = await startedOnExisting(cp, kc, build, count, concurrency)
      try {
        return {
          ms: run.readyAt - run.started,
          readyzMs: run.readyzAt - run.started,
          stat: procStat(run.s.pid),
        }
      } finally {
        await run.s.stop()
      }
    })
    operators[build] = {
      toReadyzS: round(op.readyzMs / 1000, 2),
      operatorS: round(op.ms / 1000),
      ratio: round(op.ms / floor.ms, 2),
      operatorCpuS: round(op.stat.cpuMs / 1000),
      cpuRatio: round(op.stat.cpuMs / floor.cpuMs, 2),
      operatorRssMiB: Math.round(op.stat.rssMiB),
      operatorPeakMiB: Math.round(op.stat.hwmMiB),
      loadAverage: loadAverage(),
    }
  }
  return {
    count,
    concurrency,
    floorS: round(floor.ms / 1000),
    floorCpuS: round(floor.cpuMs / 1000),
    floorPeakMiB: Math.round(floor.hwmMiB),
    operators,
  }
}

/**
 * The same objects, each build started `repeat` times (alternating), each stopped once /readyz
 * answers: the cold start alone, on one API server.
 */
async function coldScenario(count: number, concurrency: number, builds: ControllerBuild[], repeat: number) {
  return withControlPlane(async (cp, kc) => {
    await createAll(kc, count)
    const runs: Record<string, Array<{ toReadyzS: number; rssMiB: number; cpuS: number }>> = {}
    for (let i = 0; i < repeat; i++) {
      for (const build of builds) {
        const started = performance.now()
        const s = await spawnController(cp, build, concurrency)
        try {
          const synced = await untilReadyz(s)
          const stat = procStat(s.pid)
          const list = runs[build] ?? []
          runs[build] = list
          list.push({
            toReadyzS: round((synced - started) / 1000, 2),
            rssMiB: Math.round(stat.rssMiB),
            cpuS: round(stat.cpuMs / 1000, 2),
          })
        } finally {
          await s.stop()
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
    return {
      count,
      repeat,
      loadAverage: loadAverage(),
      builds: Object.fromEntries(
        Object.entries(runs).map(([build, r]) => [
          build,
          {
            medianToReadyzS: median(r.map((x) => x.toReadyzS)),
            medianRssMiB: median(r.map((x) => x.rssMiB)),
            medianCpuS: median(r.map((x) => x.cpuS)),
            runs: r,
          },
        ]),
      ),
    }
  })
}

async function scaleScenario(count: number, concurrency: number, idleMs: number, build: ControllerBuild) {
  return withControlPlane(async (cp, kc) => {
    const {
      s,
      started,
      readyzAt: synced,
      readyAt: end,
    } = await startedOnExisting(cp, kc, build, count, concurrency)
    try {
      const atReady = procStat(s.pid)
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
      const reconcilesBefore = await metricSum(s, RECONCILES)
      const gcBefore = await metricSum(s, GC_SECONDS)
      const idleStart = procStat(s.pid)
      await new Promise((r) => setTimeout(r, idleMs))
      const idleEnd = procStat(s.pid)
      // resyncs that fell in the window (objects whose interval ran out) are not idle: counted
      const idleReconciles = (await metricSum(s, RECONCILES)) - reconcilesBefore
      // the share of the idle CPU that was garbage collection (V8 returning the ramp's heap)
      const idleGcS = (await metricSum(s, GC_SECONDS)) - gcBefore
      for (const w of watches) w.abort()
      return {
        build,
        count,
        loadAverage: loadAverage(),
        coldStartS: round((synced - started) / 1000, 2),
        allReadyS: round((end - started) / 1000),
        rssAtReadyMiB: Math.round(atReady.rssMiB),
        peakMiB: Math.round(atReady.hwmMiB),
        cpuToReadyS: round(atReady.cpuMs / 1000),
        idleS: round(idleMs / 1000),
        idleCpuPercentOfCore: round(((idleEnd.cpuMs - idleStart.cpuMs) / idleMs) * 100, 2),
        idleWrites: writes,
        idleReconciles,
        idleGcS: round(idleGcS, 2),
        objectInterval: objectInterval ?? 'the default (10m)',
        rssAfterIdleMiB: Math.round(idleEnd.rssMiB),
      }
    } finally {
      await s.stop()
    }
  })
}

/** The sum of a metric's series in the controller's /metrics (every label set). */
async function metricSum(c: ControllerProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${c.port}/metrics`)).text()
  let n = 0
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) n += Number(m[1])
  return n
}
const RECONCILES = 'controller_runtime_reconcile_total'
const GC_SECONDS = 'nodejs_gc_duration_seconds_sum'

async function shardsScenario(count: number, concurrency: number, build: ControllerBuild) {
  return withControlPlane(async (cp, kc) => {
    const shardOf = (i: number) => (['a', 'b', undefined] as const)[i % 3]
    await createAll(kc, count, shardOf)
    const ready = allReady(kc, count)
    const started = performance.now()
    const procs = await Promise.all([
      spawnController(cp, build, concurrency, ['--shard', 'a']),
      spawnController(cp, build, concurrency, ['--shard', 'b']),
      spawnController(cp, build, concurrency, ['--default-shard']),
    ])
    try {
      const end = await ready.done
      ready.stop()
      const stats = procs.map((p) => procStat(p.pid))
      return {
        build,
        count,
        shards: 3,
        allReadyS: round((end - started) / 1000),
        rssMiB: stats.map((x) => Math.round(x.rssMiB)),
        cpuS: stats.map((x) => round(x.cpuMs / 1000)),
      }
    } finally {
      await Promise.all(procs.map((p) => p.stop()))
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
      interval: { type: 'string' },
      scenarios: { type: 'string', default: 'apply,start,cold,scale,shards,heap' },
      builds: { type: 'string', default: 'ts,bundle' },
      repeat: { type: 'string', default: '3' },
      'controller-node-options': { type: 'string' },
    },
  })
  if (values['controller-node-options'] !== undefined)
    controllerNodeOptions = values['controller-node-options']
  const count = Number(values.count)
  const large = Number(values.large)
  const concurrency = Number(values.concurrency)
  const idleMs = parseDuration(values.idle, '--idle')
  if (values.interval !== undefined) {
    parseDuration(values.interval, '--interval')
    objectInterval = values.interval
  }
  const builds = parseBuilds(values.builds)
  const repeat = Number(values.repeat)
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    controllerNodeOptions,
    builds,
    loadAverageAtStart: loadAverage(),
  }
  // the bundle is built before any clock starts
  for (const build of builds) await controllerEntry(build)
  for (const scenario of values.scenarios.split(',')) {
    const t0 = performance.now()
    if (scenario === 'apply') results.apply = await applyScenario(count, concurrency, builds)
    else if (scenario === 'start') results.start = await startScenario(count, concurrency, builds)
    else if (scenario === 'cold') results.cold = await coldScenario(large, concurrency, builds, repeat)
    else if (scenario === 'scale') {
      const rows: unknown[] = []
      for (const build of builds) rows.push(await scaleScenario(large, concurrency, idleMs, build))
      results.scale = rows
    } else if (scenario === 'shards') {
      const rows: unknown[] = []
      for (const build of builds) rows.push(await shardsScenario(large, concurrency, build))
      results.shards = rows
    } else if (scenario === 'heap') results.heap = await heapScenario(count, concurrency)
    else throw new Error(`unknown scenario "${scenario}"`)
    process.stderr.write(
      `bench: ${scenario} done in ${round((performance.now() - t0) / 1000)} s: ${JSON.stringify(results[scenario])}\n`,
    )
  }
  results.loadAverageAtEnd = loadAverage()
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
}
