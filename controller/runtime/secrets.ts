import { type CoreV1Api, HttpMethod, RequestContext, type V1Secret } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { fetch } from 'undici'
import { SharedConnectionsKubeConfig } from './connections.ts'
import { BookmarkedWatch } from './informer.ts'
import { apiStatus, describeApiError, isNotFound } from './kube.ts'

/**
 * Secrets without holding them.
 *
 * The controller needs to know when a Secret it uses changes, and to read the few it uses; it has
 * no business keeping every Secret of the cluster in memory (most belong to other workloads, and a
 * cache of them is both memory and exposure). So, as Flux's controllers do:
 *
 * - a **metadata-only** list and watch of Secrets (`PartialObjectMetadata`): of each Secret the
 *   reader keeps its namespace, name and resourceVersion, nothing else (no data, no annotations,
 *   which may carry a copy of the data in `kubectl.kubernetes.io/last-applied-configuration`);
 * - the Secrets a reconcile asks for are **read on demand** (`GET`) and kept in a small cache
 *   bounded by count and bytes, valid while the watch reports the same resourceVersion.
 */
export interface SecretSource {
  readonly synced: boolean
  /** Called with `namespace/name` when a Secret is created, changed or deleted. */
  onChange(handler: (namespace: string, name: string) => void): void
  start(): Promise<void>
  stop(): Promise<void>
  /** The Secret, from the cache when it is current, else from the API server; undefined if absent. */
  read(namespace: string, name: string): Promise<V1Secret | undefined>
}

export interface SecretReaderOptions {
  kubeConfig: SharedConnectionsKubeConfig
  core: CoreV1Api
  logger: Logger
  /** Watch only these namespaces; default: every namespace. */
  namespaces?: readonly string[]
  /** Most Secrets kept (default 256). */
  maxEntries?: number
  /** Most bytes of Secret data kept (default 8 MiB); a larger Secret is read but not kept. */
  maxBytes?: number
  /** Delay before restarting a failed list or watch (doubles up to 30 s). */
  restartDelayMs?: number
}

const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1'
const PARTIAL_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1'
const PAGE = 500

interface Cached {
  secret: V1Secret
  bytes: number
}

export class SecretReader implements SecretSource {
  readonly #opts: SecretReaderOptions
  readonly #log: Logger
  readonly #maxEntries: number
  readonly #maxBytes: number
  /** `namespace/name` → resourceVersion, as the watch last reported it. */
  readonly #versions = new Map<string, string>()
  /** Most recently used last. */
  readonly #cache = new Map<string, Cached>()
  #cachedBytes = 0
  readonly #handlers: Array<(namespace: string, name: string) => void> = []
  readonly #watchers: MetadataWatcher[]
  /** Reads in flight, so concurrent reconciles of objects sharing a Secret make one GET. */
  readonly #inflight = new Map<string, Promise<V1Secret | undefined>>()
  /** Counters for tests and metrics: GETs made and answers served from the cache. */
  readonly stats = { gets: 0, hits: 0 }

  constructor(opts: SecretReaderOptions) {
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'secrets' })
    this.#maxEntries = opts.maxEntries ?? 256
    this.#maxBytes = opts.maxBytes ?? 8 * 1024 * 1024
    const namespaces = opts.namespaces?.length ? opts.namespaces : [undefined]
    const kc = metadataOnly(opts.kubeConfig)
    this.#watchers = namespaces.map(
      (ns) =>
        new MetadataWatcher({
          kubeConfig: kc,
          path: ns ? `/api/v1/namespaces/${ns}/secrets` : '/api/v1/secrets',
          logger: this.#log,
          restartDelayMs: opts.restartDelayMs ?? 1000,
          onEvent: (type, key, rv) => this.#onEvent(type, key, rv),
          onRelisted: (keys, ns) => this.#onRelisted(keys, ns),
          namespace: ns,
        }),
    )
  }

  get synced(): boolean {
    return this.#watchers.every((w) => w.synced)
  }

  /** Secrets known by metadata, and Secrets held with their data (tests and the bench read it). */
  get size(): { known: number; held: number; heldBytes: number } {
    return { known: this.#versions.size, held: this.#cache.size, heldBytes: this.#cachedBytes }
  }

  onChange(handler: (namespace: string, name: string) => void): void {
    this.#handlers.push(handler)
  }

  async start(): Promise<void> {
    await Promise.all(this.#watchers.map((w) => w.start()))
  }

  async stop(): Promise<void> {
    await Promise.all(this.#watchers.map((w) => w.stop()))
    this.#cache.clear()
    this.#cachedBytes = 0
  }

  async read(namespace: string, name: string): Promise<V1Secret | undefined> {
    const key = `${namespace}/${name}`
    const cached = this.#cache.get(key)
    if (cached && cached.secret.metadata?.resourceVersion === this.#versions.get(key)) {
      this.#cache.delete(key)
      this.#cache.set(key, cached)
      this.stats.hits++
      return cached.secret
    }
    let pending = this.#inflight.get(key)
    if (!pending) {
      pending = this.#get(key, namespace, name).finally(() => this.#inflight.delete(key))
      this.#inflight.set(key, pending)
    }
    return pending
  }

  async #get(key: string, namespace: string, name: string): Promise<V1Secret | undefined> {
    this.stats.gets++
    try {
      const secret = await this.#opts.core.readNamespacedSecret({ name, namespace })
      this.#keep(key, secret)
      return secret
    } catch (err) {
      if (isNotFound(err)) {
        this.#drop(key)
        return undefined
      }
      throw err
    }
  }

  #keep(key: string, secret: V1Secret): void {
    this.#drop(key)
    // Only what a reconcile reads: name, namespace, resourceVersion, type and data.
    const kept: V1Secret = {
      metadata: {
        name: secret.metadata?.name,
        namespace: secret.metadata?.namespace,
        resourceVersion: secret.metadata?.resourceVersion,
        uid: secret.metadata?.uid,
      },
      type: secret.type,
      data: secret.data,
    }
    const bytes = Object.entries(secret.data ?? {}).reduce((n, [k, v]) => n + k.length + v.length, 0)
    if (bytes > this.#maxBytes) return
    // A Secret read before the watch reported it counts as current until the watch says otherwise.
    const rv = secret.metadata?.resourceVersion
    if (rv && !this.#versions.has(key)) this.#versions.set(key, rv)
    this.#cache.set(key, { secret: kept, bytes })
    this.#cachedBytes += bytes
    while (this.#cache.size > this.#maxEntries || this.#cachedBytes > this.#maxBytes) {
      const oldest = this.#cache.keys().next().value
      if (oldest === undefined) break
      this.#drop(oldest)
    }
  }

  #drop(key: string): void {
    const entry = this.#cache.get(key)
    if (!entry) return
    this.#cache.delete(key)
    this.#cachedBytes -= entry.bytes
  }

  #onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', key: string, rv: string | undefined): void {
    const before = this.#versions.get(key)
    if (type === 'DELETED') {
      this.#versions.delete(key)
      this.#drop(key)
    } else if (rv) {
      if (before === rv) return
      this.#versions.set(key, rv)
    }
    this.#notify(key)
  }

  /** After a (re)list: forget what is gone, tell of what changed while the watch was down. */
  #onRelisted(listed: Map<string, string>, namespace: string | undefined): void {
    for (const [key] of this.#versions) {
      if (namespace !== undefined && !key.startsWith(`${namespace}/`)) continue
      if (!listed.has(key)) this.#onEvent('DELETED', key, undefined)
    }
    for (const [key, rv] of listed) {
      if (this.#versions.get(key) !== rv) this.#onEvent('MODIFIED', key, rv)
    }
  }

  #notify(key: string): void {
    const slash = key.indexOf('/')
    const namespace = key.slice(0, slash)
    const name = key.slice(slash + 1)
    for (const h of this.#handlers) {
      try {
        h(namespace, name)
      } catch (err) {
        this.#log.error({ err: describeApiError(err) }, 'secret change handler failed')
      }
    }
  }
}

/** A copy of the configuration whose requests ask for object metadata only. */
function metadataOnly(kc: SharedConnectionsKubeConfig): SharedConnectionsKubeConfig {
  const copy = new MetadataOnlyKubeConfig()
  copy.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  })
  return copy
}

class MetadataOnlyKubeConfig extends SharedConnectionsKubeConfig {
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context)
    context.setHeaderParam('Accept', PARTIAL_METADATA)
  }
}

interface WatcherOptions {
  kubeConfig: SharedConnectionsKubeConfig
  path: string
  namespace: string | undefined
  logger: Logger
  restartDelayMs: number
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', key: string, rv: string | undefined): void
  onRelisted(keys: Map<string, string>, namespace: string | undefined): void
}

interface MetaObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string }
}

/** List (paged, metadata only), then watch from the list's resourceVersion; relist on 410 Gone. */
class MetadataWatcher {
  readonly #o: WatcherOptions
  readonly #watch: BookmarkedWatch
  #rv: string | undefined
  #synced = false
  #stopped = false
  #delay: number
  #abort: { abort(): void } | undefined
  #timer: NodeJS.Timeout | undefined
  #syncWaiters: Array<() => void> = []

  constructor(o: WatcherOptions) {
    this.#o = o
    this.#delay = o.restartDelayMs
    this.#watch = new BookmarkedWatch(o.kubeConfig)
  }

  get synced(): boolean {
    return this.#synced
  }

  start(): Promise<void> {
    this.#stopped = false
    const synced = this.#synced ? Promise.resolve() : new Promise<void>((r) => this.#syncWaiters.push(r))
    void this.#run()
    return synced
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#watch.stop()
    this.#abort?.abort()
  }

  async #run(): Promise<void> {
    if (this.#stopped) return
    try {
      if (this.#rv === undefined) await this.#list()
      if (this.#stopped) return
      this.#delay = this.#o.restartDelayMs
      await this.#watchOnce()
      this.#schedule(0)
    } catch (err) {
      if (this.#stopped) return
      if (apiStatus(err) === 410 || (err as { statusCode?: number }).statusCode === 410) this.#rv = undefined
      this.#o.logger.warn(
        { err: describeApiError(err), retryInMs: this.#delay, path: this.#o.path },
        'secret metadata list/watch failed; restarting',
      )
      this.#schedule(this.#delay)
      this.#delay = Math.min(this.#delay * 2, 30_000)
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => void this.#run(), ms)
    this.#timer.unref()
  }

  async #list(): Promise<void> {
    const listed = new Map<string, string>()
    let cont: string | undefined
    let rv: string | undefined
    do {
      const url = new URL(this.#o.kubeConfig.getCurrentCluster()?.server + this.#o.path)
      url.searchParams.set('limit', String(PAGE))
      if (cont) url.searchParams.set('continue', cont)
      const ctx = new RequestContext(url.toString(), HttpMethod.GET)
      await this.#o.kubeConfig.applySecurityAuthentication(ctx)
      const res = await fetch(url, {
        headers: { ...ctx.getHeaders(), Accept: PARTIAL_METADATA_LIST },
        dispatcher: ctx.getDispatcher(),
      })
      if (!res.ok) {
        const error = new Error(`list ${this.#o.path}: HTTP ${res.status}`) as Error & { statusCode: number }
        error.statusCode = res.status
        await res.body?.cancel()
        throw error
      }
      const page = (await res.json()) as {
        items?: MetaObject[]
        metadata?: { continue?: string; resourceVersion?: string }
      }
      for (const item of page.items ?? []) {
        const m = item.metadata
        if (m?.name && m.namespace && m.resourceVersion)
          listed.set(`${m.namespace}/${m.name}`, m.resourceVersion)
      }
      cont = page.metadata?.continue || undefined
      rv = page.metadata?.resourceVersion
    } while (cont)
    this.#rv = rv
    this.#o.onRelisted(listed, this.#o.namespace)
    if (!this.#synced) {
      this.#synced = true
      for (const w of this.#syncWaiters.splice(0)) w()
    }
  }

  #watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let failed: unknown
      void this.#watch
        .watch(
          this.#o.path,
          { resourceVersion: this.#rv },
          (type: string, obj: MetaObject & { code?: number }) => {
            if (type === 'ERROR') {
              failed = Object.assign(new Error('watch error'), { statusCode: obj.code })
              this.#abort?.abort()
              return
            }
            const m = obj.metadata
            if (m?.resourceVersion) this.#rv = m.resourceVersion
            if (type === 'BOOKMARK' || !m?.name || !m.namespace) return
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
              this.#o.onEvent(type, `${m.namespace}/${m.name}`, m.resourceVersion)
            }
          },
          (err: unknown) => {
            const e = failed ?? err
            // The client ends a watch that was silent too long (TimeoutError), the server one that
            // ran `timeoutSeconds`: both simply watch again from the last resourceVersion.
            const ended = e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError')
            if (e && !this.#stopped && !ended) reject(e)
            else resolve()
          },
        )
        .then((abort) => {
          this.#abort = abort
        }, reject)
    })
  }
}
