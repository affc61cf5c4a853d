import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  type CasinoClient,
  type CasinoConnector,
  type CasinoProvider,
  casinoConnectors,
  checkEndpoint,
  comparePositions,
  type Deliverer,
  decodeCursor,
  type EndpointPolicy,
  Reason,
  type RetryPolicy,
  rfc3339,
  StallingError,
  type SwitchboardError,
  sanitizeMessage,
  toDeliveryRecord,
  toSwitchboardError,
  WaitingError,
} from '../../connectors/index.ts'
import {
  CasinoIntegrationKind,
  type CasinoIntegrationSpec,
  type CasinoIntegrationStatus,
  type CasinoStreamName,
  type CasinoStreamStatus,
  defaultStreamIntervals,
  ensureWebhookStatus,
  parseRequestedStreams,
  providerSettingsField,
  REQUESTED_STREAMS_ANNOTATION,
  readWebhookSecrets,
  webhookSecretKeys,
} from '../api/index.ts'
import type { DeliveryRegistry } from '../destination/index.ts'
import {
  Checkpointer,
  type CheckpointPolicy,
  ConditionType,
  parseDuration,
  REQUESTED_AT_ANNOTATION,
  RESYNC_ANNOTATION,
  type ReconcileContext,
  type ReconcilerDefinition,
  readAhead,
  type SyncMetrics,
  withJitter,
} from '../runtime/index.ts'

/** What the steps of one reconcile hand on. */
interface State {
  /** The platform client the connect step checked. */
  client?: ClientEntry
}

type Ctx = ReconcileContext<CasinoIntegrationSpec, CasinoIntegrationStatus, State>

export const CredentialsValid = ConditionType.CredentialsValid
/** Setting this annotation to a new value clears every stream's cursor: a full resync. */
export { RESYNC_ANNOTATION }
export const Synced = ConditionType.Synced
export const Degraded = ConditionType.Degraded

export interface CasinoReconcilerOptions {
  destinations: DeliveryRegistry
  metrics: SyncMetrics
  registry: Registry
  logger: Logger
  /** Jitter fraction for the next sync (default 0.1). */
  jitter?: number
  /** Public base URL of the webhook server: `status.webhook.url` is published under it. */
  publicUrl?: string
  /** HTTP tuning passed to the connectors (tests shorten timeouts). */
  http?: { timeoutMs?: number; retry?: RetryPolicy }
  /** Where credentials may be sent. Default: the platform's own host only. */
  endpoints?: EndpointPolicy
  /** How often a long sync writes its cursor (default every 10 pages or 2 s). */
  checkpoints?: Partial<CheckpointPolicy>
  /** Called after each page a sync delivered: the process may compact its heap (HeapSettler.during). */
  settleHeap?: () => void
}

interface ClientEntry {
  client: CasinoClient
  /** Whether the credentials were verified with this client (reset when the platform refuses them). */
  healthy: boolean
}

/**
 * The CasinoIntegration reconciler: checks the credentials (the platform's "test connection"),
 * then syncs each stream that is due, page by page from the connector to every Destination. A
 * page's cursor enters the status only after every destination acknowledged it, and the status is
 * written every few pages or seconds (`Checkpointer`), so a crash loses nothing and re-sends at
 * most the pages since the last write.
 */
export function casinoReconciler(
  opts: CasinoReconcilerOptions,
): ReconcilerDefinition<CasinoIntegrationSpec, CasinoIntegrationStatus, State> {
  return {
    name: 'casinointegration',
    kind: CasinoIntegrationKind,
    concurrency: 4,
    secretNames: (spec) => {
      const name = (spec as { credentialsSecretRef?: { name?: unknown } } | undefined)?.credentialsSecretRef
        ?.name
      return typeof name === 'string' ? [name] : []
    },
    references: (spec) => {
      const refs =
        (spec as { destinationRefs?: Array<{ name?: unknown }> } | undefined)?.destinationRefs ?? []
      return refs
        .filter((r) => typeof r.name === 'string')
        .map((r) => ({ kind: 'Destination', name: r.name as string }))
    },
    // The reconciler schedules itself from the streams' own intervals.
    interval: () => undefined,
    readyMessage: { reason: Reason.Succeeded, message: 'Every stream synced' },
    init: () => ({}),
    steps: [
      { name: 'webhook', run: (ctx) => webhook(ctx, opts.publicUrl) },
      { name: 'connect', run: (ctx) => connect(ctx, opts) },
      { name: 'destinations', run: (ctx) => destinations(ctx, opts.destinations) },
      { name: 'sync', run: (ctx) => syncDueStreams(ctx, opts) },
    ],
    // Nothing is made at the platform, so no finalizer: the platform client is in the object's
    // memo, which the runtime drops with the object, and `forget` drops the rest.
    forget: (namespace, name) => forget(namespace, name),
  }

  function forget(namespace: string, name: string) {
    opts.metrics.removeResource(CasinoIntegrationKind.kind, namespace, name)
  }
}

/**
 * Publishes where the platform's webhooks go (`status.webhook`) and whether they can be received.
 * Webhooks only hint that something changed, so a missing signing secret is reported here and
 * does not stop the syncs.
 */
function webhook(ctx: Ctx, publicUrl: string | undefined): void {
  const provider = ctx.spec.provider as CasinoProvider
  const hook = ensureWebhookStatus(ctx.status, { provider, ...(publicUrl ? { publicUrl } : {}) })
  const secretName = ctx.spec.credentialsSecretRef.name
  // the Secret keys that may hold the signing secret, as the provider's description declares them
  const keys = webhookSecretKeys(provider).signingSecret ?? []
  let data: Record<string, string> = {}
  try {
    data = ctx.secret(secretName).data ?? {}
  } catch {
    // a missing Secret is reported by the connect step
  }
  // the webhook server reads the same value the same way (trimmed; an empty key is no key)
  if (!readWebhookSecrets(data, { signingSecret: keys }, 'base64').signingSecret) {
    const empty = keys.filter((k) => data[k] !== undefined)
    ctx.setCondition(
      ConditionType.WebhookReady,
      'False',
      Reason.WebhookSecretMissing,
      empty.length > 0
        ? `Secret "${secretName}" key ${empty.map((k) => `"${k}"`).join(' and ')} is empty; webhooks cannot be verified; syncs run on their interval only`
        : `Secret "${secretName}" has no key ${keys.map((k) => `"${k}"`).join(' or ')} to verify webhooks; syncs run on their interval only`,
    )
    return
  }
  ctx.setCondition(
    ConditionType.WebhookReady,
    'True',
    Reason.Succeeded,
    hook.url
      ? `webhooks are received at ${hook.url}`
      : `webhooks are received at ${hook.path} (no public URL configured)`,
  )
}

function settingsOf(spec: CasinoIntegrationSpec): unknown {
  const field = providerSettingsField[spec.provider]
  const settings = (spec as Record<string, unknown>)[field]
  if (settings === undefined) {
    throw new StallingError(
      Reason.InvalidSpec,
      `spec.${field} must be set when provider is ${spec.provider}`,
      {
        field: `spec.${field}`,
      },
    )
  }
  return settings
}

async function connect(ctx: Ctx, opts: CasinoReconcilerOptions): Promise<void> {
  const { spec } = ctx
  const { namespace, name } = ctx.obj.metadata
  const key = `${namespace}/${name}`
  const connector = casinoConnectors[spec.provider as CasinoProvider] as CasinoConnector
  try {
    // spec.<field> was validated, defaults applied, by the kind's schema: the connector's own
    // settings schema (controller/api/providers), so there is nothing to parse again here
    const settings: unknown = settingsOf(spec)
    const credentials = ctx.credentials(spec.credentialsSecretRef.name, connector.credentials)
    const secret = ctx.secret(spec.credentialsSecretRef.name)
    const defaultEndpoint = connector.defaultEndpoint(settings)
    const endpoint = spec.endpoint ?? defaultEndpoint
    // the credentials go to this host: the platform's own, or one the controller allows
    if (spec.endpoint) {
      checkEndpoint(opts.endpoints ?? {}, spec.provider, 'spec.endpoint', spec.endpoint, [
        new URL(defaultEndpoint).host,
      ])
    }
    // A new client (credentials to verify again) when the settings, the endpoint or the Secret changed.
    const inputs = { p: spec.provider, s: settings, e: endpoint, v: secret.metadata?.resourceVersion }
    const entry = ctx.memo<ClientEntry>('client', inputs, () => ({
      healthy: false,
      client: connector.create({
        endpoint,
        credentials,
        settings,
        logger: opts.logger.child({ casino: key, provider: spec.provider }),
        metrics: opts.registry,
        http: opts.http,
      }),
    }))
    ctx.state.client = entry
    if (!entry.healthy) {
      await entry.client.healthCheck(ctx.signal)
      entry.healthy = true
      ctx.log.info({ provider: spec.provider }, 'credentials verified')
    }
    ctx.setCondition(CredentialsValid, 'True', Reason.Succeeded, `${spec.provider} accepted the credentials`)
  } catch (err) {
    const e = toSwitchboardError(err)
    if (e.kind === 'stalling' || e.reason === Reason.Unauthorized) {
      ctx.setCondition(CredentialsValid, 'False', e.reason, e.message)
    }
    throw e
  }
}

function destinations(ctx: Ctx, registry: DeliveryRegistry): void {
  const { namespace } = ctx.obj.metadata
  const missing = ctx.spec.destinationRefs.filter((d) => !registry.has(namespace, d.name)).map((d) => d.name)
  for (const d of missing) registry.notifyWhenReady(namespace, d, ctx.obj.metadata.name)
  if (missing.length > 0) {
    const message = `Destination ${missing.map((m) => `"${m}"`).join(', ')} not found or not ready in namespace "${namespace}"`
    ctx.setCondition(Synced, 'False', Reason.DestinationNotFound, message)
    // A Destination turning Ready re-enqueues this object; the wait is only a fallback.
    throw new WaitingError(Reason.DestinationNotFound, message, 60_000)
  }
}

function streamInterval(ctx: Ctx, name: CasinoStreamName): number {
  const s = ctx.spec.streams.find((x) => x.name === name)
  const value = s?.interval ?? ctx.spec.interval ?? defaultStreamIntervals[name]
  return parseDuration(value, `spec.streams[${name}].interval`)
}

function isDue(ctx: Ctx, st: CasinoStreamStatus | undefined, name: CasinoStreamName, now: number): boolean {
  if (!st?.lastSyncTime || st.lastError) return true
  const generationChanged = ctx.status.observedGeneration !== ctx.obj.metadata.generation
  const requested = ctx.obj.metadata.annotations?.[REQUESTED_AT_ANNOTATION]
  if (generationChanged || (requested !== undefined && requested !== ctx.status.lastHandledRequestAt))
    return true
  // a webhook named this stream after its last sync (the other streams keep their interval)
  const named = parseRequestedStreams(ctx.obj.metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION]).get(name)
  if (named !== undefined && named > Date.parse(st.lastSyncTime)) return true
  // Due a little early rather than a little late: the requeue already carries jitter.
  return now + 1_000 >= Date.parse(st.lastSyncTime) + streamInterval(ctx, name)
}

async function syncDueStreams(ctx: Ctx, opts: CasinoReconcilerOptions): Promise<void> {
  const { namespace } = ctx.obj.metadata
  const entry = ctx.state.client
  if (!entry) throw new StallingError(Reason.Internal, 'the sync step ran without a connected client')
  const status = ctx.status
  // Drop the status of streams no longer in the spec; keep the rest in spec order.
  const wanted = new Set(ctx.spec.streams.map((s) => s.name))
  status.streams = (status.streams ?? []).filter((s) => wanted.has(s.name))
  // An explicit full resync: forget every cursor and read again from startFrom.
  const resync = ctx.obj.metadata.annotations?.[RESYNC_ANNOTATION]
  const resyncing = resync !== undefined && resync !== status.lastHandledResyncAt
  if (resyncing) {
    for (const st of status.streams) {
      delete st.cursor
      delete st.lastSyncTime
    }
    ctx.log.info({ resync }, 'full resync requested: cursors cleared')
  }
  // A sync that is not a routine increment (new spec, first sync, full resync) says so while it
  // runs, so that kstatus readers do not take the old Ready for the new state.
  const firstSync = ctx.spec.streams.some((s) => !status.streams?.find((x) => x.name === s.name)?.cursor)
  if (resyncing || firstSync || ctx.status.observedGeneration !== ctx.obj.metadata.generation) {
    ctx.setCondition(
      ConditionType.Reconciling,
      'True',
      Reason.Progressing,
      resyncing ? 'full resync in progress' : 'sync in progress',
    )
  }
  const deliverers = ctx.spec.destinationRefs.map((d) => opts.destinations.get(namespace, d.name))

  let firstError: SwitchboardError | undefined
  let rateLimited: SwitchboardError | undefined
  for (const stream of ctx.spec.streams) {
    if (ctx.signal.aborted) break
    let st = status.streams.find((s) => s.name === stream.name)
    if (!isDue(ctx, st, stream.name, Date.now())) continue
    if (!st) {
      st = { name: stream.name }
      status.streams.push(st)
    }
    if (rateLimited) break
    const err = await syncStream(ctx, entry.client, deliverers, stream, st, opts, resyncing)
    if (err?.reason === Reason.RateLimited) rateLimited = err
    if (err) {
      if (err.reason === Reason.Unauthorized) {
        entry.healthy = false
        ctx.setCondition(CredentialsValid, 'False', err.reason, err.message)
      }
      firstError ??= err
      if (err.kind === 'stalling') break
    }
  }

  // The resync was handled (an error part-way leaves the new cursors, and the retry continues).
  if (resyncing) status.lastHandledResyncAt = resync

  // Schedule the next run from the streams' intervals.
  const now = Date.now()
  const nextDue = Math.min(
    ...ctx.spec.streams.map((s) => {
      const st = status.streams?.find((x) => x.name === s.name)
      const last = st?.lastSyncTime ? Date.parse(st.lastSyncTime) : now
      return last + streamInterval(ctx, s.name)
    }),
  )
  ctx.requeueAfter(withJitter(Math.max(1_000, nextDue - now), opts.jitter ?? 0.1))

  const total = status.streams.reduce((n, s) => n + (s.totalRecordsSynced ?? 0), 0)
  status.totalRecordsSynced = total
  if (rateLimited) {
    const message = `the platform is rate limiting; syncing continues in ${Math.ceil((rateLimited.retryAfterMs ?? 0) / 1000)}s: ${rateLimited.message}`
    ctx.setCondition(Degraded, 'True', Reason.RateLimited, message)
    ctx.setCondition(Synced, 'False', Reason.RateLimited, message)
    throw rateLimited
  }
  ctx.removeCondition(Degraded)
  if (firstError) {
    ctx.setCondition(Synced, 'False', firstError.reason, firstError.message)
    throw firstError
  }
  const lastSync = status.streams
    .map((s) => s.lastSuccessfulSyncTime)
    .filter((t): t is string => !!t)
    .sort()
    .at(-1)
  if (lastSync) status.lastSyncTime = lastSync
  ctx.setCondition(
    Synced,
    'True',
    Reason.Succeeded,
    `${status.streams.length} stream(s) synced; ${total} records delivered in total`,
  )
}

/**
 * Where a stream's sync starts. Normally the cursor in status, which advances only once every
 * destination acknowledged a page (at least once). When every destination commits the cursor in
 * the same transaction as the records (Postgres), the cursor those databases committed instead,
 * the oldest of them if there are several: a crash between a commit and the status write then
 * re-reads nothing, and a database that has nothing (new, or emptied) gets everything from
 * startFrom. With a full resync requested, nothing (everything is read again).
 */
async function resumeFrom(
  ctx: Ctx,
  deliverers: Deliverer[],
  integration: string,
  stream: CasinoStreamName,
  st: CasinoStreamStatus,
  resyncing: boolean,
): Promise<string | undefined> {
  const stores = deliverers.flatMap((d) => (d.cursors ? [d.cursors] : []))
  if (stores.length === 0 || stores.length < deliverers.length) return st.cursor
  if (resyncing) return undefined
  const committed = await Promise.all(stores.map((s) => s.read(integration, stream, ctx.signal)))
  const provider = ctx.spec.provider as CasinoProvider
  let oldest: { cursor: string; records: number; at: ReturnType<typeof decodeCursor> } | undefined
  for (const c of committed) {
    if (c === undefined) return undefined
    const at = decodeCursor(provider, stream, c.cursor)
    if (!oldest || comparePositions(at, oldest.at) < 0) oldest = { ...c, at }
  }
  if (!oldest) return undefined
  if (oldest.cursor !== st.cursor) {
    ctx.log.info({ stream }, 'resuming from the cursor the destination database committed')
  }
  // the database's count of the records it committed: a page committed just before a crash, and
  // never checkpointed in status, is counted once
  st.totalRecordsSynced = oldest.records
  return oldest.cursor
}

/** How often a sync into destinations that keep their own cursors writes its progress to status. */
const PROGRESS_EVERY_MS = 2_000

/** Syncs one stream; returns its error instead of throwing so the other streams still run. */
async function syncStream(
  ctx: Ctx,
  client: CasinoClient,
  deliverers: Deliverer[],
  stream: CasinoIntegrationSpec['streams'][number],
  st: CasinoStreamStatus,
  opts: CasinoReconcilerOptions,
  resyncing: boolean,
): Promise<SwitchboardError | undefined> {
  const { namespace, name } = ctx.obj.metadata
  const provider = ctx.spec.provider
  const kind = CasinoIntegrationKind.kind
  const casinoKey = `${namespace}/${name}`
  const started = performance.now()
  let synced = 0
  let failed = 0
  let error: SwitchboardError | undefined
  const log = ctx.log.child({ stream: stream.name })
  const integration = `${kind}/${namespace}/${name}`
  // When every destination commits the cursor with its records, status only reports progress:
  // it is written every few seconds, whatever the number of pages. Otherwise the status cursor is
  // the one a sync resumes from, written every few pages or seconds (the Checkpointer's policy).
  const ownCursors = deliverers.length > 0 && deliverers.every((d) => d.cursors)
  const checkpoints = new Checkpointer(
    () => ctx.checkpoint(),
    ownCursors ? { everyPages: Number.MAX_SAFE_INTEGER, everyMs: PROGRESS_EVERY_MS } : opts.checkpoints,
  )
  try {
    const cursor = await resumeFrom(ctx, deliverers, integration, stream.name, st, resyncing)
    // The next page is read while this one is delivered (at most one ahead); one the sync stops
    // before handing over is aborted and dropped, and its cursor never enters the status.
    const reading = new AbortController()
    const pages = readAhead(
      client.read(stream.name, {
        ...(cursor ? { cursor } : {}),
        ...(stream.startFrom ? { startFrom: new Date(stream.startFrom) } : {}),
        lookbackMs: parseDuration(stream.lookback, `spec.streams[${stream.name}].lookback`),
        pageSize: stream.pageSize,
        signal: AbortSignal.any([ctx.signal, reading.signal]),
      }),
      { cancel: () => reading.abort() },
    )
    for await (const page of pages) {
      if (page.records.length > 0) {
        const records = page.records.map((r) => toDeliveryRecord(provider as CasinoProvider, casinoKey, r))
        try {
          // destinations that keep cursors commit the page's with its records
          const checkpoint = { integration, stream: stream.name, cursor: page.cursor }
          await Promise.all(deliverers.map((d) => d.deliver(records, { signal: ctx.signal, checkpoint })))
        } catch (err) {
          failed += records.length
          opts.metrics.records.inc({ kind, provider, stream: stream.name, result: 'failed' }, records.length)
          throw err
        }
        synced += records.length
        opts.metrics.records.inc({ kind, provider, stream: stream.name, result: 'delivered' }, records.length)
      }
      // Every destination acknowledged the page: commit its cursor, durably (in status; or, when
      // the destinations committed it themselves, in status every few seconds).
      st.cursor = page.cursor
      st.totalRecordsSynced = (st.totalRecordsSynced ?? 0) + page.records.length
      st.recordsSynced = synced
      if (page.records.length > 0) {
        await checkpoints.page()
        opts.settleHeap?.()
      }
      if (ctx.signal.aborted) break
    }
  } catch (err) {
    error = toSwitchboardError(err)
    log.warn({ reason: error.reason, records: synced }, 'stream sync failed')
  }
  try {
    // What was acknowledged since the last write, before the next stream starts.
    await checkpoints.flush()
  } catch (err) {
    error ??= toSwitchboardError(err)
  }
  const finished = new Date()
  const durationMs = Math.round(performance.now() - started)
  opts.metrics.duration.observe({ kind, provider, stream: stream.name }, durationMs / 1000)
  st.lastSyncTime = rfc3339(finished)
  st.recordsSynced = synced
  st.recordsFailed = failed
  st.totalRecordsFailed = (st.totalRecordsFailed ?? 0) + failed
  st.durationMs = durationMs
  if (error) {
    st.lastError = { reason: error.reason, message: sanitizeMessage(error.message), time: rfc3339(finished) }
  } else {
    delete st.lastError
    st.lastSuccessfulSyncTime = rfc3339(finished)
    opts.metrics.succeeded(kind, namespace, name, stream.name, finished, streamInterval(ctx, stream.name))
    log.info({ records: synced, durationMs }, 'stream synced')
  }
  return error
}
