/**
 * Bench: sync N casino records (default 1,000,000 transactions) from the sandbox's SOFTSWISS
 * plugin to a Segment destination, three ways in one run against the same sandbox:
 *
 * - raw:      the connector reads pages; each page is POSTed to /v1/batch with fetch (no SDK, no
 *             operator) in batches of the deliverer's size (100 events), all of a page at once
 *             over keep-alive connections, the next page when they all answered: the floor, doing
 *             what the deliverer does on the wire.
 * - deliverer: the connector reads pages; each page goes through Switchboard's Segment deliverer
 *             (the official SDK) and is awaited, as the sync engine does, without the operator.
 * - operator: `switchboard controller` (its own process, with the image's NODE_OPTIONS) syncs a
 *             CasinoIntegration against a real local API server, committing the cursor to status
 *             every 10 pages or 2 s.
 *
 * Reports records/s for each and the controller's RSS before and after (and its peak).
 *
 *   node bench/casino.bench.ts [--records 1000000] [--page 1000]
 */
import { parseArgs } from 'node:util'
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node'
import { Registry } from 'prom-client'
import {
  casinoConnectors,
  createLogger,
  createSegmentDeliverer,
  toDeliveryRecord,
} from '../connectors/index.ts'
import { installCrds } from '../crds/index.ts'
import { startControlPlane } from '../test/controlplane/index.ts'
import { buildSandbox } from '../test/sandbox/index.ts'
import { procStat, startController } from './lib.ts'

/** Events per request: the Segment deliverer's default `flushAt`, which the Destination uses. */
const SEGMENT_BATCH = 100
const GROUP = 'switchboard.dev'
const VERSION = 'v1alpha1'

export interface CasinoBenchResult {
  records: number
  pageSize: number
  raw: { seconds: number; recordsPerSecond: number }
  deliverer: { seconds: number; recordsPerSecond: number; ratioToRaw: number }
  operator: { seconds: number; recordsPerSecond: number; ratioToRaw: number }
  controllerRssMiB: { before: number; after: number; peak: number }
}

export async function runCasinoBench(opts: {
  records: number
  pageSize: number
}): Promise<CasinoBenchResult> {
  const { records, pageSize } = opts
  const casinos = ['bench-raw', 'bench-deliverer', 'bench-operator']
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
  const mark = (name: string, started: number) => {
    const seconds = (performance.now() - started) / 1000
    process.stderr.write(`[casino bench] ${name}: ${records} records in ${seconds.toFixed(1)} s\n`)
    return { seconds: Number(seconds.toFixed(2)), recordsPerSecond: Math.round(records / seconds) }
  }

  try {
    // raw: pages POSTed with fetch
    let started = performance.now()
    const auth = `Basic ${Buffer.from('wk-raw:').toString('base64')}`
    for await (const page of client('bench-raw').read('transactions', { pageSize })) {
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
      await Promise.all(
        batches.map(async (batch) => {
          const res = await fetch(`${sandbox.url}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({ batch }),
          })
          if (!res.ok) throw new Error(`raw: batch refused with ${res.status}`)
          await res.arrayBuffer()
        }),
      )
    }
    const raw = mark('raw', started)

    // deliverer: the sync engine's loop without the operator
    started = performance.now()
    const deliverer = createSegmentDeliverer({ writeKey: 'wk-deliverer', host: sandbox.url, logger })
    for await (const page of client('bench-deliverer').read('transactions', { pageSize })) {
      await deliverer.deliver(page.records.map((r) => toDeliveryRecord('softswiss', 'bench-deliverer', r)))
    }
    await deliverer.close()
    const viaDeliverer = mark('deliverer', started)

    // operator
    const cp = await startControlPlane()
    try {
      const kc = cp.kubeConfig()
      await installCrds(kc)
      const core = kc.makeApiClient(CoreV1Api)
      const custom = kc.makeApiClient(CustomObjectsApi)
      const ns = 'bench-casino'
      await core.createNamespace({ body: { metadata: { name: ns } } })
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'cdp' }, stringData: { writeKey: 'wk-operator' } },
      })
      await core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: 'platform' },
          stringData: { apiKey: 'bench-operator-key', apiSecret: 'bench-operator-secret' },
        },
      })
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: 'destinations',
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Destination',
          metadata: { name: 'cdp' },
          spec: { credentialsSecretRef: { name: 'cdp' }, segment: { host: sandbox.url } },
        },
      })
      const child = await startController({ kubeconfig: cp.kubeconfigPath, metrics: false })
      try {
        await new Promise((r) => setTimeout(r, 3_000))
        const before = procStat(child.pid).rssMiB
        started = performance.now()
        await custom.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: 'casinointegrations',
          body: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'CasinoIntegration',
            metadata: { name: 'casino' },
            spec: {
              provider: 'softswiss',
              softswiss: { casinoId: 'bench-operator' },
              endpoint: sandbox.casinoEndpoint('softswiss'),
              credentialsSecretRef: { name: 'platform' },
              streams: [{ name: 'transactions', pageSize, interval: '24h' }],
              destinationRefs: [{ name: 'cdp' }],
            },
          },
        })
        let peak = before
        for (;;) {
          const o = (await custom.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: ns,
            plural: 'casinointegrations',
            name: 'casino',
          })) as {
            status?: { streams?: Array<{ name: string; totalRecordsSynced?: number }> }
          }
          peak = Math.max(peak, procStat(child.pid).rssMiB)
          if (o.status?.streams?.find((s) => s.name === 'transactions')?.totalRecordsSynced === records) break
          await new Promise((r) => setTimeout(r, 250))
        }
        const viaOperator = mark('operator', started)
        const after = procStat(child.pid)
        return {
          records,
          pageSize,
          raw,
          // records/s as a fraction of the raw floor's: 1 is as fast as the floor
          deliverer: { ...viaDeliverer, ratioToRaw: Number((raw.seconds / viaDeliverer.seconds).toFixed(2)) },
          operator: { ...viaOperator, ratioToRaw: Number((raw.seconds / viaOperator.seconds).toFixed(2)) },
          controllerRssMiB: {
            before: Math.round(before),
            after: Math.round(after.rssMiB),
            peak: Math.round(Math.max(peak, after.hwmMiB)),
          },
        }
      } finally {
        await child.stop()
      }
    } finally {
      await cp.stop()
    }
  } finally {
    await sandbox.close()
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { records: { type: 'string', default: '1000000' }, page: { type: 'string', default: '1000' } },
  })
  const result = await runCasinoBench({ records: Number(values.records), pageSize: Number(values.page) })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
