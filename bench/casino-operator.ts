/**
 * The operator side of the casino benches (platform to Segment, platform to PostgreSQL): a fresh
 * local control plane, a Destination and its Secret, `switchboard controller` as its own process
 * (the build asked for, with the image's environment), then one CasinoIntegration whose
 * `transactions` stream the clock follows until its status counts every record.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node'
import { installCrds } from '../crds/index.ts'
import { startControlPlane } from '../test/controlplane/index.ts'
import { type ControllerBuild, procStat, startController } from './lib.ts'

const GROUP = 'switchboard.dev'
const VERSION = 'v1alpha1'

export interface OperatorSyncOptions {
  namespace: string
  /** The platform account the sandbox knows, as in the CasinoIntegration's Secret. */
  casinoId: string
  platformCredentials: { apiKey: string; apiSecret: string }
  /** The sandbox's SOFTSWISS endpoint. */
  endpoint: string
  /** The Destination's spec (its `credentialsSecretRef` names `destinationSecret`'s Secret). */
  destination: { name: string; spec: Record<string, unknown>; secret: Record<string, string> }
  records: number
  pageSize: number
  build: ControllerBuild
  /** The controller's NODE_OPTIONS instead of the image's (e.g. to add `--cpu-prof`). */
  nodeOptions?: string
  /** More arguments of `switchboard controller`. */
  controllerArgs?: string[]
}

export interface OperatorSyncResult {
  /** From the CasinoIntegration's create to the status counting every record. */
  seconds: number
  controllerRssMiB: { before: number; after: number; peak: number }
  /** CPU (user + system) the controller used from the create to the last record counted. */
  controllerCpuSeconds: number
}

/**
 * Runs the sync; `check` runs once every record is counted, before the controller and the control
 * plane stop (the PostgreSQL bench counts the rows there).
 */
export async function runOperatorSync(
  opts: OperatorSyncOptions,
  check?: () => Promise<void>,
): Promise<OperatorSyncResult> {
  const cp = await startControlPlane()
  try {
    const kc = cp.kubeConfig()
    await installCrds(kc)
    const core = kc.makeApiClient(CoreV1Api)
    const custom = kc.makeApiClient(CustomObjectsApi)
    const namespace = opts.namespace
    const create = (plural: string, kind: string, name: string, spec: Record<string, unknown>) =>
      custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name }, spec },
      })
    await core.createNamespace({ body: { metadata: { name: namespace } } })
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: opts.destination.name }, stringData: opts.destination.secret },
    })
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'platform' }, stringData: opts.platformCredentials },
    })
    await create('destinations', 'Destination', opts.destination.name, {
      credentialsSecretRef: { name: opts.destination.name },
      ...opts.destination.spec,
    })
    const child = await startController({
      kubeconfig: cp.kubeconfigPath,
      metrics: false,
      build: opts.build,
      ...(opts.nodeOptions ? { nodeOptions: opts.nodeOptions } : {}),
      ...(opts.controllerArgs ? { args: opts.controllerArgs } : {}),
    })
    try {
      // the Destination is Ready and the process has settled before the clock starts
      await new Promise((r) => setTimeout(r, 3_000))
      const beforeStat = procStat(child.pid)
      const before = beforeStat.rssMiB
      const started = performance.now()
      await create('casinointegrations', 'CasinoIntegration', 'casino', {
        provider: 'softswiss',
        softswiss: { casinoId: opts.casinoId },
        endpoint: opts.endpoint,
        credentialsSecretRef: { name: 'platform' },
        streams: [{ name: 'transactions', pageSize: opts.pageSize, interval: '24h' }],
        destinationRefs: [{ name: opts.destination.name }],
      })
      let peak = before
      for (;;) {
        const o = (await custom.getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace,
          plural: 'casinointegrations',
          name: 'casino',
        })) as { status?: { streams?: Array<{ name: string; totalRecordsSynced?: number }> } }
        peak = Math.max(peak, procStat(child.pid).rssMiB)
        const synced = o.status?.streams?.find((s) => s.name === 'transactions')?.totalRecordsSynced
        if (synced === opts.records) break
        await new Promise((r) => setTimeout(r, 250))
      }
      const seconds = (performance.now() - started) / 1000
      const after = procStat(child.pid)
      await check?.()
      return {
        seconds,
        controllerCpuSeconds: Number(((after.cpuMs - beforeStat.cpuMs) / 1000).toFixed(2)),
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
}
