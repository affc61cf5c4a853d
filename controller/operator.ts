import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { EndpointPolicy, RetryPolicy } from '../connectors/index.ts'
import { calendarReconciler } from './calendar/index.ts'
import { campaignReconciler } from './campaign/index.ts'
import { casinoReconciler } from './casino/index.ts'
import { DeliveryRegistry, destinationReconciler } from './destination/index.ts'
import { patreonReconciler } from './patreon/index.ts'
import {
  type CheckpointPolicy,
  ConnectLinks,
  Manager,
  type ManagerOptions,
  OAuthTokens,
  SyncMetrics,
  shardSelector,
} from './runtime/index.ts'
import { twitchReconciler } from './twitch/index.ts'

export interface OperatorOptions {
  kubeConfig: KubeConfig
  logger: Logger
  /** Workers per controller (default 4). */
  concurrency?: number
  leaderElection?: ManagerOptions['leaderElection']
  metricsAddress?: ManagerOptions['metricsAddress']
  identity?: string
  /** Watch only these namespaces; default every namespace. */
  namespaces?: readonly string[]
  /** Reconcile only the objects of this shard (see controller/runtime/shard.ts); default all. */
  shard?: { name: string } | 'default'
  jitter?: number
  /**
   * Public base URL of the webhook server (what providers call through the Ingress); resources
   * publish `status.webhook.url` under it. Default `$SWITCHBOARD_PUBLIC_URL`.
   */
  publicUrl?: string
  /** HTTP tuning for provider connectors (tests shorten timeouts). */
  providerHttp?: { timeoutMs?: number; retry?: RetryPolicy }
  /**
   * Where credentials may be sent: more hosts per provider, and loopback (tests, the demo, the
   * sandbox). Default: the providers' own hosts, https only (connectors/endpoints.ts).
   */
  endpoints?: EndpointPolicy
  /** MessageCampaign tuning (tests shorten the settle time and fix the clock). */
  campaign?: { settleMs?: number; sliceMs?: number; recheckAfterMs?: number; now?: () => Date }
  /** TwitchIntegration tuning (tests shorten how long a notification outranks a Helix read). */
  twitch?: { helixLagMs?: number }
  /** Delay before delivery counters are written to a Destination's status (default 2 s). */
  statusFlushDelayMs?: number
  /** How often a long integration sync writes its cursor (default every 10 pages or 2 s). */
  checkpoints?: Partial<CheckpointPolicy>
  /** A long sync compacts the heap once it grew this much since the last time (0: never). */
  heapGrowthBytes?: number
  /** Connect links (docs/connect.md): how long one works (default 15 minutes); the clock (tests). */
  connect?: { ttlMs?: number; now?: () => number }
  onLostLeadership?(): void
}

export interface Operator {
  readonly manager: Manager
  /** Ready Destinations by namespace/name; integrations hand their batches to these. */
  readonly destinations: DeliveryRegistry
  /** The connect links' opening and callback, answered over the webhook bridge. */
  readonly connect: ConnectLinks
  start(): Promise<void>
  stop(opts?: { timeoutMs?: number }): Promise<void>
}

/** Wires every Switchboard reconciler into one manager. */
export function createOperator(opts: OperatorOptions): Operator {
  const manager = new Manager({
    kubeConfig: opts.kubeConfig,
    logger: opts.logger,
    leaderElection: opts.leaderElection,
    metricsAddress: opts.metricsAddress,
    identity: opts.identity,
    namespaces: opts.namespaces,
    labelSelector: shardSelector(opts.shard),
    jitter: opts.jitter,
    onLostLeadership: opts.onLostLeadership,
    ...(opts.heapGrowthBytes !== undefined ? { heapGrowthBytes: opts.heapGrowthBytes } : {}),
  })
  const flushDelay = opts.statusFlushDelayMs ?? 2_000
  const destinations = new DeliveryRegistry({
    onActivity: (namespace, name) => destinationController.enqueue(namespace, name, flushDelay),
    // an integration waiting for a Destination: whichever kind it is, enqueue it (unknown keys are no-ops)
    onInstalled: (namespace, name) => {
      casinoController.enqueue(namespace, name)
      campaignController.enqueue(namespace, name)
      twitchController.enqueue(namespace, name)
      patreonController.enqueue(namespace, name)
    },
  })
  const destinationController = manager.add({
    ...destinationReconciler({ registry: destinations, logger: opts.logger, endpoints: opts.endpoints }),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  })
  const syncMetrics = new SyncMetrics(manager.metrics.registry)
  const casinoController = manager.add({
    ...casinoReconciler({
      destinations,
      metrics: syncMetrics,
      registry: manager.metrics.registry,
      logger: opts.logger,
      jitter: opts.jitter,
      http: opts.providerHttp,
      publicUrl: opts.publicUrl ?? process.env.SWITCHBOARD_PUBLIC_URL,
      endpoints: opts.endpoints,
      ...(opts.checkpoints ? { checkpoints: opts.checkpoints } : {}),
      settleHeap: () => manager.settler.during(),
    }),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  })
  // one token lifecycle per process: every kind with OAuth user tokens shares it
  const tokens = new OAuthTokens({ core: manager.clients.core, logger: opts.logger })
  const connect = new ConnectLinks({
    core: manager.clients.core,
    custom: manager.clients.custom,
    logger: opts.logger,
    publicUrl: opts.publicUrl ?? process.env.SWITCHBOARD_PUBLIC_URL,
    ttlMs: opts.connect?.ttlMs,
    ...(opts.connect?.now ? { now: opts.connect.now } : {}),
    registry: manager.metrics.registry,
    timeoutMs: opts.providerHttp?.timeoutMs,
    // A spent link: the resource publishes a new link. Connected, it goes on with its new grant
    // when the Secret's watch reports the tokens written (a reconcile asked for here could still
    // read the Secret as it was, find no grant, and publish a link nobody needs).
    onSpent: (kind, namespace, name, connected) => {
      if (connected) {
        tokens.forget(namespace, connected.secretName)
        return
      }
      const controllers: Record<string, { enqueue(namespace: string, name: string): void }> = {
        PatreonIntegration: patreonController,
        TwitchIntegration: twitchController,
        CalendarSync: calendarController,
      }
      controllers[kind]?.enqueue(namespace, name)
    },
  })
  const calendarController = manager.add({
    ...calendarReconciler({
      core: manager.clients.core,
      tokens,
      connect,
      endpoints: opts.endpoints,
      metrics: syncMetrics,
      registry: manager.metrics.registry,
      logger: opts.logger,
      http: opts.providerHttp,
      publicUrl: opts.publicUrl ?? process.env.SWITCHBOARD_PUBLIC_URL,
    }),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  })
  const campaignController = manager.add({
    ...campaignReconciler({
      core: manager.clients.core,
      destinations,
      logger: opts.logger,
      publicUrl: opts.publicUrl ?? process.env.SWITCHBOARD_PUBLIC_URL,
      timeoutMs: opts.providerHttp?.timeoutMs,
      ...opts.campaign,
    }),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  })
  const twitchController = manager.add({
    ...twitchReconciler({
      core: manager.clients.core,
      tokens,
      connect,
      destinations,
      logger: opts.logger,
      registry: manager.metrics.registry,
      publicUrl: opts.publicUrl ?? process.env.SWITCHBOARD_PUBLIC_URL,
      endpoints: opts.endpoints,
      http: opts.providerHttp,
      ...(opts.twitch ?? {}),
    }),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  })
  const patreonController = manager.add({
    ...patreonReconciler({
      core: manager.clients.core,
      destinations,
      metrics: syncMetrics,
      registry: manager.metrics.registry,
      logger: opts.logger,
      tokens,
      connect,
      jitter: opts.jitter,
      http: opts.providerHttp,
      publicUrl: opts.publicUrl ?? process.env.SWITCHBOARD_PUBLIC_URL,
      endpoints: opts.endpoints,
    }),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  })
  return {
    manager,
    destinations,
    connect,
    start: () => manager.start(),
    stop: async (stopOpts) => {
      await manager.stop(stopOpts)
      await destinations.closeAll()
    },
  }
}
