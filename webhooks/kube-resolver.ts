/**
 * The Kubernetes-backed {@link TargetResolver}: one informer per kind in the kind table (or one
 * per kind and namespace with `namespaces`; kinds whose CRD is not installed are skipped, and
 * looked for again later), an index of
 * `status.webhook.path`, and Secrets read on demand through a small cache. The webhook server
 * never watches Secrets cluster-wide: it reads the few it needs, by name, and keeps only the keys
 * the kind table names.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import {
  fieldAt,
  type ProviderSecretKeys,
  parseWebhookPath,
  readWebhookSecrets,
  secretNameOf,
  WEBHOOK_KINDS,
  WEBHOOK_READY,
  type WebhookChannel,
  type WebhookKind,
} from '../controller/api/index.ts'
import {
  apiStatus,
  type Cache,
  describeApiError,
  findCondition,
  Informer,
  isNotFound,
  NamespacedInformers,
} from '../controller/runtime/index.ts'
import type { TargetResolver, WebhookTarget } from './targets.ts'

export interface KubernetesTargetResolverOptions {
  kubeConfig: KubeConfig
  logger: Logger
  /** The kind table. Default {@link WEBHOOK_KINDS}. */
  kinds?: readonly WebhookKind[]
  /** More kinds on top of `kinds` (tests add a test-only kind this way). */
  extraKinds?: readonly WebhookKind[]
  /** A Secret read less than this long ago is used as is. Default 10 s. */
  secretCacheTtlMs?: number
  /** An older one is still used (and refreshed in the background) up to this age. Default 5 min. */
  secretMaxStaleMs?: number
  /** Secrets kept at most. Default 1000. */
  secretCacheSize?: number
  /** How often to look again for kinds whose CRD was not installed. Default 60 s; 0 never. */
  recheckIntervalMs?: number
  /**
   * Watch only these namespaces (with Roles there instead of ClusterRoles), like the
   * controller's `--namespaces`. Default: every namespace.
   */
  namespaces?: readonly string[]
}

type Obj = KubernetesObject & {
  metadata: { name: string; namespace: string; uid?: string }
  spec?: Record<string, unknown>
  status?: Record<string, unknown>
}

export class KubernetesTargetResolver implements TargetResolver {
  readonly #kc: KubeConfig
  readonly #log: Logger
  readonly #kinds: readonly WebhookKind[]
  readonly #custom: CustomObjectsApi
  readonly #secrets: SecretCache
  readonly #recheckMs: number
  readonly #namespaces: readonly string[] | undefined
  readonly #informers = new Map<string, Cache<Obj>>()
  readonly #skipped = new Map<string, WebhookKind>()
  /** path → (object key → target); more than one entry is a conflict and routes nowhere. */
  readonly #byPath = new Map<string, Map<string, WebhookTarget>>()
  /** object key → the path it is indexed under. */
  readonly #pathOf = new Map<string, string>()
  #recheckTimer: NodeJS.Timeout | undefined
  #started = false
  #stopped = false

  constructor(opts: KubernetesTargetResolverOptions) {
    this.#kc = opts.kubeConfig
    this.#log = opts.logger.child({ unit: 'target-resolver' })
    this.#kinds = [...(opts.kinds ?? WEBHOOK_KINDS), ...(opts.extraKinds ?? [])]
    this.#custom = opts.kubeConfig.makeApiClient(CustomObjectsApi)
    const wanted = new Set<string>()
    for (const k of this.#kinds)
      for (const keys of Object.values(k.providers))
        for (const list of Object.values(keys ?? {})) for (const key of list) wanted.add(key)
    this.#secrets = new SecretCache({
      core: opts.kubeConfig.makeApiClient(CoreV1Api),
      keys: wanted,
      ttlMs: opts.secretCacheTtlMs ?? 10_000,
      maxStaleMs: opts.secretMaxStaleMs ?? 5 * 60_000,
      maxEntries: opts.secretCacheSize ?? 1000,
      logger: this.#log,
    })
    this.#recheckMs = opts.recheckIntervalMs ?? 60_000
    this.#namespaces = opts.namespaces?.length ? [...opts.namespaces] : undefined
  }

  /** Kinds being watched (`Kind.group`). */
  get watching(): string[] {
    return [...this.#informers.keys()]
  }

  /** Kinds skipped because their CRD is not installed (`Kind.group`). */
  get skipped(): string[] {
    return [...this.#skipped.keys()]
  }

  /** Starts an informer per installed kind and resolves once each has listed. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    await Promise.all(this.#kinds.map((k) => this.#tryWatch(k)))
    if (this.#recheckMs > 0) {
      this.#recheckTimer = setInterval(() => {
        for (const k of this.#skipped.values()) void this.#tryWatch(k)
      }, this.#recheckMs)
      this.#recheckTimer.unref()
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#recheckTimer) clearInterval(this.#recheckTimer)
    await Promise.all([...this.#informers.values()].map((i) => i.stop()))
  }

  ready(): boolean {
    return this.#started && [...this.#informers.values()].every((i) => i.synced)
  }

  /** The cached object of a watched kind (by kind name, e.g. `CalendarSync`), if any. */
  object(kind: string, namespace: string, name: string): unknown {
    for (const [id, informer] of this.#informers) {
      if (id.startsWith(`${kind}.`)) return informer.get(name, namespace)
    }
    return undefined
  }

  resolve(path: string): WebhookTarget | undefined {
    const entries = this.#byPath.get(path)
    if (entries?.size !== 1) return undefined
    return entries.values().next().value
  }

  async #tryWatch(kind: WebhookKind): Promise<void> {
    const id = `${kind.kind}.${kind.group}`
    if (this.#informers.has(id) || this.#stopped) return
    const { group, version, plural } = kind
    const list = (namespace?: string, limit?: number) =>
      (namespace
        ? this.#custom.listNamespacedCustomObject({ group, version, namespace, plural, limit })
        : this.#custom.listCustomObjectForAllNamespaces({
            group,
            version,
            resourcePlural: plural,
            limit,
          })) as Promise<{
        items: Obj[]
        metadata?: { resourceVersion?: string }
      }>
    try {
      await list(this.#namespaces?.[0], 1)
    } catch (err) {
      const first = !this.#skipped.has(id)
      this.#skipped.set(id, kind)
      if (isNotFound(err)) {
        if (first) this.#log.info({ kind: id }, 'kind not installed; not watching it (will look again)')
      } else if (first) {
        this.#log.warn(
          { kind: id, err: describeApiError(err) },
          'cannot list kind; not watching it (will look again)',
        )
      }
      return
    }
    if (this.#stopped || this.#informers.has(id)) return
    this.#skipped.delete(id)
    const make = (namespace?: string) =>
      new Informer<Obj>({
        kubeConfig: this.#kc,
        path: namespace
          ? `/apis/${group}/${version}/namespaces/${namespace}/${plural}`
          : `/apis/${group}/${version}/${plural}`,
        list: () => list(namespace),
        logger: this.#log,
      })
    const informer: Cache<Obj> = this.#namespaces
      ? new NamespacedInformers<Obj>(this.#namespaces, make)
      : make()
    informer.on({
      add: (o) => this.#index(kind, o),
      update: (o) => this.#index(kind, o),
      delete: (o) => this.#unindex(`${id}/${o.metadata.namespace}/${o.metadata.name}`),
    })
    this.#informers.set(id, informer)
    this.#log.info({ kind: id }, 'watching kind for webhook paths')
    await informer.start()
  }

  #index(kind: WebhookKind, obj: Obj): void {
    const { namespace, name } = obj.metadata
    const key = `${kind.kind}.${kind.group}/${namespace}/${name}`
    const secrets = this.#secrets
    const target = webhookTargetOf(kind, obj, async (secretName, secretKeys) => {
      const data = await secrets.get(namespace, secretName)
      return data ? mapSecretKeys(data, secretKeys) : {}
    })
    if (!target) {
      this.#unindex(key)
      return
    }
    const path = target.path
    const prev = this.#pathOf.get(key)
    if (prev !== undefined && prev !== path) this.#unindex(key)
    let entries = this.#byPath.get(path)
    if (!entries) {
      entries = new Map()
      this.#byPath.set(path, entries)
    }
    entries.set(key, target)
    this.#pathOf.set(key, path)
    if (entries.size > 1) {
      this.#log.warn(
        { objects: [...entries.keys()] },
        'several objects claim the same webhook path; deliveries to it are refused until one changes',
      )
    }
  }

  #unindex(key: string): void {
    const path = this.#pathOf.get(key)
    if (path === undefined) return
    this.#pathOf.delete(key)
    const entries = this.#byPath.get(path)
    entries?.delete(key)
    if (entries?.size === 0) this.#byPath.delete(path)
  }
}

/**
 * The routing entry of one object of a webhook kind, or undefined when it has no (valid) webhook
 * path for a provider of its kind. `read` fetches the webhook secrets from the Secret the object
 * names (only the keys of its provider); it is called per request, so it should cache.
 */
export function webhookTargetOf(
  kind: WebhookKind,
  obj: unknown,
  read: (secretName: string, keys: ProviderSecretKeys) => Promise<Record<string, string>>,
  /** The Secret is found by whoever `read` asks (the webhook bridge), not from the object's spec. */
  secretByObject = false,
): WebhookTarget | undefined {
  const meta = fieldAt(obj, 'metadata') as { name?: unknown; namespace?: unknown; uid?: unknown } | undefined
  const namespace = meta?.namespace
  const name = meta?.name
  if (typeof namespace !== 'string' || typeof name !== 'string') return undefined
  const path = fieldAt(obj, 'status.webhook.path')
  const parsed = typeof path === 'string' ? parseWebhookPath(path) : undefined
  const secretKeys = parsed ? kind.providers[parsed.provider] : undefined
  const providerMatches =
    !kind.providerField || !parsed || fieldAt(obj, kind.providerField) === parsed.provider
  if (!parsed || !secretKeys || !providerMatches || typeof path !== 'string') return undefined
  const secretName = secretNameOf(kind, obj)
  const conditions = fieldAt(obj, 'status.conditions')
  const url = fieldAt(obj, 'status.webhook.url')
  const channels = fieldAt(obj, 'status.webhook.channels')
  const channelList: WebhookChannel[] = (Array.isArray(channels) ? channels : []).flatMap((c) => {
    const id = fieldAt(c, 'id')
    const resourceId = fieldAt(c, 'resourceId')
    const expiration = fieldAt(c, 'expiration')
    return typeof id === 'string'
      ? [
          {
            id,
            ...(typeof resourceId === 'string' ? { resourceId } : {}),
            ...(typeof expiration === 'string' ? { expiration } : {}),
          },
        ]
      : []
  })
  return {
    apiVersion: `${kind.group}/${kind.version}`,
    kind: kind.kind,
    plural: kind.plural,
    namespace,
    name,
    uid: typeof meta?.uid === 'string' ? meta.uid : undefined,
    provider: parsed.provider,
    path,
    url: typeof url === 'string' ? url : undefined,
    suspended: fieldAt(obj, 'spec.suspend') === true,
    ready: findCondition(Array.isArray(conditions) ? conditions : [], WEBHOOK_READY)?.status === 'True',
    channelIds: channelList.map((c) => c.id),
    channels: channelList,
    async secrets() {
      if (secretByObject) return read('', secretKeys)
      if (typeof secretName !== 'string' || !secretName) return {}
      return read(secretName, secretKeys)
    },
  }
}

/** Logical name → value: the controller's reader, so both sides trim and skip empty keys alike. */
export function mapSecretKeys(
  data: Readonly<Record<string, string>>,
  keys: Readonly<Record<string, readonly string[]>>,
): Record<string, string> {
  return readWebhookSecrets(data, keys)
}

interface CacheEntry {
  /** Decoded values of the wanted keys; undefined when the Secret does not exist or could not be read. */
  value: Readonly<Record<string, string>> | undefined
  fetchedAt: number
  /** A read has completed (the value is meaningful). */
  loaded: boolean
  inFlight: Promise<void> | undefined
}

export interface SecretCacheOptions {
  core: Pick<CoreV1Api, 'readNamespacedSecret'>
  /** Only these keys are kept in memory. */
  keys: ReadonlySet<string>
  ttlMs: number
  maxStaleMs: number
  maxEntries: number
  logger: Logger
  now?: () => number
}

/**
 * Secrets by namespace/name, read on demand. Fresh for `ttlMs`; after that, still served for up
 * to `maxStaleMs` while one background read refreshes it (so a request waits for the API server
 * only the first time). Concurrent misses share one read; a missing Secret is remembered too, so
 * a flood for a resource whose Secret is gone does not become a flood of reads.
 */
export class SecretCache {
  readonly #opts: SecretCacheOptions
  readonly #now: () => number
  readonly #entries = new Map<string, CacheEntry>()
  /** API reads made (tests check the caching). */
  reads = 0

  constructor(opts: SecretCacheOptions) {
    this.#opts = opts
    this.#now = opts.now ?? Date.now
  }

  async get(namespace: string, name: string): Promise<Readonly<Record<string, string>> | undefined> {
    const key = `${namespace}/${name}`
    const now = this.#now()
    let entry = this.#entries.get(key)
    if (entry) {
      const age = now - entry.fetchedAt
      if (age < this.#opts.ttlMs && entry.loaded) return entry.value
      if (age < this.#opts.maxStaleMs && entry.loaded) {
        if (!entry.inFlight) entry.inFlight = this.#read(key, namespace, name, entry)
        return entry.value
      }
      if (!entry.inFlight) entry.inFlight = this.#read(key, namespace, name, entry)
      await entry.inFlight
      return entry.value
    }
    entry = { value: undefined, fetchedAt: 0, loaded: false, inFlight: undefined }
    this.#entries.set(key, entry)
    while (this.#entries.size > this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
    entry.inFlight = this.#read(key, namespace, name, entry)
    await entry.inFlight
    return entry.value
  }

  async #read(key: string, namespace: string, name: string, entry: CacheEntry): Promise<void> {
    this.reads++
    try {
      const secret = await this.#opts.core.readNamespacedSecret({ name, namespace })
      const value: Record<string, string> = {}
      for (const [k, v] of Object.entries(secret.data ?? {})) {
        if (this.#opts.keys.has(k)) value[k] = Buffer.from(v, 'base64').toString('utf8')
      }
      entry.value = value
    } catch (err) {
      if (isNotFound(err)) {
        entry.value = undefined
      } else {
        // keep what we had (if anything); try again after a ttl
        this.#opts.logger.warn(
          { secret: key, status: apiStatus(err), err: describeApiError(err) },
          'could not read Secret',
        )
      }
    } finally {
      entry.fetchedAt = this.#now()
      entry.loaded = true
      entry.inFlight = undefined
      // refresh recency
      if (this.#entries.get(key) === entry) {
        this.#entries.delete(key)
        this.#entries.set(key, entry)
      }
    }
  }
}

export { secretNameOf }
