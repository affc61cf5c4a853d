import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { z } from 'zod'
import {
  createHttpDeliverer,
  createSegmentDeliverer,
  Reason,
  StallingError,
  SwitchboardError,
} from '../../connectors/index.ts'
import {
  DestinationKind,
  type DestinationSpec,
  type DestinationStatus,
  httpSigningSecretKey,
  segmentWriteKeyKey,
} from '../api/index.ts'
import type { ReconcileContext, ReconcilerDefinition } from '../runtime/index.ts'
import { parseDuration } from '../runtime/index.ts'
import type { DeliveryDelta, DeliveryRegistry } from './registry.ts'

type Ctx = ReconcileContext<DestinationSpec, DestinationStatus>

/** Keys the Secret of a Segment destination must have. */
export const segmentCredentials = z.object({
  [segmentWriteKeyKey]: z.string().min(1, 'must not be empty').regex(/^\S+$/, 'must not contain whitespace'),
})

/** Keys the Secret of an HTTP destination must have. */
export const httpCredentials = z.object({
  [httpSigningSecretKey]: z.string().min(16, 'must be at least 16 characters long'),
})

export const CredentialsValid = 'CredentialsValid'

export interface DestinationReconcilerOptions {
  registry: DeliveryRegistry
  logger: Logger
}

/**
 * The Destination reconciler: checks the Secret, (re)builds the deliverer when the spec or the
 * Secret changed, and writes the delivery counters that integrations produced since last time.
 */
export function destinationReconciler(
  opts: DestinationReconcilerOptions,
): ReconcilerDefinition<DestinationSpec, DestinationStatus> {
  const { registry } = opts
  return {
    name: 'destination',
    kind: DestinationKind,
    secretNames: (spec) => {
      const name = (spec as { credentialsSecretRef?: { name?: unknown } } | undefined)?.credentialsSecretRef
        ?.name
      return typeof name === 'string' ? [name] : []
    },
    interval: (spec) => spec.interval,
    readyMessage: { reason: 'Succeeded', message: 'Destination is ready to receive records' },
    steps: [
      { name: 'configure', run: (ctx) => configure(ctx, registry, opts.logger) },
      { name: 'report', run: (ctx) => report(ctx, registry) },
    ],
    finalize: async (ctx) => {
      await registry.remove(ctx.obj.metadata.namespace, ctx.obj.metadata.name)
    },
    statusWritten: (ctx) => {
      const delta = pending.get(ctx.obj)
      if (delta) registry.commitDelta(ctx.obj.metadata.namespace, ctx.obj.metadata.name, delta)
    },
    forget: (namespace, name) => {
      void registry.remove(namespace, name)
    },
  }
}

async function configure(ctx: Ctx, registry: DeliveryRegistry, logger: Logger): Promise<void> {
  const { spec } = ctx
  const { namespace, name } = ctx.obj.metadata
  const secretName = spec.credentialsSecretRef.name
  ctx.status.type = spec.segment ? 'segment' : 'http'
  let credentials: Record<string, string>
  try {
    credentials = spec.segment
      ? ctx.credentials(secretName, segmentCredentials)
      : ctx.credentials(secretName, httpCredentials)
  } catch (err) {
    if (err instanceof SwitchboardError) ctx.setCondition(CredentialsValid, 'False', err.reason, err.message)
    throw err
  }
  const secret = ctx.secret(secretName)
  const configHash = createHash('sha256')
    .update(
      JSON.stringify({ segment: spec.segment, http: spec.http, secret: secret.metadata?.resourceVersion }),
    )
    .digest('hex')
  if (registry.configHash(namespace, name) !== configHash) {
    const log = logger.child({ destination: `${namespace}/${name}` })
    if (spec.segment) {
      registry.set(
        namespace,
        name,
        createSegmentDeliverer({
          writeKey: credentials[segmentWriteKeyKey] ?? '',
          host: spec.segment.host,
          path: spec.segment.path,
          maxRetries: spec.segment.maxRetries,
          timeoutMs: parseDuration(spec.segment.timeout, 'spec.segment.timeout'),
          logger: log,
        }),
        configHash,
      )
    } else if (spec.http) {
      registry.set(
        namespace,
        name,
        createHttpDeliverer({
          url: spec.http.url,
          signingSecret: credentials[httpSigningSecretKey] ?? '',
          signatureHeader: spec.http.signatureHeader,
          batchSize: spec.http.batchSize,
          maxRetries: spec.http.maxRetries,
          timeoutMs: parseDuration(spec.http.timeout, 'spec.http.timeout'),
          logger: log,
        }),
        configHash,
      )
    } else {
      throw new StallingError(Reason.InvalidSpec, 'exactly one of spec.segment or spec.http must be set', {
        field: 'spec',
      })
    }
    ctx.log.info({ type: ctx.status.type }, 'deliverer configured')
  }
  ctx.setCondition(
    CredentialsValid,
    'True',
    'Succeeded',
    `Secret "${secretName}" has the keys this destination needs`,
  )
}

/** The delta each reconcile put into status, committed once the status write went through. */
const pending = new WeakMap<object, DeliveryDelta>()

function report(ctx: Ctx, registry: DeliveryRegistry): void {
  const { namespace, name } = ctx.obj.metadata
  const delta = registry.peekDelta(namespace, name)
  if (!delta) return
  pending.set(ctx.obj, delta)
  const d = { ...(ctx.status.delivery ?? {}) }
  if (delta.recordsDelivered || delta.recordsFailed || delta.batchesDelivered || delta.lastError) {
    d.recordsDelivered = (d.recordsDelivered ?? 0) + delta.recordsDelivered
    d.recordsFailed = (d.recordsFailed ?? 0) + delta.recordsFailed
    d.batchesDelivered = (d.batchesDelivered ?? 0) + delta.batchesDelivered
    if (delta.lastDeliveryTime) {
      d.lastDeliveryTime = delta.lastDeliveryTime
      ctx.status.lastSyncTime = delta.lastDeliveryTime
    }
    if (delta.lastError) d.lastError = delta.lastError
    if (!delta.failing) delete d.lastError
    ctx.status.delivery = d
  }
  if (delta.failing && d.lastError?.reason === Reason.Unauthorized) {
    throw new StallingError(
      Reason.Unauthorized,
      `the destination rejected the credentials: ${d.lastError.message}`,
    )
  }
}
