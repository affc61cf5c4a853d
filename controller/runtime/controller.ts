import type { Logger } from 'pino'
import type { CommonStatus, KindInfo, ReconcilerDefinition, SwitchboardObject } from './definition.ts'
import { keyOf } from './definition.ts'
import { cloneJson } from './equal.ts'
import type { EventRecorder } from './events.ts'
import type { HeapSettler } from './heap.ts'
import { ReferenceIndex } from './indexes.ts'
import type { Cache } from './informer.ts'
import { describeApiError, type KubeClients } from './kube.ts'
import { MemoStore } from './memo.ts'
import type { OperatorMetrics } from './metrics.ts'
import { ObjectWriter } from './object-writer.ts'
import { reconcileObject } from './reconcile.ts'
import type { SecretSource } from './secrets.ts'
import { WorkQueue } from './workqueue.ts'

export interface ControllerDeps {
  clients: KubeClients
  informer: Cache<SwitchboardObject>
  secrets: SecretSource
  events: EventRecorder
  metrics: OperatorMetrics
  logger: Logger
  /** Multiplier for jitter on the resync interval (default 0.1 = up to +10 %). */
  jitter?: number
  /** Told of every reconcile, to collect the heap once a burst of them is over. */
  settler?: HeapSettler
}

/**
 * One controller per kind: turns cache events into keys on a work queue and runs the kind's
 * reconciler on them with a bounded number of workers, requeueing by the outcome. One reconcile
 * of one object is `reconcileObject` (reconcile.ts); what each object uses is a `ReferenceIndex`;
 * what is kept per object across reconciles is a `MemoStore`, dropped when the object goes.
 */
export class Controller<Spec, Status extends CommonStatus, State = undefined> {
  readonly name: string
  readonly queue: WorkQueue
  readonly #def: ReconcilerDefinition<Spec, Status, State>
  readonly #deps: ControllerDeps
  readonly #log: Logger
  readonly #concurrency: number
  readonly #fingerprints = new Map<string, string>()
  readonly #refs: ReferenceIndex
  readonly #writer: ObjectWriter
  /** Values kept per object across reconciles (provider clients); dropped when the object goes. */
  readonly memo: MemoStore
  #workers: Promise<void>[] = []
  #abort = new AbortController()
  #running = false
  /** Reconciles run since start (tests count them). */
  reconcileCount = 0

  constructor(def: ReconcilerDefinition<Spec, Status, State>, deps: ControllerDeps) {
    this.#def = def
    this.#deps = deps
    this.name = def.name
    this.#log = deps.logger.child({ controller: def.name })
    this.#refs = new ReferenceIndex(def.secretNames, def.references)
    this.#writer = new ObjectWriter(def.kind, deps.clients, deps.events)
    this.memo = new MemoStore(this.#log)
    this.#concurrency = def.concurrency ?? 4
    this.queue = new WorkQueue({
      backoff: def.backoff,
      metrics: deps.metrics.queueMetrics(def.name),
    })
    deps.metrics.registerQueue(def.name, this.queue)
    deps.metrics.maxConcurrentReconciles.set({ controller: def.name }, this.#concurrency)
    deps.metrics.activeWorkers.set({ controller: def.name }, 0)
    // Export every series from the start (at 0), as Go operators do, so rate() and alerts work.
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
      deps.metrics.reconcileTotal.inc({ controller: def.name, result }, 0)
    }
    deps.metrics.reconcileErrors.inc({ controller: def.name }, 0)
    deps.metrics.terminalReconcileErrors.inc({ controller: def.name }, 0)
  }

  get kind(): KindInfo {
    return this.#def.kind
  }

  /** Informer handlers for the kind: enqueue on create/delete and on changes that matter. */
  onObject = {
    add: (obj: SwitchboardObject) => {
      this.#refs.index(keyOf(obj), obj)
      this.#fingerprints.set(keyOf(obj), fingerprint(obj))
      this.queue.add(keyOf(obj))
    },
    update: (obj: SwitchboardObject) => {
      const key = keyOf(obj)
      this.#refs.index(keyOf(obj), obj)
      const fp = fingerprint(obj)
      // Status-only updates (our own writes among them) do not bump the generation: skip them.
      if (this.#fingerprints.get(key) === fp) return
      this.#fingerprints.set(key, fp)
      // a change someone made: ahead of resyncs and retries
      this.queue.add(key, { urgent: true })
    },
    delete: (obj: SwitchboardObject) => {
      const key = keyOf(obj)
      this.#fingerprints.delete(key)
      this.queue.add(key, { urgent: true })
    },
  }

  /** A Secret changed: re-enqueue every object that references it. */
  onSecret(namespace: string, name: string): void {
    for (const key of this.#refs.usersOfSecret(namespace, name)) this.queue.add(key)
  }

  /** Another Switchboard object changed: re-enqueue the objects that use it, if its readiness moved. */
  onReferenced(kind: string, obj: SwitchboardObject, deleted = false): void {
    for (const key of this.#refs.usersOfChanged(kind, obj, deleted)) this.queue.add(key)
  }

  /**
   * Enqueues an object (webhooks, connect callbacks and other controllers use it to ask for a
   * reconcile): ahead of resyncs and retries, so that objects failing against a provider that is
   * down do not hold it up.
   */
  enqueue(namespace: string, name: string, afterMs = 0): void {
    this.queue.addAfter(`${namespace}/${name}`, afterMs, { urgent: true })
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#abort = new AbortController()
    for (let i = 0; i < this.#concurrency; i++) this.#workers.push(this.#worker())
    this.#log.info({ workers: this.#concurrency }, 'controller started')
  }

  /** Stops taking work and waits (bounded) for running reconciles to finish. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.#running) {
      await this.queue.shutdown(0)
      return
    }
    this.#running = false
    await this.queue.shutdown(timeoutMs)
    this.#abort.abort()
    await Promise.race([Promise.all(this.#workers), delay(timeoutMs)])
    this.#workers = []
    // What was kept per object is rebuilt by the next reconciles, should the controller start again.
    this.memo.clear()
    this.#log.info('controller stopped')
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get()
      if (key === undefined) return
      const active = this.#deps.metrics.activeWorkers.labels({ controller: this.name })
      active.inc()
      try {
        await this.#process(key)
      } catch (err) {
        // #process handles its own errors; this is a last line of defence against a bug.
        this.#log.error({ err: err instanceof Error ? err.message : String(err), key }, 'reconcile crashed')
        this.queue.addRateLimited(key)
      } finally {
        active.dec()
        this.queue.done(key)
        this.#deps.settler?.worked(this.queue.length === 0)
      }
    }
  }

  async #process(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/')
    const cached = this.#deps.informer.get(name, namespace)
    if (!cached) {
      this.#forget(key, namespace, name)
      return
    }
    this.reconcileCount += 1
    const started = performance.now()
    const log = this.#log.child({ namespace, name })
    const obj = cloneJson(cached) as SwitchboardObject<Spec, Status>
    let result: 'success' | 'error' | 'requeue' | 'requeue_after' = 'success'
    try {
      const outcome = await reconcileObject(this.#def, obj, log, {
        secrets: this.#deps.secrets,
        writer: this.#writer,
        memo: this.memo,
        metrics: this.#deps.metrics,
        signal: this.#abort.signal,
        jitter: this.#deps.jitter ?? 0.1,
      })
      if (outcome.error) {
        const e = outcome.error
        this.#deps.metrics.reconcileErrors.inc({ controller: this.name })
        if (e.kind === 'stalling') {
          this.#deps.metrics.terminalReconcileErrors.inc({ controller: this.name })
          this.queue.forget(key)
          result = 'error'
        } else if (e.kind === 'waiting' && e.retryAfterMs !== undefined) {
          this.queue.addAfter(key, e.retryAfterMs)
          result = 'requeue_after'
        } else {
          const backoff = this.queue.addRateLimited(key)
          log.debug({ backoffMs: backoff }, 'retrying with backoff')
          result = 'error'
        }
      } else {
        this.queue.forget(key)
        if (outcome.requeueAfterMs !== undefined) {
          this.queue.addAfter(key, outcome.requeueAfterMs)
          result = 'requeue_after'
        }
      }
    } catch (err) {
      // The API server failed us (a status write, a finalizer patch): count it and back off.
      result = 'error'
      this.#deps.metrics.reconcileErrors.inc({ controller: this.name })
      log.warn({ err: describeApiError(err) }, 'reconcile failed talking to the API server')
      this.queue.addRateLimited(key)
    } finally {
      this.#deps.metrics.reconcileTotal.inc({ controller: this.name, result })
      this.#deps.metrics.reconcileTime.observe(
        { controller: this.name },
        (performance.now() - started) / 1000,
      )
    }
  }

  #forget(key: string, namespace: string, name: string): void {
    this.queue.forget(key)
    this.#refs.forget(key)
    this.memo.drop(key)
    this.#deps.metrics.removeResource(this.#def.kind.kind, namespace, name)
    this.#def.forget?.(namespace, name)
  }
}

/**
 * What makes an update worth a reconcile: a new generation, a deletion, or a change to one of the
 * `switchboard.dev/` annotations (sync now, full resync, ...). Status-only updates are not.
 */
function fingerprint(obj: SwitchboardObject): string {
  const m = obj.metadata
  const ours = Object.entries(m.annotations ?? {})
    .filter(([k]) => k.startsWith('switchboard.dev/'))
    .sort(([a], [b]) => a.localeCompare(b))
  return JSON.stringify([m.generation ?? 0, m.deletionTimestamp ? 'deleting' : '', m.uid ?? '', ours])
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
