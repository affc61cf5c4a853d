import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  type BudgetRegistry,
  type CalendarEvent,
  type EndpointPolicy,
  Reason,
  type RetryPolicy,
  rfc3339,
  type SwitchboardError,
  sanitizeMessage,
  toSwitchboardError,
} from '../../connectors/index.ts'
import {
  type CalendarDriftEntry,
  CalendarSyncKind,
  type CalendarSyncSpec,
  type CalendarSyncStatus,
  type CalendarTargetStatus,
  calendarStatusLimits,
} from '../api/index.ts'
import {
  ConditionType,
  parseDuration,
  RESYNC_ANNOTATION,
  type ReconcileContext,
  type ReconcilerDefinition,
  type SyncMetrics,
} from '../runtime/index.ts'
import { Announced, announceEvents, announceTargets } from './announce.ts'
import { CalendarClients, digest, secretFor } from './clients.ts'
import { buildFeedEvents } from './feed.ts'
import { readFreeBusy } from './freebusy.ts'
import { type CalendarOAuthSettings, registerCalendarConnect } from './oauth.ts'
import { reconcilePush } from './push.ts'
import {
  type GoogleMirror,
  InviteeCache,
  inlineEvents,
  inWindow,
  knownTypes,
  readCalendlySource,
  readGoogleSource,
  type SyncWindow,
} from './sources.ts'
import { listCopies, syncTarget, type TargetSyncResult } from './targets.ts'

export const SourceReady = ConditionType.SourceReady
export const TargetsSynced = ConditionType.TargetsSynced
/** Setting this annotation to a new value drops the sync token: the next sync reads the source in full. */
export { Announced, RESYNC_ANNOTATION }

const KIND = CalendarSyncKind.kind

export interface CalendarReconcilerOptions extends CalendarOAuthSettings {
  logger: Logger
  /** Registry of the provider request metrics. */
  registry: Registry
  metrics: SyncMetrics
  /**
   * Public base URL of the webhook server (`https://hooks.example.com`). With it, Google source
   * calendars get a push channel pointing at `status.webhook.url`; without it, syncs run on the
   * interval alone.
   */
  publicUrl?: string | undefined
  /** HTTP tuning passed to the connectors (tests shorten timeouts). */
  http?: { timeoutMs?: number; retry?: RetryPolicy } | undefined
  /** Request budgets per provider account. Default the process-wide registry. */
  budgets?: BudgetRegistry | undefined
  /** Where credentials may be sent. Default: the providers' own hosts only. */
  endpoints?: EndpointPolicy | undefined
  /** Lifetime asked for a push channel. Default 7 days. */
  channelTtlMs?: number | undefined
  /** Push channels are replaced this long before they expire. Default 1 day. */
  channelRenewBeforeMs?: number | undefined
  /** The clock (tests). Default `() => new Date()`. */
  now?: (() => Date) | undefined
}

/** What a resource keeps in memory between reconciles (in its memo, dropped when it goes). */
interface Memory {
  mirror?: GoogleMirror
  invitees: InviteeCache
  push: { tokenDigest?: string }
}

/** What the steps of one reconcile hand each other. */
interface State {
  now: Date
  /** The sync window, set by the source step. */
  window: SyncWindow
  started: number
  /** The source events in the window, read by the source step. */
  events: Map<string, CalendarEvent>
  clients: CalendarClients
  memory: Memory
}

type Ctx = ReconcileContext<CalendarSyncSpec, CalendarSyncStatus, State>

/**
 * The CalendarSync reconciler. Steps, in order: read the source (incremental for Google), bring
 * every target in step (or compare, with Observe), publish the webhook path and keep the push
 * channel, read free/busy, rebuild the public feed, announce due events, and sum up. A failing
 * target, free/busy read or post does not stop the other steps; its error ends the reconcile
 * afterwards with Ready=False (they are optional steps): retried with backoff, or, for an error
 * that needs a fix (a target not shared, a page token refused), on the interval, so that the parts
 * that work keep working. Only a source that cannot be read stalls the resource.
 */
export function calendarReconciler(
  opts: CalendarReconcilerOptions,
): ReconcilerDefinition<CalendarSyncSpec, CalendarSyncStatus, State> {
  const clock = opts.now ?? (() => new Date())
  const clients = new CalendarClients({
    logger: opts.logger,
    registry: opts.registry,
    http: opts.http,
    budgets: opts.budgets,
    endpoints: opts.endpoints,
    core: opts.core,
    tokens: opts.tokens,
    connect: opts.connect,
  })
  registerCalendarConnect(clients.settings)
  const forget = (namespace: string, name: string) => opts.metrics.removeResource(KIND, namespace, name)

  return {
    name: 'calendarsync',
    kind: CalendarSyncKind,
    concurrency: 4,
    secretNames: secretNamesOf,
    interval: (spec) => spec.interval,
    readyMessage: { reason: Reason.Synced, message: 'The targets are in step with the source' },
    init: (ctx) => {
      const now = clock()
      return {
        now,
        window: { start: now.getTime(), end: now.getTime() },
        started: performance.now(),
        events: new Map(),
        clients,
        memory: ctx.memo<Memory>('memory', null, () => ({ invitees: new InviteeCache(), push: {} })),
      }
    },
    steps: [
      {
        name: 'source',
        run: async (ctx) => {
          const s = ctx.state
          s.window = {
            start: s.now.getTime() - parseDuration(ctx.spec.window.past, 'spec.window.past'),
            end: s.now.getTime() + parseDuration(ctx.spec.window.future, 'spec.window.future'),
          }
          s.events = await readSource(ctx, s)
        },
      },
      { name: 'targets', optional: true, run: (ctx) => syncTargets(ctx, ctx.state, opts) },
      {
        name: 'push',
        optional: true,
        run: async (ctx) => {
          const s = ctx.state
          const { renewInMs, error } = await reconcilePush(ctx, s.clients, {
            memory: s.memory.push,
            publicUrl: opts.publicUrl,
            channelTtlMs: opts.channelTtlMs,
            renewBeforeMs: opts.channelRenewBeforeMs,
            now: clock,
          })
          if (renewInMs !== undefined) ctx.requeueAfter(renewInMs)
          if (error) ctx.log.warn({ reason: error.reason, err: error.message }, 'push channel not open')
        },
      },
      { name: 'freeBusy', optional: true, run: (ctx) => freeBusy(ctx, ctx.state) },
      { name: 'publicFeed', run: (ctx) => publicFeed(ctx, ctx.state) },
      { name: 'announce', optional: true, run: (ctx) => announce(ctx, ctx.state) },
      { name: 'summary', run: (ctx) => summary(ctx, ctx.state, opts) },
    ],
    finalize: async (ctx) => {
      await cleanUp(ctx)
      forget(ctx.obj.metadata.namespace, ctx.obj.metadata.name)
    },
    forget,
  }
}

/** Every Secret the spec names (read from the raw spec, which may be invalid). */
export function secretNamesOf(raw: unknown): string[] {
  const names = new Set<string>()
  const add = (ref: unknown) => {
    const name = (ref as { name?: unknown } | undefined)?.name
    if (typeof name === 'string' && name) names.add(name)
  }
  const spec = (raw ?? {}) as Record<string, unknown>
  const at = (o: unknown, k: string) =>
    o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined
  add(spec.credentialsSecretRef)
  add(at(at(spec.source, 'googleCalendar'), 'credentialsSecretRef'))
  add(at(at(spec.source, 'calendly'), 'credentialsSecretRef'))
  for (const t of Array.isArray(spec.targets) ? spec.targets : []) add(at(t, 'credentialsSecretRef'))
  add(at(spec.freeBusy, 'credentialsSecretRef'))
  add(at(at(spec.announce, 'facebook'), 'credentialsSecretRef'))
  return [...names]
}

async function readSource(ctx: Ctx, s: State): Promise<Map<string, CalendarEvent>> {
  const { spec, status } = ctx
  const owner = `${ctx.obj.metadata.namespace}/${ctx.obj.metadata.name}`
  if (status.observedGeneration !== ctx.obj.metadata.generation) {
    ctx.setCondition(ConditionType.Reconciling, 'True', Reason.Progressing, 'sync in progress')
  }
  const resync = ctx.obj.metadata.annotations?.[RESYNC_ANNOTATION]
  if (resync !== undefined && resync !== status.lastHandledResyncAt) {
    delete s.memory.mirror
    if (status.source) delete status.source.syncToken
    status.lastHandledResyncAt = resync
    ctx.log.info({ resync }, 'full resync requested: sync token dropped')
  }
  const types = knownTypes(spec)
  const at = rfc3339(s.now)
  // published again below by the first part that still needs a user's authorization
  delete status.connect
  try {
    if (spec.source.googleCalendar) {
      const src = spec.source.googleCalendar
      const where = 'spec.source.googleCalendar'
      const secret = secretFor(spec, src.credentialsSecretRef, where)
      const previous = status.source?.kind === 'googleCalendar' ? status.source : undefined
      const result = await s.clients.withGoogleConnect(ctx, secret, where, () =>
        readGoogleSource({
          client: s.clients.google(ctx, secret, where, false).client,
          calendarId: src.calendarId,
          config: digest([src.calendarId, secret, spec.endpoints?.googleCalendar]),
          mirror: s.memory.mirror,
          savedToken: previous?.calendarId === src.calendarId ? previous.syncToken : undefined,
          window: s.window,
          owner,
          knownTypes: types,
          now: s.now.getTime(),
          signal: ctx.signal,
        }),
      )
      s.memory.mirror = result.mirror
      const events = new Map([...result.mirror.events].filter(([, e]) => inWindow(e, s.window)))
      const full = result.mode === 'Full'
      status.source = {
        kind: 'googleCalendar',
        calendarId: src.calendarId,
        events: events.size,
        syncTokenState: result.expired ? 'Expired' : result.mirror.token ? 'Valid' : 'None',
        lastSyncMode: result.mode,
        fullSyncs: (previous?.fullSyncs ?? 0) + (full ? 1 : 0),
        changes: result.changes,
        lastSyncTime: at,
      }
      if (result.mirror.token) status.source.syncToken = result.mirror.token
      const lastFull = full ? at : previous?.lastFullSyncTime
      if (lastFull) status.source.lastFullSyncTime = lastFull
      if (result.expired) {
        ctx.event(
          'Normal',
          Reason.SyncTokenExpired,
          `the sync token of "${src.calendarId}" expired: read it in full`,
        )
      }
      ctx.setCondition(
        SourceReady,
        'True',
        Reason.Read,
        `${events.size} event(s) in "${src.calendarId}" (${full ? 'full read' : `incremental: ${result.changes} change(s)`})`,
      )
      return events
    }
    if (spec.source.calendly) {
      const src = spec.source.calendly
      const where = 'spec.source.calendly'
      const client = await s.clients.calendlyFor(
        ctx,
        secretFor(spec, src.credentialsSecretRef, where),
        where,
        {
          organization: src.organization,
        },
      )
      const events = await readCalendlySource({
        client,
        organization: src.organization,
        visibility: src.visibility,
        window: s.window,
        invitees: wantsAttendees(ctx, s),
        cache: s.memory.invitees,
        knownTypes: types,
        signal: ctx.signal,
      })
      const previous = status.source?.kind === 'calendly' ? status.source : undefined
      status.source = {
        kind: 'calendly',
        events: events.size,
        syncTokenState: 'Unsupported',
        lastSyncMode: 'Full',
        lastFullSyncTime: at,
        fullSyncs: (previous?.fullSyncs ?? 0) + 1,
        lastSyncTime: at,
      }
      ctx.setCondition(SourceReady, 'True', Reason.Read, `${events.size} booking(s) read from Calendly`)
      return events
    }
    const all = inlineEvents(spec.source.events ?? [])
    const events = new Map([...all].filter(([, e]) => inWindow(e, s.window)))
    status.source = { kind: 'events', events: events.size, syncTokenState: 'Unsupported', lastSyncTime: at }
    ctx.setCondition(
      SourceReady,
      'True',
      Reason.Read,
      `${events.size} of ${all.size} inline event(s) in the sync window`,
    )
    return events
  } catch (err) {
    const e = toSwitchboardError(err)
    ctx.setCondition(SourceReady, 'False', e.reason, e.message)
    throw e
  }
}

/** Whether some internal target can carry attendees (then Calendly invitees are read). */
function wantsAttendees(ctx: Ctx, s: State): boolean {
  const observe = ctx.spec.managementPolicy === 'Observe'
  return ctx.spec.targets.some((t, i) => {
    if (t.visibility !== 'internal') return false
    try {
      const secret = secretFor(ctx.spec, t.credentialsSecretRef, `spec.targets[${i}]`)
      return s.clients.google(ctx, secret, `spec.targets[${i}]`, !observe).attendees
    } catch {
      return false
    }
  })
}

/** Brings every target in step; a failing target does not stop the others, and fails the step afterwards. */
async function syncTargets(ctx: Ctx, s: State, opts: CalendarReconcilerOptions): Promise<void> {
  const { spec, status } = ctx
  const owner = `${ctx.obj.metadata.namespace}/${ctx.obj.metadata.name}`
  const observe = spec.managementPolicy === 'Observe'
  const previous = status.targets ?? []
  const previousDrift = status.drift
  const at = rfc3339(s.now)
  const drift: CalendarDriftEntry[] = []
  let corrected = 0
  let writes = 0
  const failures: SwitchboardError[] = []
  const next: CalendarTargetStatus[] = []
  for (const [i, target] of spec.targets.entries()) {
    const where = `spec.targets[${i}]`
    const before = previous.find((p) => p.calendarId === target.calendarId)
    const progress: TargetSyncResult = {
      created: 0,
      updated: 0,
      deleted: 0,
      events: 0,
      drift: [],
      corrected: 0,
    }
    const ts: CalendarTargetStatus = {
      calendarId: target.calendarId,
      visibility: target.visibility,
      events: before?.events ?? 0,
      created: 0,
      updated: 0,
      deleted: 0,
      totalCreated: before?.totalCreated ?? 0,
      totalUpdated: before?.totalUpdated ?? 0,
      totalDeleted: before?.totalDeleted ?? 0,
      drift: 0,
    }
    if (before?.lastSyncTime) ts.lastSyncTime = before.lastSyncTime
    try {
      const secretName = secretFor(spec, target.credentialsSecretRef, where)
      await s.clients.withGoogleConnect(ctx, secretName, where, () => {
        const handle = s.clients.google(ctx, secretName, where, !observe)
        return syncTarget({
          client: handle.client,
          target,
          events: s.events,
          owner,
          attendees: handle.attendees,
          window: s.window,
          observe,
          signal: ctx.signal,
          progress,
        })
      })
      ts.events = progress.events
      ts.lastSyncTime = at
    } catch (err) {
      const e = toSwitchboardError(err)
      const message = `calendar "${target.calendarId}": ${e.message}`
      ts.lastError = { reason: e.reason, message: sanitizeMessage(message), time: at }
      failures.push(e)
      ctx.log.warn({ target: target.calendarId, reason: e.reason, err: e.message }, 'target sync failed')
    }
    ts.created = progress.created
    ts.updated = progress.updated
    ts.deleted = progress.deleted
    ts.totalCreated += progress.created
    ts.totalUpdated += progress.updated
    ts.totalDeleted += progress.deleted
    ts.drift = progress.drift.length
    writes += progress.created + progress.updated + progress.deleted
    drift.push(...progress.drift)
    corrected += progress.corrected
    next.push(ts)
  }
  if (next.length > 0) status.targets = next
  else delete status.targets

  const driftStatus: NonNullable<CalendarSyncStatus['drift']> = {
    count: drift.length,
    corrected: !observe,
    events: drift.slice(0, calendarStatusLimits.driftEvents),
    totalCorrected: (previousDrift?.totalCorrected ?? 0) + corrected,
  }
  const lastDetected = drift.length > 0 ? at : previousDrift?.lastDetectedTime
  if (lastDetected) driftStatus.lastDetectedTime = lastDetected
  status.drift = driftStatus
  const key = (d: CalendarDriftEntry) => `${d.calendarId}/${d.sourceEventId}/${d.kind}`
  const seen = new Set((previousDrift?.events ?? []).map(key))
  if (drift.some((d) => !seen.has(key(d)))) {
    const edited = drift.filter((d) => d.kind === 'EditedInTarget' || d.kind === 'DeletedInTarget').length
    ctx.event(
      'Warning',
      Reason.DriftDetected,
      observe
        ? `${drift.length} event(s) in the targets differ from the source (Observe: not corrected)`
        : `${edited} event(s) edited or deleted by hand in a target were restored from the source`,
    )
  }
  if (writes > 0) {
    opts.metrics.records.inc(
      { kind: KIND, provider: 'google-calendar', stream: 'events', result: 'delivered' },
      writes,
    )
  }

  const totals = next.reduce((t, x) => ({ c: t.c + x.created, u: t.u + x.updated, d: t.d + x.deleted }), {
    c: 0,
    u: 0,
    d: 0,
  })
  const failed = failures[0]
  if (failed) {
    const bad = next.find((t) => t.lastError)
    ctx.setCondition(TargetsSynced, 'False', failed.reason, bad?.lastError?.message ?? failed.message)
    // Other targets may have synced: the step fails (the reconcile goes on) with the error that
    // needs a fix, if any, else the first.
    throw failures.find((e) => e.kind === 'stalling') ?? failed
  }
  if (spec.targets.length === 0) {
    ctx.setCondition(TargetsSynced, 'True', Reason.NoTargets, 'no target calendars are configured')
  } else if (observe) {
    ctx.setCondition(
      TargetsSynced,
      drift.length === 0 ? 'True' : 'False',
      drift.length === 0 ? Reason.InStep : Reason.DriftObserved,
      drift.length === 0
        ? `${next.length} target(s) match the source (Observe)`
        : `${drift.length} difference(s) found in ${next.length} target(s); Observe: nothing written`,
    )
  } else {
    ctx.setCondition(
      TargetsSynced,
      'True',
      Reason.Synced,
      `${next.length} target(s) in step: ${totals.c} created, ${totals.u} updated, ${totals.d} deleted` +
        (corrected > 0 ? `; ${corrected} hand edit(s) restored` : ''),
    )
  }
}

/** Reads free/busy; a failure fails the step (the reconcile goes on). */
async function freeBusy(ctx: Ctx, s: State): Promise<void> {
  const fb = ctx.spec.freeBusy
  if (!fb) {
    delete ctx.status.freeBusy
    return
  }
  const where = 'spec.freeBusy'
  const secretName = secretFor(ctx.spec, fb.credentialsSecretRef, where)
  const next = await s.clients.withGoogleConnect(ctx, secretName, where, () =>
    readFreeBusy({
      client: s.clients.google(ctx, secretName, where, false).client,
      calendars: fb.calendars,
      aheadMs: parseDuration(fb.ahead, 'spec.freeBusy.ahead'),
      timeZone: fb.timeZone,
      now: s.now,
      signal: ctx.signal,
    }),
  )
  const prev = ctx.status.freeBusy
  // keep the time of the last change when nothing but the clock moved
  if (prev && JSON.stringify(prev.busy) === JSON.stringify(next.busy) && prev.timeMin === next.timeMin) {
    next.generatedAt = prev.generatedAt
  }
  ctx.status.freeBusy = next
}

function publicFeed(ctx: Ctx, s: State): void {
  const feed = ctx.spec.publicFeed
  if (!feed?.enabled) {
    delete ctx.status.publicFeed
    return
  }
  const events = buildFeedEvents(s.events.values(), {
    now: s.now,
    timeZone: feed.timeZone,
    max: feed.maxEvents,
  })
  const prev = ctx.status.publicFeed
  if (prev && prev.timeZone === feed.timeZone && JSON.stringify(prev.events) === JSON.stringify(events))
    return
  ctx.status.publicFeed = { timeZone: feed.timeZone, events, generatedAt: rfc3339(s.now) }
}

/** Posts due events; a failure fails the step (the reconcile goes on). */
async function announce(ctx: Ctx, s: State): Promise<void> {
  const fb = ctx.spec.announce?.facebook
  if (!fb) {
    ctx.removeCondition(Announced)
    return
  }
  const observe = ctx.spec.managementPolicy === 'Observe'
  const targets = announceTargets(fb).join(', ')
  let outcome: Awaited<ReturnType<typeof announceEvents>>
  try {
    const where = 'spec.announce.facebook'
    const client = observe
      ? undefined
      : s.clients.facebook(ctx, secretFor(ctx.spec, fb.credentialsSecretRef, where), where)
    outcome = await announceEvents({ ctx, client, spec: fb, events: s.events, observe, now: s.now })
  } catch (err) {
    const e = toSwitchboardError(err)
    ctx.setCondition(Announced, 'False', e.reason, e.message)
    throw e
  }
  if (outcome.error) {
    const e = outcome.error
    ctx.setCondition(Announced, 'False', e.reason, `posting to ${targets} failed: ${e.message}`)
    ctx.event('Warning', Reason.AnnouncementFailed, `posting to ${targets} failed: ${e.message}`)
    throw e
  }
  if (observe) {
    ctx.setCondition(
      Announced,
      'False',
      Reason.ObserveOnly,
      `managementPolicy is Observe: nothing is posted (${outcome.pending} event(s) would be announced)`,
    )
    return
  }
  const total = ctx.status.announcements?.total ?? 0
  ctx.setCondition(
    Announced,
    'True',
    Reason.Announced,
    `${total} post(s) made to ${targets}` +
      (outcome.pending > 0 ? `; ${outcome.pending} event(s) follow in the next sync` : '; nothing pending'),
  )
  if (outcome.pending > 0) ctx.requeueAfter(15_000)
}

function summary(ctx: Ctx, s: State, opts: CalendarReconcilerOptions): void {
  const { namespace, name } = ctx.obj.metadata
  const provider = ctx.spec.source.googleCalendar
    ? 'google-calendar'
    : ctx.spec.source.calendly
      ? 'calendly'
      : 'inline'
  opts.metrics.duration.observe(
    { kind: KIND, provider, stream: 'events' },
    (performance.now() - s.started) / 1000,
  )
  // An optional step failed: the runtime ends the reconcile with its error (one that needs a fix
  // is retried on the interval, so the parts that work keep working), and this was no full sync.
  if (ctx.failures.length > 0) return
  ctx.status.lastSyncTime = rfc3339(s.now)
  opts.metrics.succeeded(
    KIND,
    namespace,
    name,
    'events',
    s.now,
    parseDuration(ctx.spec.interval, 'spec.interval'),
  )
  const targets = ctx.spec.targets.length
  const drift = ctx.status.drift?.count ?? 0
  if (ctx.spec.managementPolicy === 'Observe') {
    ctx.ready(
      Reason.Observed,
      `${s.events.size} source event(s) compared with ${targets} target(s); ${drift} difference(s)`,
    )
  } else {
    ctx.ready(Reason.Synced, `${s.events.size} source event(s) in step in ${targets} target(s)`)
  }
}

/**
 * Before the resource goes: stop its push channels, and with `deletionPolicy: Delete` (and
 * `managementPolicy: Full`) delete every event it created in its targets. Provider errors that
 * may pass (network, 5xx, rate limits) are retried; configuration errors (a Secret already
 * gone, access revoked) cannot be fixed by waiting, so they are reported as a Warning event and
 * the resource is let go.
 */
async function cleanUp(ctx: Ctx): Promise<void> {
  // the runtime hands finalizers the parsed spec, defaults applied (as stored if it no longer parses)
  const { spec } = ctx
  const { clients } = ctx.state
  const owner = `${ctx.obj.metadata.namespace}/${ctx.obj.metadata.name}`
  const channels = ctx.status.webhook?.channels ?? []
  const notes: string[] = []
  const giveUp = (what: string, err: unknown) => {
    const e = toSwitchboardError(err)
    if (e.kind !== 'stalling') throw e
    notes.push(`${what}: ${e.message}`)
    ctx.event('Warning', Reason.CleanupIncomplete, `${what}: ${e.message}`)
  }
  if (channels.length > 0) {
    try {
      const src = spec.source?.googleCalendar
      const where = 'spec.source.googleCalendar'
      const client = src
        ? clients.google(ctx, secretFor(spec, src.credentialsSecretRef, where), where, false).client
        : undefined
      let stopped = 0
      for (const c of channels) {
        if (!client || !c.resourceId) continue
        // a stop that fails for a passing reason throws: the finalizer runs again
        await client.stopChannel({ id: c.id, resourceId: c.resourceId }, { signal: ctx.signal })
        stopped++
      }
      if (stopped > 0) notes.push(`${stopped} push channel(s) stopped`)
    } catch (err) {
      giveUp('push channels were not stopped (they end at their expiry)', err)
    }
  }
  if (spec.deletionPolicy === 'Delete' && spec.managementPolicy === 'Full') {
    let deleted = 0
    for (const [i, target] of (spec.targets ?? []).entries()) {
      const where = `spec.targets[${i}]`
      try {
        const { client } = clients.google(
          ctx,
          secretFor(spec, target.credentialsSecretRef, where),
          where,
          true,
        )
        const copies = await listCopies(client, target.calendarId, owner, undefined, ctx.signal)
        for (const c of copies) {
          if (!c.id || c.status === 'cancelled') continue
          await client.deleteEvent(target.calendarId, c.id, { signal: ctx.signal })
          deleted++
        }
      } catch (err) {
        giveUp(`events in "${target.calendarId}" were left in place`, err)
      }
    }
    notes.push(`${deleted} event(s) deleted from the targets`)
  } else {
    notes.push(
      `events in the targets left in place (deletionPolicy ${spec.deletionPolicy}, managementPolicy ${spec.managementPolicy})`,
    )
  }
  ctx.log.info({ notes }, 'cleaned up before deletion')
  ctx.event('Normal', Reason.CleanedUp, notes.join('; '))
}
