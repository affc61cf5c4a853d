import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { describeApiError } from './kube.ts'

export interface InformerHandlers<T extends KubernetesObject> {
  add?(obj: T): void
  update?(obj: T): void
  delete?(obj: T): void
}

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig
  /** Watch path, e.g. `/apis/switchboard.dev/v1alpha1/destinations` or `/api/v1/secrets`. */
  path: string
  list(): Promise<KubernetesListObject<T>>
  /** Only objects matching this label selector (the list must use the same one). */
  labelSelector?: string
  logger: Logger
  /** Delay before restarting after a failed list or a broken watch (doubles up to 30 s). */
  restartDelayMs?: number
}

/** The shortest server-side length of a watch, in seconds; each watch runs 1 to 2 times this. */
export const WATCH_MIN_SECONDS = 300

/**
 * How long a watch may stay silent before the client takes its connection for dead and watches
 * again. The API server sends a bookmark to a watch that asks for them about every minute
 * (kube-apiserver 1.34: the first after 2 minutes, then one every 60 s), so only a broken watch
 * is silent for this long.
 */
export const WATCH_SILENT_MS = 3 * 60_000

/**
 * A watch as client-go's reflectors make it: with bookmarks (a quiet resource still hears from
 * the server, and a restart resumes from a recent resourceVersion) and a server-side timeout
 * drawn between 5 and 10 minutes, so that watches end one by one and not together. The client's
 * own inactivity timeout would otherwise end every quiet watch after 30 s (and open a new one:
 * most of an idle controller's work).
 */
export class BookmarkedWatch extends Watch {
  #stopped = false
  readonly #open = new Set<AbortController>()

  constructor(kubeConfig: KubeConfig) {
    super(kubeConfig)
    // private in the client's types, a plain property in its code (the 30 s default)
    ;(this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_SILENT_MS
  }

  /**
   * Ends every watch this opened and refuses new ones. A stop that comes while a list is in
   * flight would otherwise see the watch that follows the list start after it, and that watch,
   * minutes long now, would keep a stopping process alive.
   */
  stop(): void {
    this.#stopped = true
    for (const a of this.#open) a.abort()
    this.#open.clear()
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    // biome-ignore lint/suspicious/noExplicitAny: the client's own signature
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.#stopped) {
      const refused = new AbortController()
      refused.abort()
      return refused
    }
    let controller: AbortController | undefined
    controller = await super.watch(
      path,
      {
        ...queryParams,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(WATCH_MIN_SECONDS * (1 + Math.random())),
      },
      callback,
      (err: unknown) => {
        if (controller) this.#open.delete(controller)
        done(err)
      },
    )
    if (this.#stopped) controller.abort()
    else this.#open.add(controller)
    return controller
  }
}

/**
 * An informer-backed cache for one resource type: lists, then watches from the list's
 * resourceVersion. On 410 Gone it lists again (the client's ListWatch does that); on any other
 * error it restarts after a capped backoff, so a flapping API server never leaves the cache dead.
 */
export class Informer<T extends KubernetesObject> {
  readonly #lw: ListWatch<T>
  readonly #watch: BookmarkedWatch
  readonly #log: Logger
  readonly #baseDelay: number
  #delay: number
  #stopped = false
  #synced = false
  #restartTimer: NodeJS.Timeout | undefined
  #syncWaiters: Array<() => void> = []

  constructor(opts: InformerOptions<T>, handlers: InformerHandlers<T> = {}) {
    this.#log = opts.logger.child({ informer: opts.path })
    this.#baseDelay = opts.restartDelayMs ?? 1000
    this.#delay = this.#baseDelay
    this.#watch = new BookmarkedWatch(opts.kubeConfig)
    this.#lw = new ListWatch<T>(opts.path, this.#watch, opts.list, false, opts.labelSelector)
    // First of all handlers: the object handed to them is the one the cache keeps.
    this.#lw.on('add', trimForCache)
    this.#lw.on('update', trimForCache)
    this.on(handlers)
    this.#lw.on('connect', () => {
      this.#log.debug('watch connecting')
    })
    this.#lw.on('error', (err: unknown) => this.#onError(err))
  }

  /** Adds event handlers; call before `start` to see every object. */
  on(handlers: InformerHandlers<T>): void {
    if (handlers.add) this.#lw.on('add', handlers.add)
    if (handlers.update) this.#lw.on('update', handlers.update)
    if (handlers.delete) this.#lw.on('delete', handlers.delete)
  }

  get synced(): boolean {
    return this.#synced
  }

  /** Starts listing and watching; resolves once the first list is in the cache. */
  async start(): Promise<void> {
    this.#stopped = false
    const synced = this.waitForSync()
    void this.#run()
    await synced
  }

  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve()
    return new Promise((resolve) => this.#syncWaiters.push(resolve))
  }

  async #run(): Promise<void> {
    let failed = false
    const onErr = () => {
      failed = true
    }
    this.#lw.on('error', onErr)
    try {
      await this.#lw.start()
    } catch (err) {
      failed = true
      this.#onError(err)
    } finally {
      this.#lw.off('error', onErr)
    }
    if (!failed && !this.#stopped) {
      this.#delay = this.#baseDelay
      if (!this.#synced) {
        this.#synced = true
        for (const w of this.#syncWaiters.splice(0)) w()
      }
    }
  }

  #onError(err: unknown): void {
    if (this.#stopped) return
    this.#log.warn({ err: describeApiError(err), retryInMs: this.#delay }, 'list/watch failed; restarting')
    if (this.#restartTimer) return
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined
      if (!this.#stopped) void this.#run()
    }, this.#delay)
    this.#restartTimer.unref()
    this.#delay = Math.min(this.#delay * 2, 30_000)
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#lw.get(name, namespace)
  }

  list(namespace?: string): readonly T[] {
    return this.#lw.list(namespace)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#restartTimer) clearTimeout(this.#restartTimer)
    this.#watch.stop()
    await this.#lw.stop()
  }
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'

/**
 * Drops from a cached object what no controller reads and what costs the most per object: the
 * server-side apply bookkeeping (`managedFields`) and kubectl's copy of the last applied object.
 * (As controller-runtime's cache transforms do.) Then shares its repeated strings (below).
 */
export function trimForCache(obj: KubernetesObject): void {
  const m = obj.metadata
  if (!m) return
  delete m.managedFields
  if (m.annotations && LAST_APPLIED in m.annotations) {
    delete m.annotations[LAST_APPLIED]
    if (Object.keys(m.annotations).length === 0) delete m.annotations
  }
  shareStrings(obj as unknown as Record<string, unknown>, true)
}

/** Strings shared between cached objects; cleared when full, so it never grows past this. */
const MAX_SHARED_STRINGS = 4096
const MAX_SHARED_LENGTH = 256
const shared = new Map<string, string>()
/** Fields of `metadata` that are one object's own: never worth a place in the table. */
const OWN_FIELDS = new Set(['name', 'uid', 'resourceVersion', 'generateName', 'selfLink'])

function share(s: string): string {
  if (s.length > MAX_SHARED_LENGTH) return s
  const found = shared.get(s)
  if (found !== undefined) return found
  if (shared.size >= MAX_SHARED_STRINGS) shared.clear()
  shared.set(s, s)
  return s
}

/**
 * JSON.parse makes a new string for every value of every object it reads, so 10,000 cached
 * objects hold 10,000 copies of their apiVersion, kind and namespace, of each condition's type,
 * status, reason and common message, of timestamps written in the same second, of a spec value
 * they share. Each string value is replaced by an equal one from a bounded table: the same
 * object, held once. (Values unique to each object pass through the table and are cleared with
 * it; common values come back after a clear and are shared again.)
 */
function shareStrings(value: Record<string, unknown> | unknown[], top = false): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i]
      if (typeof v === 'string') value[i] = share(v)
      else if (v !== null && typeof v === 'object') shareStrings(v as Record<string, unknown>)
    }
    return
  }
  for (const key in value) {
    const v = value[key]
    if (typeof v === 'string') value[key] = share(v)
    else if (v !== null && typeof v === 'object') {
      if (top && key === 'metadata') shareMetadata(v as Record<string, unknown>)
      else shareStrings(v as Record<string, unknown>)
    }
  }
}

function shareMetadata(m: Record<string, unknown>): void {
  for (const key in m) {
    if (OWN_FIELDS.has(key)) continue
    const v = m[key]
    if (typeof v === 'string') m[key] = share(v)
    else if (v !== null && typeof v === 'object') shareStrings(v as Record<string, unknown>)
  }
}

/** What callers need of a cache: lookups, handlers, lifecycle. */
export interface Cache<T extends KubernetesObject> {
  readonly synced: boolean
  on(handlers: InformerHandlers<T>): void
  start(): Promise<void>
  stop(): Promise<void>
  get(name: string, namespace?: string): T | undefined
  list(namespace?: string): readonly T[]
}

/**
 * One informer per namespace behind a single cache, for a controller restricted to a list of
 * namespaces (Roles instead of ClusterRoles). Objects in other namespaces are never seen.
 */
export class NamespacedInformers<T extends KubernetesObject> implements Cache<T> {
  readonly #byNamespace = new Map<string, Informer<T>>()

  constructor(namespaces: readonly string[], make: (namespace: string) => Informer<T>) {
    for (const ns of namespaces) this.#byNamespace.set(ns, make(ns))
  }

  get synced(): boolean {
    return [...this.#byNamespace.values()].every((i) => i.synced)
  }

  on(handlers: InformerHandlers<T>): void {
    for (const i of this.#byNamespace.values()) i.on(handlers)
  }

  async start(): Promise<void> {
    await Promise.all([...this.#byNamespace.values()].map((i) => i.start()))
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#byNamespace.values()].map((i) => i.stop()))
  }

  get(name: string, namespace?: string): T | undefined {
    return namespace === undefined ? undefined : this.#byNamespace.get(namespace)?.get(name, namespace)
  }

  list(namespace?: string): readonly T[] {
    if (namespace !== undefined) return this.#byNamespace.get(namespace)?.list(namespace) ?? []
    return [...this.#byNamespace.values()].flatMap((i) => i.list())
  }
}
