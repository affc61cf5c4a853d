import type { V1Secret } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import {
  Reason,
  StallingError,
  type SwitchboardError,
  sanitizeMessage,
  toSwitchboardError,
  WaitingError,
} from '../../connectors/index.ts'
import { ConditionType, findCondition, removeCondition } from './conditions.ts'
import { createContext } from './context.ts'
import {
  type BaseContext,
  type CommonStatus,
  FINALIZER,
  REQUESTED_AT_ANNOTATION,
  type ReconcileContext,
  type ReconcilerDefinition,
  type SwitchboardObject,
} from './definition.ts'
import { parseDuration, withJitter } from './duration.ts'
import { cloneJson } from './equal.ts'
import type { MemoStore } from './memo.ts'
import type { OperatorMetrics } from './metrics.ts'
import type { ObjectWriter } from './object-writer.ts'
import type { SecretSource } from './secrets.ts'

export interface ReconcileDeps {
  secrets: SecretSource
  writer: ObjectWriter
  memo: MemoStore
  metrics: OperatorMetrics
  signal: AbortSignal
  jitter: number
}

export interface Outcome {
  error?: SwitchboardError
  requeueAfterMs?: number
}

/** Retry of an optional step's configuration error when the kind has no interval. */
const OPTIONAL_RETRY_MS = 60_000

/**
 * One reconcile of one object, everything that is the same for every kind: the finalizer,
 * suspend, spec validation, the kind's steps in order (each logged with its name and duration),
 * the kstatus conditions, events, and one status write at the end (only if something changed).
 */
export async function reconcileObject<Spec, Status extends CommonStatus, State>(
  def: ReconcilerDefinition<Spec, Status, State>,
  obj: SwitchboardObject<Spec, Status>,
  log: Logger,
  deps: ReconcileDeps,
): Promise<Outcome> {
  const { namespace, name } = obj.metadata
  const objectKey = `${namespace}/${name}`
  const generation = obj.metadata.generation ?? 0
  const before = cloneJson(obj.status ?? ({} as Status))
  // The Secrets the object names, read (on demand, through the bounded cache) before any step
  // runs: the steps see one consistent set and read them synchronously.
  const secrets = await readSecrets(def.secretNames(obj.spec), namespace, deps.secrets)
  const handle = createContext(obj, log, { ...deps, secrets })
  const base = handle.ctx
  const { secretValues } = handle
  const status = base.status
  const conditions = status.conditions ?? []
  const withState = (state: State) => Object.assign(base, { state }) as ReconcileContext<Spec, Status, State>

  // Deletion: clean up, then let the object go.
  if (obj.metadata.deletionTimestamp) {
    if (obj.metadata.finalizers?.includes(FINALIZER)) {
      try {
        // Finalizers get the spec with its defaults, as the steps do (a spec that no longer
        // parses is handed over as stored).
        const parsed = def.kind.spec.safeParse(obj.spec)
        if (parsed.success) (base as { spec: Spec }).spec = parsed.data as Spec
        const ctx = withState(initState(def, base))
        await timed(log, 'finalize', () => def.finalize?.(ctx))
      } catch (err) {
        const e = toSwitchboardError(err)
        log.warn(
          { step: 'finalize', reason: e.reason, err: sanitizeMessage(e.message, secretValues) },
          'finalizer failed',
        )
        deps.writer.event(
          obj,
          'Warning',
          e.reason,
          `cleanup before deletion failed: ${e.message}`,
          secretValues,
        )
        return { error: e }
      }
      deps.memo.drop(objectKey)
      await deps.writer.removeFinalizer(obj)
      log.info('finalizer removed')
    }
    return {}
  }

  // Only a kind that leaves something behind at a provider (a webhook, a channel, events in a
  // calendar) needs a finalizer; for the others it would be one more write per object and an
  // object that cannot be deleted while the controller is down. One left by an older version is
  // removed.
  const hasFinalizer = obj.metadata.finalizers?.includes(FINALIZER) ?? false
  const wantsFinalizer = def.finalize !== undefined && (def.needsFinalizer?.(obj.spec) ?? true)
  if (wantsFinalizer && !hasFinalizer) {
    if (!(await deps.writer.addFinalizer(obj))) return {}
  } else if (!wantsFinalizer && hasFinalizer) {
    await deps.writer.removeFinalizer(obj)
  }

  const requestedAt = obj.metadata.annotations?.[REQUESTED_AT_ANNOTATION]
  const rawSpec = obj.spec as { suspend?: boolean } | undefined
  if (rawSpec?.suspend === true) {
    log.debug('suspended; skipping')
    status.observedGeneration = generation
    if (requestedAt !== undefined) status.lastHandledRequestAt = requestedAt
    def.suspended?.(status)
    await deps.writer.writeStatus(obj, handle.written(), status, log)
    return {}
  }

  let error: SwitchboardError | undefined
  let failedStep: string | undefined
  let ctx: ReconcileContext<Spec, Status, State> | undefined
  try {
    const parsed = def.kind.spec.safeParse(obj.spec)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const path = ['spec', ...(issue?.path ?? [])].join('.')
      throw new StallingError(Reason.InvalidSpec, `${path}: ${issue?.message ?? 'invalid'}`, { field: path })
    }
    ;(base as { spec: Spec }).spec = parsed.data as Spec
    failedStep = 'init'
    ctx = withState(initState(def, base))
    for (const step of def.steps) {
      if (deps.signal.aborted) break
      failedStep = step.name
      try {
        await timed(log, step.name, () => step.run(ctx as ReconcileContext<Spec, Status, State>))
      } catch (err) {
        if (!step.optional) throw err
        const e = toSwitchboardError(err)
        handle.failures.push({ step: step.name, error: e })
        log.warn(
          { step: step.name, reason: e.reason, err: sanitizeMessage(e.message, secretValues) },
          'optional step failed; the reconcile goes on',
        )
      }
    }
    failedStep = undefined
  } catch (err) {
    error = toSwitchboardError(err)
  }
  if (!error && handle.failures.length > 0) {
    error = deferredError(def, base.spec, handle.failures)
    failedStep = handle.failures.map((f) => f.step).join(',')
  }

  // Summarise into the kstatus conditions.
  status.observedGeneration = generation
  if (requestedAt !== undefined) status.lastHandledRequestAt = requestedAt
  const previousReady = findCondition(before.conditions, ConditionType.Ready)
  if (!error) {
    const ready = handle.readyOverride() ??
      def.readyMessage ?? { reason: Reason.Succeeded, message: 'Reconciliation succeeded' }
    base.setCondition(ConditionType.Ready, 'True', ready.reason, ready.message)
    removeCondition(conditions, ConditionType.Reconciling)
    removeCondition(conditions, ConditionType.Stalled)
  } else {
    const message = sanitizeMessage(error.message, secretValues)
    const partial = handle.failures.length > 0 && def.partialReason !== undefined
    base.setCondition(
      ConditionType.Ready,
      'False',
      partial ? (def.partialReason as string) : error.reason,
      message,
    )
    if (error.kind === 'stalling') {
      base.setCondition(ConditionType.Stalled, 'True', error.reason, message)
      removeCondition(conditions, ConditionType.Reconciling)
    } else {
      base.setCondition(ConditionType.Reconciling, 'True', Reason.ProgressingWithRetry, message)
      removeCondition(conditions, ConditionType.Stalled)
    }
  }
  handle.tidy()

  // Events tell of failures and recoveries: Ready=False whenever its reason changes, Ready=True
  // only after it was False. A first Ready is in the status, not worth an Event per object.
  const ready = findCondition(conditions, ConditionType.Ready)
  const changed = ready && (ready.status !== previousReady?.status || ready.reason !== previousReady?.reason)
  const recovered = ready?.status === 'True' && previousReady?.status === 'False'
  if (ready && changed && (ready.status !== 'True' || recovered)) {
    deps.writer.event(
      obj,
      ready.status === 'True' ? 'Normal' : 'Warning',
      ready.reason,
      ready.message,
      secretValues,
    )
  }
  if (error) {
    log.warn(
      {
        ...(failedStep !== undefined ? { step: failedStep } : {}),
        reason: error.reason,
        kind: error.kind,
        err: sanitizeMessage(error.message, secretValues),
      },
      'reconcile failed',
    )
  } else {
    log.debug('reconciled')
  }

  await deps.writer.writeStatus(obj, handle.written(), status, log)
  if (ctx) def.statusWritten?.(ctx)
  deps.metrics.setResourceConditions(def.kind.kind, namespace, name, conditions)

  if (error) return { error }
  const interval = def.interval(base.spec)
  const intervalMs = interval ? parseDuration(interval, 'spec.interval') : undefined
  const next = [
    handle.requeueAfter(),
    intervalMs === undefined ? undefined : withJitter(intervalMs, deps.jitter),
  ]
    .filter((v): v is number => v !== undefined)
    .reduce<number | undefined>((a, b) => (a === undefined ? b : Math.min(a, b)), undefined)
  return next === undefined ? {} : { requeueAfterMs: next }
}

async function readSecrets(
  names: readonly string[],
  namespace: string,
  source: SecretSource,
): Promise<ReadonlyMap<string, V1Secret | undefined>> {
  const unique = [...new Set(names)]
  const read = await Promise.all(unique.map((n) => source.read(namespace, n)))
  return new Map(unique.map((n, i) => [n, read[i]]))
}

function initState<Spec, Status extends CommonStatus, State>(
  def: ReconcilerDefinition<Spec, Status, State>,
  ctx: BaseContext<Spec, Status>,
): State {
  return (def.init ? def.init(ctx) : undefined) as State
}

/** Runs a step, logging its name and duration. */
async function timed(log: Logger, step: string, run: () => unknown): Promise<void> {
  const started = performance.now()
  let failed = true
  try {
    await run()
    failed = false
  } finally {
    const durationMs = Math.round(performance.now() - started)
    log.debug({ step, durationMs, ...(failed ? { failed } : {}) }, 'step finished')
  }
}

/**
 * The error that ends a reconcile in which only optional steps failed: the first that needs a
 * fix, else the first. One that needs a fix does not stall the object (its other parts work): it
 * is retried on the interval, and a fixed spec or Secret is picked up at once.
 */
function deferredError<Spec, Status extends CommonStatus, State>(
  def: ReconcilerDefinition<Spec, Status, State>,
  spec: Spec,
  failures: readonly { error: SwitchboardError }[],
): SwitchboardError {
  const errors = failures.map((f) => f.error)
  const error = errors.find((e) => e.kind === 'stalling') ?? (errors[0] as SwitchboardError)
  if (error.kind !== 'stalling') return error
  const interval = def.interval(spec)
  const retryMs = interval ? parseDuration(interval, 'spec.interval') : OPTIONAL_RETRY_MS
  return new WaitingError(error.reason, error.message, retryMs, {
    ...(error.field !== undefined ? { field: error.field } : {}),
  })
}
