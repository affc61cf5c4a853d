import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { type SharedConnectionsKubeConfig, withSharedConnections } from './connections.ts'
import { Controller } from './controller.ts'
import type { CommonStatus, ReconcilerDefinition, SwitchboardObject } from './definition.ts'
import { EventRecorder } from './events.ts'
import { HeapSettler } from './heap.ts'
import { type Cache, Informer, NamespacedInformers } from './informer.ts'
import { type KubeClients, makeClients } from './kube.ts'
import { LeaderElector } from './leader.ts'
import { OperatorMetrics } from './metrics.ts'
import { SecretReader } from './secrets.ts'

export interface ManagerOptions {
  kubeConfig: KubeConfig
  logger: Logger
  /** Leader election on a Lease; off runs the controllers at once (single replica, tests). */
  leaderElection?: {
    enabled: boolean
    namespace: string
    name?: string
    leaseDurationMs?: number
    renewDeadlineMs?: number
    retryPeriodMs?: number
  }
  /** Watch only these namespaces (Roles instead of ClusterRoles); default: every namespace. */
  namespaces?: readonly string[]
  /**
   * Reconcile only the Switchboard objects matching this label selector (a shard: see shard.ts).
   * Secrets are not filtered: an object's Secret needs no label.
   */
  labelSelector?: string
  /** Identity in the Lease and in events (default: hostname + random suffix). */
  identity?: string
  /** Address of the metrics and health server, e.g. `127.0.0.1:8080`; omit to not serve. */
  metricsAddress?: { host: string; port: number }
  metrics?: OperatorMetrics
  /** Jitter fraction added to resync intervals (default 0.1). */
  jitter?: number
  /** Called when leadership is lost; the CLI exits, as Go operators do. */
  onLostLeadership?(): void
  /** A long sync compacts the heap once it grew this much (see `HeapSettler.during`); 0: never. */
  heapGrowthBytes?: number
}

/**
 * Owns what the controllers share: API clients, one informer per watched kind plus the Secrets
 * informer, the event recorder, metrics, leader election and the metrics/health server.
 * Informers run on every replica (warm caches, fast failover); only the leader runs workers.
 */
export class Manager {
  readonly clients: KubeClients
  readonly metrics: OperatorMetrics
  readonly events: EventRecorder
  readonly logger: Logger
  readonly identity: string
  /** Secrets by metadata, read on demand (no cache of every Secret's data). */
  readonly secrets: SecretReader
  /** The configuration with one connection pool for every call and watch of the process. */
  readonly kubeConfig: SharedConnectionsKubeConfig
  readonly #opts: ManagerOptions
  readonly #controllers: Controller<never, CommonStatus, unknown>[] = []
  readonly #informers = new Map<string, Cache<SwitchboardObject>>()
  /**
   * One collection of the heap after each burst of reconciles, and during long syncs once the
   * heap grew by `heapGrowthBytes` (where `gc` is exposed).
   */
  readonly settler: HeapSettler
  #elector: LeaderElector | undefined
  #server: FastifyInstance | undefined
  #started = false
  #leading = false
  #stopping = false

  constructor(opts: ManagerOptions) {
    this.#opts = opts
    this.logger = opts.logger
    this.settler = new HeapSettler({ growthBytes: opts.heapGrowthBytes ?? 0 })
    this.identity = opts.identity ?? `${process.env.POD_NAME || hostname()}_${randomBytes(4).toString('hex')}`
    this.kubeConfig = withSharedConnections(opts.kubeConfig)
    this.clients = makeClients(this.kubeConfig)
    this.metrics = opts.metrics ?? new OperatorMetrics()
    this.events = new EventRecorder({
      core: this.clients.core,
      component: 'switchboard-controller',
      instance: this.identity,
      logger: opts.logger,
    })
    const namespaces = opts.namespaces?.length ? opts.namespaces : undefined
    this.secrets = new SecretReader({
      kubeConfig: this.kubeConfig,
      core: this.clients.core,
      logger: opts.logger,
      ...(namespaces ? { namespaces } : {}),
    })
    this.secrets.onChange((namespace, name) => {
      for (const c of this.#controllers) c.onSecret(namespace, name)
    })
  }

  /** Registers a reconciler; its kind gets an informer. Call before `start`. */
  add<Spec, Status extends CommonStatus, State = undefined>(
    def: ReconcilerDefinition<Spec, Status, State>,
  ): Controller<Spec, Status, State> {
    const { group, version, plural } = def.kind
    type List = { items: SwitchboardObject[]; metadata?: { resourceVersion?: string } }
    const namespaces = this.#opts.namespaces?.length ? this.#opts.namespaces : undefined
    const labelSelector = this.#opts.labelSelector
    const informer = this.#cache<SwitchboardObject>(
      namespaces,
      (ns) =>
        ns ? `/apis/${group}/${version}/namespaces/${ns}/${plural}` : `/apis/${group}/${version}/${plural}`,
      (ns) =>
        (ns
          ? this.clients.custom.listNamespacedCustomObject({
              group,
              version,
              namespace: ns,
              plural,
              labelSelector,
            })
          : this.clients.custom.listCustomObjectForAllNamespaces({
              group,
              version,
              resourcePlural: plural,
              labelSelector,
            })) as Promise<List>,
      labelSelector,
    )
    const controller = new Controller<Spec, Status, State>(def, {
      clients: this.clients,
      informer,
      secrets: this.secrets,
      events: this.events,
      metrics: this.metrics,
      logger: this.logger,
      jitter: this.#opts.jitter,
      settler: this.settler,
    })
    informer.on(controller.onObject)
    informer.on({
      add: (obj) => this.#onReferenced(def.kind.kind, obj, false),
      update: (obj) => this.#onReferenced(def.kind.kind, obj, false),
      delete: (obj) => this.#onReferenced(def.kind.kind, obj, true),
    })
    this.#informers.set(def.name, informer)
    this.#controllers.push(controller as unknown as Controller<never, CommonStatus, unknown>)
    return controller
  }

  get controllers(): readonly Controller<never, CommonStatus, unknown>[] {
    return this.#controllers
  }

  get isLeader(): boolean {
    return this.#leading
  }

  /** True once every cache has listed its objects. */
  get synced(): boolean {
    return this.secrets.synced && [...this.#informers.values()].every((i) => i.synced)
  }

  /** A cluster-wide informer, or one per namespace behind one cache when namespaces are listed. */
  #cache<T extends KubernetesObject>(
    namespaces: readonly string[] | undefined,
    path: (namespace?: string) => string,
    list: (namespace?: string) => Promise<KubernetesListObject<T>>,
    labelSelector?: string,
  ): Cache<T> {
    const make = (ns?: string) =>
      new Informer<T>({
        kubeConfig: this.kubeConfig,
        path: path(ns),
        list: () => list(ns),
        logger: this.logger,
        ...(labelSelector ? { labelSelector } : {}),
      })
    return namespaces ? new NamespacedInformers<T>(namespaces, make) : make()
  }

  informer(controllerName: string): Cache<SwitchboardObject> | undefined {
    return this.#informers.get(controllerName)
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    const le = this.#opts.leaderElection
    const leaseName = le?.name ?? 'switchboard-controller'
    if (le?.enabled) this.metrics.leaderStatus.set({ name: leaseName }, 0)
    if (this.#opts.metricsAddress) await this.#serve(this.#opts.metricsAddress)
    await Promise.all([this.secrets.start(), ...[...this.#informers.values()].map((i) => i.start())])
    this.logger.info({ controllers: this.#controllers.map((c) => c.name) }, 'caches synced')
    if (!le?.enabled) {
      this.#startLeading()
      return
    }
    this.#elector = new LeaderElector({
      coordination: this.clients.coordination,
      namespace: le.namespace,
      name: leaseName,
      identity: this.identity,
      logger: this.logger,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      onStartedLeading: () => this.#startLeading(),
      onStoppedLeading: () => {
        this.#leading = false
        void Promise.all(this.#controllers.map((c) => c.stop(5_000))).then(() =>
          this.#opts.onLostLeadership?.(),
        )
      },
      onChange: (leader) => this.metrics.leaderStatus.set({ name: leaseName }, leader ? 1 : 0),
    })
    this.#elector.start()
  }

  #startLeading(): void {
    if (this.#stopping) return
    this.#leading = true
    for (const c of this.#controllers) c.start()
  }

  /** Graceful stop: no new work, running reconciles finish (bounded), the lease is released. */
  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#stopping) return
    this.#stopping = true
    const timeoutMs = opts.timeoutMs ?? 30_000
    await Promise.all(this.#controllers.map((c) => c.stop(timeoutMs)))
    this.settler.stop()
    await this.#elector?.stop({ release: true })
    this.#leading = false
    await Promise.all([this.secrets.stop(), ...[...this.#informers.values()].map((i) => i.stop())])
    await this.#server?.close()
    this.logger.info('manager stopped')
  }

  async #serve(addr: { host: string; port: number }): Promise<void> {
    const app = Fastify({ logger: false })
    app.get('/metrics', async (_req, reply) => {
      reply.header('Content-Type', this.metrics.registry.contentType)
      return this.metrics.registry.metrics()
    })
    app.get('/healthz', async () => ({ status: 'ok' }))
    app.get('/readyz', async (_req, reply) => {
      // Ready when the caches have synced; a standby replica is ready too (it is seeking the lease).
      const seeking = !this.#opts.leaderElection?.enabled || this.#elector !== undefined
      if (this.synced && seeking && !this.#stopping) return { status: 'ok', leader: this.#leading }
      reply.code(503)
      return { status: 'not ready', synced: this.synced, stopping: this.#stopping }
    })
    await app.listen({ host: addr.host, port: addr.port })
    this.#server = app
    const address = app.server.address()
    if (address && typeof address === 'object') this.metricsPort = address.port
    this.logger.info({ address: `${addr.host}:${this.metricsPort}` }, 'serving metrics and health')
  }

  /** The port the metrics server listens on (useful when asked for port 0). */
  metricsPort = 0

  #onReferenced(kind: string, obj: SwitchboardObject, deleted: boolean): void {
    for (const c of this.#controllers) c.onReferenced(kind, obj, deleted)
  }
}
