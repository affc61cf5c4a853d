import type { V1Secret } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { z } from 'zod'
import { parseSecretKeys, Reason, StallingError, sanitizeMessage } from '../../connectors/index.ts'
import { type Condition, removeCondition, setCondition, sortConditions } from './conditions.ts'
import type { BaseContext, CommonStatus, StepFailure, SwitchboardObject } from './definition.ts'
import { cloneJson } from './equal.ts'
import type { MemoStore } from './memo.ts'
import type { ObjectWriter } from './object-writer.ts'

export interface ContextDeps {
  /** The Secrets the object names (`secretNames`), read before the reconcile; undefined: absent. */
  secrets: ReadonlyMap<string, V1Secret | undefined>
  writer: ObjectWriter
  memo: MemoStore
  signal: AbortSignal
}

/** A reconcile context and what its steps asked of the runtime, read once the steps ran. */
export interface ContextHandle<Spec, Status extends CommonStatus> {
  ctx: BaseContext<Spec, Status>
  /** Values scrubbed from every message the runtime writes. */
  secretValues: Set<string>
  failures: StepFailure[]
  readyOverride(): { reason: string; message: string } | undefined
  requeueAfter(): number | undefined
  /** Scrubs secret values from the condition messages and orders the conditions. */
  tidy(): void
  /** The status last written (by a checkpoint), to diff the final write against. */
  written(): Status
}

/** Builds the context one reconcile of one object hands its steps. */
export function createContext<Spec, Status extends CommonStatus>(
  obj: SwitchboardObject<Spec, Status>,
  log: Logger,
  deps: ContextDeps,
): ContextHandle<Spec, Status> {
  const { namespace, name, uid = '' } = obj.metadata
  const objectKey = `${namespace}/${name}`
  const generation = obj.metadata.generation ?? 0
  const before = cloneJson(obj.status ?? ({} as Status))
  const status = cloneJson(before) as Status
  status.conditions = status.conditions ?? []
  const conditions: Condition[] = status.conditions
  const secretValues = new Set<string>()
  const failures: StepFailure[] = []
  let written = before
  let requeueAfter: number | undefined
  let readyOverride: { reason: string; message: string } | undefined

  const tidy = () => {
    for (const c of conditions) c.message = sanitizeMessage(c.message, secretValues)
    sortConditions(conditions)
  }

  const ctx: BaseContext<Spec, Status> = {
    obj,
    spec: obj.spec,
    status,
    log,
    signal: deps.signal,
    now: () => new Date(),
    failures,
    secret: (secretName) => {
      if (!deps.secrets.has(secretName)) {
        // A bug in the kind, not in the user's spec: its secretNames must list every Secret it reads.
        throw new Error(
          `Secret "${secretName}" is read but not among the Secrets the kind names (secretNames)`,
        )
      }
      const secret = deps.secrets.get(secretName)
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
    event: (type, reason, message) => deps.writer.event(obj, type, reason, message, secretValues),
    addSecretValue: (v) => {
      if (v) secretValues.add(v)
    },
    checkpoint: async () => {
      tidy()
      const snapshot = cloneJson(status)
      await deps.writer.writeStatus(obj, written, snapshot, log)
      written = snapshot
    },
    memo: (key, inputs, create, dispose) => deps.memo.get(objectKey, uid, key, inputs, create, dispose),
  }
  return {
    ctx,
    secretValues,
    failures,
    readyOverride: () => readyOverride,
    requeueAfter: () => requeueAfter,
    tidy,
    written: () => written,
  }
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
