import type { KubernetesObject, V1ObjectMeta, V1Secret } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { z } from 'zod'
import {
  parseSecretKeys,
  Reason,
  StallingError,
  type SwitchboardError,
  sanitizeMessage,
  toSwitchboardError,
} from '../../connectors/index.ts'
import {
  type Condition,
  ConditionType,
  findCondition,
  removeCondition,
  setCondition,
  sortConditions,
} from './conditions.ts'
import { parseDuration, withJitter } from './duration.ts'
import type { EventRecorder, EventType } from './events.ts'
import type { Cache } from './informer.ts'
import { describeApiError, isNotFound, type KubeClients, mergePatch } from './kube.ts'
import { mergePatchDiff } from './merge-patch.ts'
import type { OperatorMetrics } from './metrics.ts'
import { WorkQueue } from './workqueue.ts'

export const REQUESTED_AT_ANNOTATION = 'switchboard.dev/requested-at'
export const FINALIZER = 'switchboard.dev/finalizer'

/** What the runtime needs to know of a kind (a KindDefinition from controller/api satisfies it). */
export interface KindInfo {
  group: string
  version: string
  kind: string
  plural: string
  spec: z.ZodType
}

/** Status fields every Switchboard kind has. */
export interface CommonStatus {
  observedGeneration?: number
  conditions?: Condition[]
  lastHandledRequestAt?: string
  lastSyncTime?: string
  [key: string]: unknown
}

export interface SwitchboardObject<Spec = unknown, Status extends CommonStatus = CommonStatus>
  extends KubernetesObject {
  metadata: V1ObjectMeta & { name: string; namespace: string }
  spec: Spec
  status?: Status
}

export interface ReconcileContext<Spec, Status extends CommonStatus> {
  /** A private copy of the object as the cache had it. */
  readonly obj: SwitchboardObject<Spec, Status>
  /** The spec, validated by the kind's zod schema (defaults applied). */
  readonly spec: Spec
  /** The status being built; steps change it, the runtime writes it once at the end. */
  readonly status: Status
  readonly log: Logger
  readonly signal: AbortSignal
  readonly now: () => Date
  /** Reads a Secret in the object's namespace from the cache; a missing Secret stalls. */
  secret(name: string): V1Secret
  /**
   * Reads and validates the keys a provider needs from a Secret. A missing key is named; a
   * malformed one is named with what is wrong, never with its value.
   */
  credentials<T extends Record<string, string>>(secretName: string, schema: z.ZodType<T>): T
  setCondition(type: string, status: Condition['status'], reason: string, message: string): void
  removeCondition(type: string): void
  /** Overrides the Ready=True reason and message of a successful reconcile. */
  ready(reason: string, message: string): void
  /** Asks for the next reconcile sooner than the interval. */
  requeueAfter(ms: number): void
  event(type: EventType, reason: string, message: string): void
  /** Marks a value as secret: it is scrubbed from every message the runtime writes. */
  addSecretValue(value: string): void
  /**
   * Writes the status as it stands now (only what changed), for progress that must survive a
   * crash, such as a cursor committed after the destinations acknowledged a page.
   */
  checkpoint(): Promise<void>
}

export interface Step<Spec, Status extends CommonStatus> {
  name: string
  run(ctx: ReconcileContext<Spec, Status>): Promise<void> | void
}

export interface ReconcilerDefinition<Spec, Status extends CommonStatus> {
  /** Controller name, used in metrics and logs (e.g. `destination`). */
  name: string
  kind: KindInfo
  /** Ordered steps; the first that throws ends the reconcile. */
  steps: Step<Spec, Status>[]
  /** Names of the Secrets (same namespace) that the object uses; read from the raw spec. */
  secretNames(spec: unknown): string[]
  /**
   * Other Switchboard objects (same namespace) the object uses, by kind, read from the raw spec:
   * when one of them changes readiness, the object is reconciled again.
   */
  references?(spec: unknown): Array<{ kind: string; name: string }>
  /** Resync interval for a healthy object. */
  interval(spec: Spec): string | undefined
  /** Cleans up before the finalizer is removed (provider-side objects, in-memory state). */
  finalize?(ctx: ReconcileContext<Spec, Status>): Promise<void> | void
  /** Called after the status of a reconcile was written (or needed no write). */
  statusWritten?(ctx: ReconcileContext<Spec, Status>): void
  /** Called once an object is gone, to drop in-memory state. */
  forget?(namespace: string, name: string): void
  /** Default Ready=True reason/message when no step set them. */
  readyMessage?: { reason: string; message: string }
  concurrency?: number
  backoff?: { baseDelayMs?: number; maxDelayMs?: number }
}

export interface ControllerDeps {
  clients: KubeClients
  informer: Cache<SwitchboardObject>
  secrets: Cache<V1Secret>
  events: EventRecorder
  metrics: OperatorMetrics
  logger: Logger
  /** Multiplier for jitter on the resync interval (default 0.1 = up to +10 %). */
  jitter?: number
}

interface Outcome {
  error?: SwitchboardError
  requeueAfterMs?: number
}

/**
 * One controller per kind: turns cache events into keys on a work queue and runs the kind's
 * reconciler on them with a bounded number of workers. Everything that is the same for every
 * kind lives here: finalizers, suspend, spec validation, Secret reading, the kstatus conditions,
 * one status write per reconcile (only if something changed), events, metrics and requeueing.
 */
export class Controller<Spec, Status extends CommonStatus> {
  readonly name: string
  readonly queue: WorkQueue
  readonly #def: ReconcilerDefinition<Spec, Status>
  readonly #deps: ControllerDeps
  readonly #log: Logger
  readonly #concurrency: number
  readonly #fingerprints = new Map<string, string>()
  /** "ns/secretName" -> keys of objects that reference it. */
  readonly #secretIndex = new Map<string, Set<string>>()
  readonly #secretsOf = new Map<string, Set<string>>()
  /** "Kind/ns/name" -> keys of objects that reference it, and the readiness last seen of it. */
  readonly #refIndex = new Map<string, Set<string>>()
  readonly #refsOf = new Map<string, Set<string>>()
  readonly #refState = new Map<string, string>()
  #workers: Promise<void>[] = []
  #abort = new AbortController()
  #running = false
  /** Reconciles run since start (tests count them). */
  reconcileCount = 0

  constructor(def: ReconcilerDefinition<Spec, Status>, deps: ControllerDeps) {
    this.#def = def
    this.#deps = deps
    this.name = def.name
    this.#log = deps.logger.child({ controller: def.name })
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
      this.#index(obj)
      this.#fingerprints.set(keyOf(obj), fingerprint(obj))
      this.queue.add(keyOf(obj))
    },
    update: (obj: SwitchboardObject) => {
      const key = keyOf(obj)
      this.#index(obj)
      const fp = fingerprint(obj)
      // Status-only updates (our own writes among them) do not bump the generation: skip them.
      if (this.#fingerprints.get(key) === fp) return
      this.#fingerprints.set(key, fp)
      this.queue.add(key)
    },
    delete: (obj: SwitchboardObject) => {
      const key = keyOf(obj)
      this.#fingerprints.delete(key)
      this.queue.add(key)
    },
  }

  /** A Secret changed: re-enqueue every object that references it. */
  onSecret(secret: V1Secret): void {
    const ref = `${secret.metadata?.namespace}/${secret.metadata?.name}`
    for (const key of this.#secretIndex.get(ref) ?? []) this.queue.add(key)
  }

  /** Another Switchboard object changed: re-enqueue the objects that use it, if its readiness moved. */
  onReferenced(kind: string, obj: SwitchboardObject, deleted = false): void {
    const ref = `${kind}/${obj.metadata.namespace}/${obj.metadata.name}`
    const users = this.#refIndex.get(ref)
    const ready = obj.status?.conditions?.find((c) => c.type === 'Ready')
    const state = deleted
      ? 'deleted'
      : `${obj.metadata.uid}|${ready?.status}|${ready?.reason}|${obj.status?.observedGeneration}`
    if (this.#refState.get(ref) === state) return
    if (deleted) this.#refState.delete(ref)
    else this.#refState.set(ref, state)
    for (const key of users ?? []) this.queue.add(key)
  }

  /** Enqueues an object now (webhooks and other controllers use it to ask for a reconcile). */
  enqueue(namespace: string, name: string, afterMs = 0): void {
    this.queue.addAfter(`${namespace}/${name}`, afterMs)
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
    const obj = structuredClone(cached) as SwitchboardObject<Spec, Status>
    let result: 'success' | 'error' | 'requeue' | 'requeue_after' = 'success'
    try {
      const outcome = await this.#reconcile(obj, log)
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

  async #reconcile(obj: SwitchboardObject<Spec, Status>, log: Logger): Promise<Outcome> {
    const { namespace, name } = obj.metadata
    const generation = obj.metadata.generation ?? 0
    const before = structuredClone(obj.status ?? ({} as Status))
    const status = structuredClone(before) as Status
    let written = before
    status.conditions = status.conditions ?? []
    const conditions = status.conditions
    const secretValues = new Set<string>()
    let requeueAfter: number | undefined
    let readyOverride: { reason: string; message: string } | undefined

    const ctx: ReconcileContext<Spec, Status> = {
      obj,
      spec: obj.spec,
      status,
      log,
      signal: this.#abort.signal,
      now: () => new Date(),
      secret: (secretName) => {
        const secret = this.#deps.secrets.get(secretName, namespace)
        if (!secret) {
          throw new StallingError(
            Reason.SecretNotFound,
            `Secret "${secretName}" not found in namespace "${namespace}"`,
            { field: 'spec.credentialsSecretRef.name' },
          )
        }
        for (const v of Object.values(secret.data ?? {})) {
          secretValues.add(v)
          secretValues.add(Buffer.from(v, 'base64').toString('utf8'))
        }
        return secret
      },
      credentials: (secretName, schema) => readCredentials(ctx.secret(secretName), secretName, schema),
      setCondition: (type, st, reason, message) =>
        setCondition(conditions, { type, status: st, reason, message, observedGeneration: generation }),
      removeCondition: (type) => removeCondition(conditions, type),
      ready: (reason, message) => {
        readyOverride = { reason, message }
      },
      requeueAfter: (ms) => {
        requeueAfter = requeueAfter === undefined ? ms : Math.min(requeueAfter, ms)
      },
      event: (type, reason, message) => this.#event(obj, type, reason, message, secretValues),
      addSecretValue: (v) => {
        if (v) secretValues.add(v)
      },
      checkpoint: async () => {
        for (const c of conditions) c.message = sanitizeMessage(c.message, secretValues)
        sortConditions(conditions)
        const snapshot = structuredClone(status)
        await this.#writeStatus(obj, written, snapshot, log)
        written = snapshot
      },
    }

    // Deletion: clean up, then let the object go.
    if (obj.metadata.deletionTimestamp) {
      if (obj.metadata.finalizers?.includes(FINALIZER)) {
        try {
          await this.#def.finalize?.(ctx)
        } catch (err) {
          const e = toSwitchboardError(err)
          log.warn({ reason: e.reason, err: sanitizeMessage(e.message, secretValues) }, 'finalizer failed')
          this.#event(obj, 'Warning', e.reason, `cleanup before deletion failed: ${e.message}`, secretValues)
          return { error: e }
        }
        await this.#removeFinalizer(obj)
        log.info('finalizer removed')
      }
      return {}
    }

    if (!obj.metadata.finalizers?.includes(FINALIZER)) {
      if (!(await this.#addFinalizer(obj))) return {}
    }

    const requestedAt = obj.metadata.annotations?.[REQUESTED_AT_ANNOTATION]
    const spec = obj.spec as { suspend?: boolean } | undefined
    if (spec?.suspend === true) {
      log.debug('suspended; skipping')
      status.observedGeneration = generation
      if (requestedAt !== undefined) status.lastHandledRequestAt = requestedAt
      await this.#writeStatus(obj, written, status, log)
      return {}
    }

    let error: SwitchboardError | undefined
    try {
      const parsed = this.#def.kind.spec.safeParse(obj.spec)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        const path = ['spec', ...(issue?.path ?? [])].join('.')
        throw new StallingError(Reason.InvalidSpec, `${path}: ${issue?.message ?? 'invalid'}`, {
          field: path,
        })
      }
      ;(ctx as { spec: Spec }).spec = parsed.data as Spec
      for (const step of this.#def.steps) {
        if (this.#abort.signal.aborted) break
        await step.run(ctx)
      }
    } catch (err) {
      error = toSwitchboardError(err)
    }

    // Summarise into the kstatus conditions.
    status.observedGeneration = generation
    if (requestedAt !== undefined) status.lastHandledRequestAt = requestedAt
    const previousReady = findCondition(before.conditions, ConditionType.Ready)
    if (!error) {
      const ready = readyOverride ??
        this.#def.readyMessage ?? { reason: 'Succeeded', message: 'Reconciliation succeeded' }
      ctx.setCondition(ConditionType.Ready, 'True', ready.reason, ready.message)
      removeCondition(conditions, ConditionType.Reconciling)
      removeCondition(conditions, ConditionType.Stalled)
    } else {
      const message = sanitizeMessage(error.message, secretValues)
      ctx.setCondition(ConditionType.Ready, 'False', error.reason, message)
      if (error.kind === 'stalling') {
        ctx.setCondition(ConditionType.Stalled, 'True', error.reason, message)
        removeCondition(conditions, ConditionType.Reconciling)
      } else {
        ctx.setCondition(ConditionType.Reconciling, 'True', 'ProgressingWithRetry', message)
        removeCondition(conditions, ConditionType.Stalled)
      }
    }
    for (const c of conditions) c.message = sanitizeMessage(c.message, secretValues)
    sortConditions(conditions)

    const ready = findCondition(conditions, ConditionType.Ready)
    if (ready && (ready.status !== previousReady?.status || ready.reason !== previousReady?.reason)) {
      this.#event(
        obj,
        ready.status === 'True' ? 'Normal' : 'Warning',
        ready.reason,
        ready.message,
        secretValues,
      )
    }
    if (error) {
      log.warn(
        { reason: error.reason, kind: error.kind, err: sanitizeMessage(error.message, secretValues) },
        'reconcile failed',
      )
    } else {
      log.debug('reconciled')
    }

    await this.#writeStatus(obj, written, status, log)
    this.#def.statusWritten?.(ctx)
    this.#deps.metrics.setResourceConditions(this.#def.kind.kind, namespace, name, conditions)

    if (error) return { error }
    const interval = this.#def.interval(ctx.spec)
    const intervalMs = interval ? parseDuration(interval, 'spec.interval') : undefined
    const next = [
      requeueAfter,
      intervalMs === undefined ? undefined : withJitter(intervalMs, this.#deps.jitter ?? 0.1),
    ]
      .filter((v): v is number => v !== undefined)
      .reduce<number | undefined>((a, b) => (a === undefined ? b : Math.min(a, b)), undefined)
    return next === undefined ? {} : { requeueAfterMs: next }
  }

  async #writeStatus(
    obj: SwitchboardObject<Spec, Status>,
    before: Status,
    after: Status,
    log: Logger,
  ): Promise<void> {
    const diff = mergePatchDiff(before, after)
    if (diff === undefined) return
    try {
      await this.#deps.clients.custom.patchNamespacedCustomObjectStatus(
        {
          group: this.#def.kind.group,
          version: this.#def.kind.version,
          plural: this.#def.kind.plural,
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
          body: { status: diff },
        },
        mergePatch,
      )
    } catch (err) {
      if (isNotFound(err)) return
      log.warn({ err: describeApiError(err) }, 'status update failed')
      throw err
    }
  }

  async #addFinalizer(obj: SwitchboardObject): Promise<boolean> {
    const finalizers = [...(obj.metadata.finalizers ?? []), FINALIZER]
    try {
      const updated = (await this.#deps.clients.custom.patchNamespacedCustomObject(
        {
          group: this.#def.kind.group,
          version: this.#def.kind.version,
          plural: this.#def.kind.plural,
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
          body: { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } },
        },
        mergePatch,
      )) as SwitchboardObject
      obj.metadata.finalizers = finalizers
      obj.metadata.resourceVersion = updated.metadata.resourceVersion
      return true
    } catch (err) {
      if (isNotFound(err)) return false
      throw err
    }
  }

  async #removeFinalizer(obj: SwitchboardObject): Promise<void> {
    const finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== FINALIZER)
    try {
      await this.#deps.clients.custom.patchNamespacedCustomObject(
        {
          group: this.#def.kind.group,
          version: this.#def.kind.version,
          plural: this.#def.kind.plural,
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
          body: { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } },
        },
        mergePatch,
      )
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }

  #event(
    obj: SwitchboardObject,
    type: EventType,
    reason: string,
    message: string,
    secrets: Iterable<string>,
  ): void {
    this.#deps.events.record(
      {
        apiVersion: `${this.#def.kind.group}/${this.#def.kind.version}`,
        kind: this.#def.kind.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message,
      secrets,
    )
  }

  #index(obj: SwitchboardObject): void {
    const key = keyOf(obj)
    const next = new Set(this.#def.secretNames(obj.spec).map((s) => `${obj.metadata.namespace}/${s}`))
    const prev = this.#secretsOf.get(key)
    for (const ref of prev ?? []) if (!next.has(ref)) this.#secretIndex.get(ref)?.delete(key)
    for (const ref of next) {
      let set = this.#secretIndex.get(ref)
      if (!set) {
        set = new Set()
        this.#secretIndex.set(ref, set)
      }
      set.add(key)
    }
    this.#secretsOf.set(key, next)

    const refs = new Set(
      (this.#def.references?.(obj.spec) ?? []).map((r) => `${r.kind}/${obj.metadata.namespace}/${r.name}`),
    )
    for (const ref of this.#refsOf.get(key) ?? []) if (!refs.has(ref)) this.#refIndex.get(ref)?.delete(key)
    for (const ref of refs) {
      let set = this.#refIndex.get(ref)
      if (!set) {
        set = new Set()
        this.#refIndex.set(ref, set)
      }
      set.add(key)
    }
    this.#refsOf.set(key, refs)
  }

  #forget(key: string, namespace: string, name: string): void {
    this.queue.forget(key)
    for (const ref of this.#secretsOf.get(key) ?? []) this.#secretIndex.get(ref)?.delete(key)
    this.#secretsOf.delete(key)
    for (const ref of this.#refsOf.get(key) ?? []) this.#refIndex.get(ref)?.delete(key)
    this.#refsOf.delete(key)
    this.#deps.metrics.removeResource(this.#def.kind.kind, namespace, name)
    this.#def.forget?.(namespace, name)
  }
}

export function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`
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

function readCredentials<T extends Record<string, string>>(
  secret: V1Secret,
  secretName: string,
  schema: z.ZodType<T>,
): T {
  const decoded: Record<string, string> = {}
  for (const [k, v] of Object.entries(secret.data ?? {}))
    decoded[k] = Buffer.from(v, 'base64').toString('utf8')
  return parseSecretKeys(schema, decoded, `Secret "${secretName}"`)
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
