/**
 * Bench: sync N casino records (default 1,000,000 transactions) from the sandbox's SOFTSWISS
 * plugin to a Segment destination, three ways in one run against the same sandbox:
 *
 * - raw:      the connector reads pages, the next one while this one is posted (at most one
 *             ahead, as the sync engine reads); each page is POSTed to /v1/batch with fetch (no
 *             SDK, no operator) in batches of the deliverer's size (100 events), at most 8 in
 *             flight as the deliverer, over keep-alive connections, the next page when they all
 *             answered: the floor, doing what the deliverer does on the wire.
 * - deliverer: the same reads; each page goes through Switchboard's Segment deliverer (the
 *             official SDK) and is awaited, as the sync engine does, without the operator.
 * - operator: `switchboard controller` (its own process, the bundle the image runs unless
 *             `--build ts`, with the image's environment) syncs a
 *             CasinoIntegration against a real local API server, committing the cursor to status
 *             every 10 pages or 2 s. With several builds (`--build baseline,bundle`) the operator
 *             part runs once per build, one after the other, to compare a change side by side.
 *
 * Reports records/s for each and the controller's RSS before and after (and its peak).
 *
 * `--platform-latency-ms L` holds every answer of the platform (the sandbox's SOFTSWISS plugin) L ms
 * on all three sides, as a platform across a network would: what reading ahead hides.
 *
 *   node bench/casino.bench.ts [--records 1000000] [--page 1000] [--build bundle|ts|baseline,...]
 *                              [--platform-latency-ms 0] [--controller-args '--sync-heap-growth 96']
 */
import { parseArgs } from 'node:util'
import { Registry } from 'prom-client'
import {
  casinoConnectors,
  createLogger,
  createSegmentDeliverer,
  toDeliveryRecord,
} from '../connectors/index.ts'
import { readAhead } from '../controller/runtime/index.ts'
import { buildSandbox } from '../test/sandbox/index.ts'
import { runOperatorSync } from './casino-operator.ts'
import { type ControllerBuild, loadAverage, parseBuilds } from './lib.ts'

/** Events per request: the Segment deliverer's default `flushAt`, which the Destination uses. */
const SEGMENT_BATCH = 100
/** Requests in flight at once: the Segment deliverer's default `maxConcurrentRequests`. */
const SEGMENT_IN_FLIGHT = 8

export interface CasinoBenchResult {
  records: number
  pageSize: number
  builds: ControllerBuild[]
  platformLatencyMs: number
  loadAverage: { before: string; after: string }
  raw: { seconds: number; recordsPerSecond: number }
  deliverer: { seconds: number; recordsPerSecond: number; ratioToRaw: number }
  /** One per build, in the order run. */
  operator: Array<{
    build: ControllerBuild
    seconds: number
    recordsPerSecond: number
    ratioToRaw: number
    controllerCpuSeconds: number
    controllerRssMiB: { before: number; after: number; peak: number }
  }>
}

export async function runCasinoBench(opts: {
  records: number
  pageSize: number
  builds: ControllerBuild[]
  platformLatencyMs?: number
  /** More arguments of `switchboard controller`. */
  controllerArgs?: string[]
}): Promise<CasinoBenchResult> {
  const { records, pageSize } = opts
  const loadBefore = loadAverage()
  const operatorCasinos = opts.builds.map((_, i) => `bench-operator-${i}`)
  const casinos = ['bench-raw', 'bench-deliverer', ...operatorCasinos]
  const sandbox = await buildSandbox({
    segment: { maxStoredEvents: 0 },
    casino: {
      maxPageSize: Math.max(1000, pageSize),
      accounts: casinos.map((casinoId) => ({
        provider: 'softswiss' as const,
        credentials: { apiKey: `${casinoId}-key`, apiSecret: `${casinoId}-secret` },
        settings: { casinoId },
        size: { players: 1, transactions: records, games: 1 },
      })),
    },
  })
  await sandbox.listen()
  const platformLatencyMs = opts.platformLatencyMs ?? 0
  if (platformLatencyMs > 0) {
    // processed normally, answered L ms later: every page read, by every side
    sandbox.faults.inject({ provider: 'softswiss', delayMs: platformLatencyMs, times: 10_000_000 })
  }
  const logger = createLogger({ level: 'warn' })
  const connector = casinoConnectors.softswiss
  const client = (casinoId: string) =>
    connector.create({
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentials: { apiKey: `${casinoId}-key`, apiSecret: `${casinoId}-secret` },
      settings: connector.settings.parse({ casinoId }),
      logger,
      metrics: new Registry(),
    })
  const report = (name: string, seconds: number) => {
    process.stderr.write(`[casino bench] ${name}: ${records} records in ${seconds.toFixed(1)} s\n`)
    return { seconds: Number(seconds.toFixed(2)), recordsPerSecond: Math.round(records / seconds) }
  }
  const mark = (name: string, started: number) => report(name, (performance.now() - started) / 1000)

  try {
    // raw: pages POSTed with fetch
    let started = performance.now()
    const auth = `Basic ${Buffer.from('wk-raw:').toString('base64')}`
    for await (const page of readAhead(client('bench-raw').read('transactions', { pageSize }))) {
      const events = page.records.map((r) => {
        const d = toDeliveryRecord('softswiss', 'bench-raw', r)
        return {
          type: d.type,
          messageId: d.messageId,
          userId: d.userId,
          event: d.event,
          properties: d.properties,
          timestamp: d.timestamp,
        }
      })
      const batches: (typeof events)[] = []
      for (let i = 0; i < events.length; i += SEGMENT_BATCH) batches.push(events.slice(i, i + SEGMENT_BATCH))
      // at most as many requests in flight as the deliverer (its default), the next page when
      // all of this one's were answered
      let next = 0
      await Promise.all(
        Array.from({ length: Math.min(SEGMENT_IN_FLIGHT, batches.length) }, async () => {
          for (let batch = batches[next++]; batch; batch = batches[next++]) {
            const res = await fetch(`${sandbox.url}/v1/batch`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: auth },
              body: JSON.stringify({ batch }),
            })
            if (!res.ok) throw new Error(`raw: batch refused with ${res.status}`)
            await res.arrayBuffer()
          }
        }),
      )
    }
    const raw = mark('raw', started)

    // deliverer: the sync engine's loop without the operator
    started = performance.now()
    const deliverer = createSegmentDeliverer({ writeKey: 'wk-deliverer', host: sandbox.url, logger })
    for await (const page of readAhead(client('bench-deliverer').read('transactions', { pageSize }))) {
      await deliverer.deliver(page.records.map((r) => toDeliveryRecord('softswiss', 'bench-deliverer', r)))
    }
    await deliverer.close()
    const viaDeliverer = mark('deliverer', started)

    // operator, once per build
    const operators: CasinoBenchResult['operator'] = []
    for (const [i, build] of opts.builds.entries()) {
      const casinoId = operatorCasinos[i] as string
      const operator = await runOperatorSync({
        namespace: `bench-casino-${i}`,
        casinoId,
        platformCredentials: { apiKey: `${casinoId}-key`, apiSecret: `${casinoId}-secret` },
        endpoint: sandbox.casinoEndpoint('softswiss'),
        destination: {
          name: 'cdp',
          spec: { segment: { host: sandbox.url } },
          secret: { writeKey: `wk-operator-${i}` },
        },
        records,
        pageSize,
        build,
        ...(opts.controllerArgs?.length ? { controllerArgs: opts.controllerArgs } : {}),
      })
      const viaOperator = report(`operator (${build})`, operator.seconds)
      operators.push({
        build,
        ...viaOperator,
        // records/s as a fraction of the raw floor's: 1 is as fast as the floor
        ratioToRaw: Number((raw.seconds / viaOperator.seconds).toFixed(2)),
        controllerCpuSeconds: operator.controllerCpuSeconds,
        controllerRssMiB: operator.controllerRssMiB,
      })
    }
    return {
      records,
      pageSize,
      builds: opts.builds,
      platformLatencyMs,
      loadAverage: { before: loadBefore, after: loadAverage() },
      raw,
      deliverer: { ...viaDeliverer, ratioToRaw: Number((raw.seconds / viaDeliverer.seconds).toFixed(2)) },
      operator: operators,
    }
  } finally {
    await sandbox.close()
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      page: { type: 'string', default: '1000' },
      build: { type: 'string', default: 'bundle' },
      'platform-latency-ms': { type: 'string', default: '0' },
      'controller-args': { type: 'string', default: '' },
    },
  })
  const builds = parseBuilds(values.build)
  const result = await runCasinoBench({
    records: Number(values.records),
    pageSize: Number(values.page),
    builds: builds.length > 0 ? builds : ['bundle'],
    platformLatencyMs: Number(values['platform-latency-ms']),
    controllerArgs: values['controller-args'].split(' ').filter(Boolean),
  })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
