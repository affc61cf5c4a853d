import type { KubernetesObject, V1ObjectMeta, V1Secret } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { z } from 'zod'
import type { SwitchboardError } from '../../connectors/index.ts'
import { requestedAtAnnotation } from '../api/index.ts'
import type { Condition } from './conditions.ts'
import type { EventType } from './events.ts'

/** The annotation that asks for a sync now; its value is echoed in `status.lastHandledRequestAt`. */
export const REQUESTED_AT_ANNOTATION = requestedAtAnnotation
/** The annotation whose new value asks for a full resync (cursors and sync tokens dropped). */
export const RESYNC_ANNOTATION = 'switchboard.dev/resync-requested-at'
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

/** An optional step that failed; the reconcile went on without it. */
export interface StepFailure {
  step: string
  error: SwitchboardError
}

/** What a reconcile context offers before the kind's per-reconcile state exists. */
export interface BaseContext<Spec, Status extends CommonStatus> {
  /** A private copy of the object as the cache had it. */
  readonly obj: SwitchboardObject<Spec, Status>
  /**
   * The spec, validated by the kind's zod schema (defaults applied). In `finalize`, a spec that no
   * longer parses is handed over as stored.
   */
  readonly spec: Spec
  /** The status being built; steps change it, the runtime writes it once at the end. */
  readonly status: Status
  readonly log: Logger
  readonly signal: AbortSignal
  readonly now: () => Date
  /**
   * A Secret in the object's namespace that the kind's `secretNames` lists (read before the steps
   * ran); a missing Secret stalls.
   */
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
  /**
   * A value kept for this object across reconciles (a provider client, an in-memory mirror):
   * `create` runs on first use and again whenever `inputs` (anything JSON can encode: a Secret's
   * resourceVersion, endpoints, settings) differ from those it was made from; the value it
   * replaces is handed to `dispose`. Every value of an object is disposed of and dropped when the
   * object goes (deleted, or recreated under the same name).
   */
  memo<T>(key: string, inputs: unknown, create: () => T, dispose?: (value: T) => void | Promise<void>): T
  /** Optional steps that failed so far in this reconcile. */
  readonly failures: readonly StepFailure[]
}

export interface ReconcileContext<Spec, Status extends CommonStatus, State = undefined>
  extends BaseContext<Spec, Status> {
  /** What the kind's `init` made for this reconcile; the steps share it. */
  readonly state: State
}

export interface Step<Spec, Status extends CommonStatus, State = undefined> {
  name: string
  run(ctx: ReconcileContext<Spec, Status, State>): Promise<void> | void
  /**
   * A failure of this step does not end the reconcile: the later steps run, and the failure ends
   * it afterwards (Ready=False, retried). A configuration error of an optional step does not stall
   * the object: it is retried on the interval, so that the parts that work keep working.
   */
  optional?: boolean
}

export interface ReconcilerDefinition<Spec, Status extends CommonStatus, State = undefined> {
  /** Controller name, used in metrics and logs (e.g. `destination`). */
  name: string
  kind: KindInfo
  /**
   * Makes the state the steps of one reconcile share, once the spec is parsed (also before
   * `finalize`). Without it, `ctx.state` is undefined.
   */
  init?(ctx: BaseContext<Spec, Status>): State
  /** Ordered steps; the first required one that throws ends the reconcile. */
  steps: Step<Spec, Status, State>[]
  /**
   * Names of the Secrets (same namespace) that the object uses, read from the raw spec: they are
   * read before each reconcile, and a change to one of them reconciles the object again.
   */
  secretNames(spec: unknown): string[]
  /**
   * Other Switchboard objects (same namespace) the object uses, by kind, read from the raw spec:
   * when one of them changes readiness, the object is reconciled again.
   */
  references?(spec: unknown): Array<{ kind: string; name: string }>
  /** Resync interval for a healthy object. */
  interval(spec: Spec): string | undefined
  /**
   * Cleans up what the object made at a provider before it goes. Only a kind with `finalize` gets
   * a finalizer. It gets the parsed spec, defaults applied. The object's memo is dropped after it
   * succeeded. In-memory state is `forget`'s.
   */
  finalize?(ctx: ReconcileContext<Spec, Status, State>): Promise<void> | void
  /**
   * Whether this object needs the finalizer (read from the raw spec), for a kind whose objects
   * leave something behind only in some configurations (`deletionPolicy: Orphan` leaves it on
   * purpose). Default: every object of a kind with `finalize`.
   */
  needsFinalizer?(spec: unknown): boolean
  /** Called after the status of a reconcile was written (or needed no write). */
  statusWritten?(ctx: ReconcileContext<Spec, Status, State>): void
  /** Marks the status of a suspended object (no steps run), e.g. a phase `Paused`. */
  suspended?(status: Status): void
  /** Called once an object is gone, to drop in-memory state the memo does not hold. */
  forget?(namespace: string, name: string): void
  /** Default Ready=True reason/message when no step set them. */
  readyMessage?: { reason: string; message: string }
  /**
   * Ready=False reason of a reconcile in which only optional steps failed (the steps' own
   * conditions keep the errors). Without it, Ready carries the reason of the first failure.
   */
  partialReason?: string
  concurrency?: number
  backoff?: { baseDelayMs?: number; maxDelayMs?: number }
}

export function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`
}
