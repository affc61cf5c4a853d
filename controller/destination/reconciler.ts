import type { Logger } from 'pino'
import { z } from 'zod'
import {
  checkEndpoint,
  createHttpDeliverer,
  createPostgresDeliverer,
  createSegmentDeliverer,
  type Deliverer,
  type EndpointPolicy,
  type PostgresConnection,
  parsePostgresUrl,
  Reason,
  StallingError,
  SwitchboardError,
  toSwitchboardError,
} from '../../connectors/index.ts'
import {
  DestinationKind,
  type DestinationSpec,
  type DestinationStatus,
  httpSigningSecretKey,
  type PostgresDestination,
  postgresSecretKeys,
  segmentWriteKeyKey,
} from '../api/index.ts'
import type { ReconcileContext, ReconcilerDefinition } from '../runtime/index.ts'
import { ConditionType, parseDuration } from '../runtime/index.ts'
import type { DeliveryDelta, DeliveryRegistry } from './registry.ts'

/** What the steps of one reconcile hand on. */
interface State {
  /** The delta this reconcile put into status, committed once the status write went through. */
  delta?: DeliveryDelta
}

type Ctx = ReconcileContext<DestinationSpec, DestinationStatus, State>

/** Keys the Secret of a Segment destination must have. */
export const segmentCredentials = z.object({
  [segmentWriteKeyKey]: z.string().min(1, 'must not be empty').regex(/^\S+$/, 'must not contain whitespace'),
})

/** Keys the Secret of an HTTP destination must have. */
export const httpCredentials = z.object({
  [httpSigningSecretKey]: z.string().min(16, 'must be at least 16 characters long'),
})

/**
 * Keys the Secret of a Postgres destination must have: `url`, or `host`, `database`, `user` and
 * `password` (with an optional `port`); `ca.crt` optionally, for sslMode verify-ca / verify-full.
 */
export const postgresCredentials = z
  .object({
    [postgresSecretKeys.url]: z.string().min(1, 'must not be empty').optional(),
    [postgresSecretKeys.host]: z.string().min(1, 'must not be empty').optional(),
    [postgresSecretKeys.port]: z
      .string()
      .regex(/^[0-9]{1,5}$/, 'must be a port number')
      .optional(),
    [postgresSecretKeys.database]: z.string().min(1, 'must not be empty').optional(),
    [postgresSecretKeys.user]: z.string().min(1, 'must not be empty').optional(),
    [postgresSecretKeys.password]: z.string().optional(),
    [postgresSecretKeys.ca]: z
      .string()
      .includes('-----BEGIN CERTIFICATE-----', { message: 'must be PEM' })
      .optional(),
  })
  .superRefine((v, issue) => {
    if (v.url) return
    // Without a URL, the parts; a missing one is named (as "url" when there is nothing at all).
    const need = v.host ? (['database', 'user', 'password'] as const) : (['url'] as const)
    for (const key of need) {
      if (v[key] === undefined) issue.addIssue({ code: 'custom', path: [key], message: 'is required' })
    }
  }) as unknown as z.ZodType<Record<string, string>>

export const CredentialsValid = ConditionType.CredentialsValid

interface DelivererEntry {
  deliverer: Deliverer
  /** Whether it is in the registry (a Postgres destination only once its check passed). */
  installed: boolean
  /** When its check last passed (ms). */
  checkedAt?: number
}

export interface DestinationReconcilerOptions {
  registry: DeliveryRegistry
  logger: Logger
  /** Where a Segment write key may be sent. Default: Segment's own hosts only. */
  endpoints?: EndpointPolicy
}

/**
 * The Destination reconciler: checks the Secret, (re)builds the deliverer when the spec or the
 * Secret changed (kept in the object's memo, installed in the registry that integrations deliver
 * through), and writes the delivery counters that integrations produced since last time.
 */
export function destinationReconciler(
  opts: DestinationReconcilerOptions,
): ReconcilerDefinition<DestinationSpec, DestinationStatus, State> {
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
    readyMessage: { reason: Reason.Succeeded, message: 'Destination is ready to receive records' },
    init: () => ({}),
    steps: [
      { name: 'configure', run: (ctx) => configure(ctx, registry, opts.logger, opts.endpoints ?? {}) },
      { name: 'report', run: (ctx) => report(ctx, registry) },
    ],
    statusWritten: (ctx) => {
      const { delta } = ctx.state
      if (delta) registry.commitDelta(ctx.obj.metadata.namespace, ctx.obj.metadata.name, delta)
    },
    forget: (namespace, name) => {
      void registry.remove(namespace, name)
    },
  }
}

/**
 * Disposes of a replaced deliverer the registry never had (its check never passed); the registry
 * closes the ones it replaces. A module-level function: the memo keeps it as long as the
 * deliverer, and a closure made in `configure` would keep that reconcile's context (and the
 * credentials read in it) alive with it.
 */
function closeUninstalled(old: DelivererEntry): void {
  if (!old.installed) void old.deliverer.close().catch(() => {})
}

async function configure(
  ctx: Ctx,
  registry: DeliveryRegistry,
  logger: Logger,
  endpoints: EndpointPolicy,
): Promise<void> {
  const { spec } = ctx
  const { namespace, name } = ctx.obj.metadata
  const secretName = spec.credentialsSecretRef.name
  ctx.status.type = spec.segment ? 'segment' : spec.http ? 'http' : 'postgres'
  let credentials: Record<string, string>
  try {
    credentials = spec.segment
      ? ctx.credentials(secretName, segmentCredentials)
      : spec.http
        ? ctx.credentials(secretName, httpCredentials)
        : ctx.credentials(secretName, postgresCredentials)
  } catch (err) {
    if (err instanceof SwitchboardError) ctx.setCondition(CredentialsValid, 'False', err.reason, err.message)
    throw err
  }
  // the write key goes to this host: Segment's own, or one the controller allows
  if (spec.segment?.host) checkEndpoint(endpoints, 'segment', 'spec.segment.host', spec.segment.host)
  const secret = ctx.secret(secretName)
  // A new deliverer when the spec or the Secret changed; the registry closes the one it replaces
  // once its batches finished, and drops it when the Destination goes.
  const inputs = {
    segment: spec.segment,
    http: spec.http,
    postgres: spec.postgres,
    secret: secret.metadata?.resourceVersion,
  }
  const connection = spec.postgres ? postgresConnection(credentials, secretName) : undefined
  const entry = ctx.memo<DelivererEntry>(
    'deliverer',
    inputs,
    () => {
      const log = logger.child({ destination: `${namespace}/${name}` })
      let deliverer: Deliverer
      if (spec.segment) {
        deliverer = createSegmentDeliverer({
          writeKey: credentials[segmentWriteKeyKey] ?? '',
          host: spec.segment.host,
          path: spec.segment.path,
          maxRetries: spec.segment.maxRetries,
          timeoutMs: parseDuration(spec.segment.timeout, 'spec.segment.timeout'),
          logger: log,
        })
      } else if (spec.http) {
        deliverer = createHttpDeliverer({
          url: spec.http.url,
          signingSecret: credentials[httpSigningSecretKey] ?? '',
          signatureHeader: spec.http.signatureHeader,
          batchSize: spec.http.batchSize,
          maxRetries: spec.http.maxRetries,
          timeoutMs: parseDuration(spec.http.timeout, 'spec.http.timeout'),
          logger: log,
        })
      } else if (spec.postgres && connection) {
        deliverer = postgresDeliverer(spec.postgres, connection, credentials, log)
      } else {
        throw new StallingError(
          Reason.InvalidSpec,
          'exactly one of spec.segment, spec.http or spec.postgres must be set',
          {
            field: 'spec',
          },
        )
      }
      ctx.log.info({ type: ctx.status.type }, 'deliverer configured')
      return { deliverer, installed: false }
    },
    closeUninstalled,
  )
  // A destination that can be checked (Postgres: connect, prepare the tables) is offered to
  // integrations only once that passed; it is checked again every interval.
  const { deliverer } = entry
  if (deliverer.check) {
    const every = parseDuration(spec.interval, 'spec.interval')
    if (!entry.checkedAt || Date.now() - entry.checkedAt >= every || !entry.installed) {
      try {
        await deliverer.check(ctx.signal)
        entry.checkedAt = Date.now()
      } catch (err) {
        const e = toSwitchboardError(err)
        if (e.reason === Reason.Unauthorized) ctx.setCondition(CredentialsValid, 'False', e.reason, e.message)
        throw e
      }
    }
  }
  if (!entry.installed) {
    registry.set(namespace, name, deliverer)
    entry.installed = true
  }
  ctx.setCondition(
    CredentialsValid,
    'True',
    Reason.Succeeded,
    `Secret "${secretName}" has the keys this destination needs`,
  )
}

function postgresConnection(credentials: Record<string, string>, secretName: string): PostgresConnection {
  const k = postgresSecretKeys
  const url = credentials[k.url]
  if (url) {
    try {
      return parsePostgresUrl(url)
    } catch (err) {
      // the parser's message describes the rule, never the value
      throw new StallingError(
        Reason.InvalidCredentials,
        `Secret "${secretName}" key "${k.url}" ${err instanceof Error ? err.message : 'is invalid'}`,
        { field: k.url },
      )
    }
  }
  return {
    host: credentials[k.host] ?? '',
    port: Number(credentials[k.port] ?? 5432),
    database: credentials[k.database] ?? '',
    user: credentials[k.user] ?? '',
    password: credentials[k.password] ?? '',
  }
}

function postgresDeliverer(
  spec: PostgresDestination,
  connection: PostgresConnection,
  credentials: Record<string, string>,
  logger: Logger,
): Deliverer {
  const ca = credentials[postgresSecretKeys.ca]
  return createPostgresDeliverer({
    connection,
    sslMode: spec.sslMode,
    ...(ca ? { ca } : {}),
    schema: spec.schema,
    tables: spec.tables,
    maxConnections: spec.maxConnections,
    timeoutMs: parseDuration(spec.timeout, 'spec.postgres.timeout'),
    logger,
  })
}

function report(ctx: Ctx, registry: DeliveryRegistry): void {
  const { namespace, name } = ctx.obj.metadata
  const delta = registry.peekDelta(namespace, name)
  if (!delta) return
  ctx.state.delta = delta
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
