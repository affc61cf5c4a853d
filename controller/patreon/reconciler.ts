/**
 * The PatreonIntegration reconciler. Steps:
 *
 * 1. `webhook`: publishes `status.webhook` (where Patreon's webhooks go) and `WebhookReady`;
 * 2. `connect`: reads the OAuth client and tokens from the Secret, gets an access token from the
 *    shared token lifecycle (`OAuthTokens`: cached, refreshed once, rotated tokens written back),
 *    reads the campaign and its tiers; `CredentialsValid`;
 * 3. `destinations`: every Destination named is ready;
 * 4. `sync`: when due (first sync, a new generation, `requested-at` — which is what a webhook
 *    sets — or the interval), every member page by page to every Destination; `Synced`.
 *
 * A revoked grant stalls with `TokenRevoked` (the Ready=False Event says what to do). With the
 * webhook server's public URL known, a Secret without a grant (no `refreshToken`) or with a
 * revoked one publishes a one-time connect link in `status.connect` instead
 * (`AuthorizationNeeded`); the creator's consent writes the tokens and the resource goes on by
 * itself (controller/runtime/connect-links.ts, docs/connect.md).
 */
import type { CoreV1Api } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  checkEndpoint,
  createPatreonClient,
  type EndpointPolicy,
  PATREON_TOKEN_PATH,
  PATREON_URL,
  type PatreonClient,
  Reason,
  type RetryPolicy,
  refreshGrant,
  rfc3339,
  StallingError,
  toSwitchboardError,
  WaitingError,
} from '../../connectors/index.ts'
import {
  defaultPatreonMemberFields,
  PatreonIntegrationKind,
  type PatreonIntegrationSpec,
  type PatreonIntegrationStatus,
  patreonCredentials,
  patreonProvider,
} from '../api/index.ts'
import type { DeliveryRegistry } from '../destination/index.ts'
import {
  type AccessToken,
  ConditionType,
  type ConnectLinks,
  isWritable,
  type OAuthCredential,
  OAuthTokens,
  parseDuration,
  REQUESTED_AT_ANNOTATION,
  type ReconcileContext,
  type ReconcilerDefinition,
  type SyncMetrics,
  withJitter,
} from '../runtime/index.ts'
import { type MemberMemory, syncMembers } from './sync.ts'
import { manageWebhook, removeWebhook } from './webhook.ts'

interface State {
  client?: PatreonClient
  /** The access token in use now (it may be refreshed during the sync). */
  token?: () => Promise<AccessToken>
  campaignId?: string
  tiers?: Awaited<ReturnType<PatreonClient['campaign']>>['tiers']
}

type Ctx = ReconcileContext<PatreonIntegrationSpec, PatreonIntegrationStatus, State>

export interface PatreonReconcilerOptions {
  core: CoreV1Api
  destinations: DeliveryRegistry
  metrics: SyncMetrics
  registry: Registry
  logger: Logger
  /** The process's token lifecycle (shared by every kind that uses OAuth user tokens). */
  tokens?: OAuthTokens
  publicUrl?: string | undefined
  http?: { timeoutMs?: number | undefined; retry?: RetryPolicy | undefined } | undefined
  endpoints?: EndpointPolicy | undefined
  jitter?: number | undefined
  /** The connect links of the process; without them a missing or revoked grant stalls. */
  connect?: ConnectLinks | undefined
}

export function patreonReconciler(
  opts: PatreonReconcilerOptions,
): ReconcilerDefinition<PatreonIntegrationSpec, PatreonIntegrationStatus, State> {
  const tokens = opts.tokens ?? new OAuthTokens({ core: opts.core, logger: opts.logger })
  opts.connect?.register('patreon', {
    kind: PatreonIntegrationKind,
    // a campaign named in the spec must be one the consenting creator owns
    verify: async ({ accessToken, tokenUrl, expect, signal }) => {
      if (!expect.campaignId) return undefined
      const client = createPatreonClient({
        endpoint: tokenUrl.slice(0, tokenUrl.length - PATREON_TOKEN_PATH.length),
        account: 'connect',
        accessToken: async () => accessToken,
        logger: opts.logger,
        metrics: opts.registry,
        ...(opts.http?.timeoutMs ? { timeoutMs: opts.http.timeoutMs } : {}),
      })
      const owned = await client.campaigns(signal ? { signal } : {})
      return owned.some((c) => c.id === expect.campaignId)
        ? undefined
        : `the account authorized does not own campaign ${expect.campaignId}`
    },
  })
  return {
    name: 'patreonintegration',
    kind: PatreonIntegrationKind,
    concurrency: 4,
    secretNames: (spec) => {
      const name = (spec as { credentialsSecretRef?: { name?: unknown } } | undefined)?.credentialsSecretRef
        ?.name
      return typeof name === 'string' ? [name] : []
    },
    references: (spec) =>
      ((spec as { destinationRefs?: Array<{ name?: unknown }> } | undefined)?.destinationRefs ?? [])
        .filter((r) => typeof r.name === 'string')
        .map((r) => ({ kind: 'Destination', name: r.name as string })),
    // the sync step schedules the next run from the last sync and the interval
    interval: () => undefined,
    readyMessage: { reason: Reason.Succeeded, message: 'Members synced' },
    init: () => ({}),
    steps: [
      { name: 'connect', run: (ctx) => connect(ctx, opts, tokens) },
      // a webhook only hints: when it cannot be managed, members still sync on the interval
      { name: 'webhook', run: (ctx) => manageWebhook(ctx, opts.core, opts.publicUrl), optional: true },
      { name: 'destinations', run: (ctx) => destinations(ctx, opts.destinations) },
      { name: 'sync', run: (ctx) => sync(ctx, opts) },
    ],
    // only a webhook to remove at Patreon needs the finalizer
    needsFinalizer: (spec) => {
      const s = spec as { manageWebhook?: unknown; deletionPolicy?: unknown } | undefined
      return s?.manageWebhook !== false && s?.deletionPolicy !== 'Orphan'
    },
    finalize: async (ctx) => {
      if (!ctx.spec.manageWebhook || ctx.spec.deletionPolicy === 'Orphan' || !ctx.status.patreonWebhook)
        return
      try {
        await connect(ctx, opts, tokens)
      } catch (err) {
        const e = toSwitchboardError(err)
        if (e.kind !== 'stalling') throw e
        // no way to reach Patreon any more (the Secret is gone, the grant revoked): let it go
        ctx.event(
          'Warning',
          Reason.CleanupIncomplete,
          `webhook ${ctx.status.patreonWebhook.id} left at Patreon: ${e.message}`,
        )
        return
      }
      await removeWebhook(ctx)
    },
    forget: (namespace, name) => opts.metrics.removeResource(PatreonIntegrationKind.kind, namespace, name),
  }
}

async function connect(ctx: Ctx, opts: PatreonReconcilerOptions, tokens: OAuthTokens): Promise<void> {
  const { spec } = ctx
  const { namespace } = ctx.obj.metadata
  const secretName = spec.credentialsSecretRef.name
  try {
    const creds = ctx.credentials(secretName, patreonCredentials as never) as {
      clientId: string
      clientSecret: string
    }
    const secret = ctx.secret(secretName)
    const endpoint = (spec.endpoint ?? PATREON_URL).replace(/\/+$/, '')
    if (spec.endpoint) checkEndpoint(opts.endpoints ?? {}, 'patreon', 'spec.endpoint', spec.endpoint)
    const credential: OAuthCredential = {
      namespace,
      secretName,
      refresh: (refreshToken, signal) =>
        refreshGrant({
          provider: 'patreon',
          tokenUrl: `${endpoint}${PATREON_TOKEN_PATH}`,
          clientId: creds.clientId,
          clientSecret: creds.clientSecret,
          refreshToken,
          logger: opts.logger.child({ patreon: `${namespace}/${ctx.obj.metadata.name}` }),
          metrics: opts.registry,
          ...(opts.http?.timeoutMs ? { timeoutMs: opts.http.timeoutMs } : {}),
          ...(signal ? { signal } : {}),
        }),
    }
    // the token for this reconcile; attempts after a 401 ask again (and get a refreshed one)
    const first = await tokens.get(credential, secret, ctx.signal)
    ctx.addSecretValue(first.token)
    if (first.expiresAt !== undefined) ctx.status.accessTokenExpiresAt = rfc3339(new Date(first.expiresAt))
    const client = ctx.memo('client', { endpoint, v: secret.metadata?.resourceVersion }, () =>
      createPatreonClient({
        endpoint,
        account: creds.clientId,
        accessToken: async () => (await tokens.get(credential, undefined)).token,
        onUnauthorized: (token) => tokens.reject(credential, token),
        logger: opts.logger.child({ patreon: `${namespace}/${ctx.obj.metadata.name}` }),
        metrics: opts.registry,
        ...(opts.http?.timeoutMs ? { timeoutMs: opts.http.timeoutMs } : {}),
        ...(opts.http?.retry ? { retry: opts.http.retry } : {}),
      }),
    )
    let campaignId = spec.campaignId
    if (!campaignId) {
      const owned = await client.campaigns({ signal: ctx.signal })
      campaignId = owned[0]?.id
      if (!campaignId) {
        throw new StallingError(
          Reason.InvalidSpec,
          "the token's owner has no Patreon campaign; set spec.campaignId or use a creator's token",
          { field: 'spec.campaignId' },
        )
      }
    }
    const { campaign, tiers } = await client.campaign(campaignId, { signal: ctx.signal })
    ctx.state.client = client
    ctx.state.token = () => tokens.get(credential, undefined)
    ctx.state.campaignId = campaignId
    ctx.state.tiers = tiers
    ctx.status.campaign = {
      id: campaign.id,
      ...(campaign.name ? { name: campaign.name.slice(0, 256) } : {}),
      ...(campaign.patronCount !== undefined ? { patronCount: campaign.patronCount } : {}),
      ...(campaign.url ? { url: campaign.url.slice(0, 2048) } : {}),
    }
    const entitled = new Map((ctx.status.tiers ?? []).map((t) => [t.id, t.entitledMembers]))
    ctx.status.tiers = tiers.slice(0, 100).map((t) => {
      const last = entitled.get(t.id)
      return {
        id: t.id,
        ...(t.title !== undefined ? { title: t.title.slice(0, 256) } : {}),
        ...(t.amountCents !== undefined ? { amountCents: t.amountCents } : {}),
        ...(t.patronCount !== undefined ? { patronCount: t.patronCount } : {}),
        ...(last !== undefined ? { entitledMembers: last } : {}),
      }
    })
    delete ctx.status.connect
    ctx.setCondition(
      ConditionType.CredentialsValid,
      'True',
      Reason.Succeeded,
      `Patreon accepted the token; campaign ${campaign.id}${campaign.name ? ` (${campaign.name})` : ''}`,
    )
  } catch (err) {
    let e = toSwitchboardError(err)
    const noGrant =
      e.reason === Reason.TokenRevoked || (e.reason === Reason.SecretKeyMissing && e.field === 'refreshToken')
    if (noGrant && opts.connect?.enabled) e = await authorizationNeeded(ctx, opts, e.reason)
    if (
      e.kind === 'stalling' ||
      e.reason === Reason.Unauthorized ||
      e.reason === Reason.AuthorizationNeeded
    ) {
      ctx.setCondition(ConditionType.CredentialsValid, 'False', e.reason, e.message)
    }
    throw e
  }
}

/** Publishes a connect link for a resource without a (live) grant; the error to end the reconcile with. */
async function authorizationNeeded(ctx: Ctx, opts: PatreonReconcilerOptions, why: string) {
  const { spec } = ctx
  const { namespace, name, uid } = ctx.obj.metadata
  const secretName = spec.credentialsSecretRef.name
  // a direct read: the Secret cache holds no labels
  const secret = await opts.core.readNamespacedSecret({ namespace, name: secretName })
  if (!isWritable(secret)) {
    delete ctx.status.connect
    return new StallingError(
      Reason.SecretNotWritable,
      `Patreon needs the creator's authorization, and the tokens go into Secret "${secretName}": add the label switchboard.dev/controller-writable=true to it, and a connect link is published in status.connect`,
      { field: 'metadata.labels.switchboard.dev/controller-writable' },
    )
  }
  const oauth = patreonProvider.oauth
  const creds = ctx.credentials(secretName, patreonCredentials as never) as { clientId: string }
  const base = (spec.endpoint ?? oauth.baseUrl).replace(/\/+$/, '')
  const fields = spec.memberFields ?? defaultPatreonMemberFields
  const scopes = oauth.scopes.filter(
    (s) =>
      (s !== 'campaigns.members[email]' || fields.includes('email')) &&
      (s !== 'w:campaigns.webhook' || spec.manageWebhook),
  )
  const link = await opts.connect?.ensure({
    kind: PatreonIntegrationKind,
    provider: 'patreon',
    namespace,
    name,
    uid: uid ?? '',
    secretName,
    clientId: creds.clientId,
    authorizeUrl: `${base}${oauth.authorizePath}`,
    tokenUrl: `${base}${oauth.tokenPath}`,
    scopes,
    pkce: oauth.pkce,
    clientAuth: oauth.clientAuth,
    ...(spec.campaignId ? { expect: { campaignId: spec.campaignId } } : {}),
    current: ctx.obj.status?.connect,
  })
  if (!link) throw new StallingError(Reason.Internal, 'connect links without a public URL')
  ctx.status.connect = link
  const message = `${why === Reason.TokenRevoked ? 'Patreon refused the grant (revoked)' : `Secret "${secretName}" holds no grant yet`}: the creator opens status.connect.url (until ${link.expiresAt}) and allows access`
  // back when the link expires, to publish a new one
  return new WaitingError(
    Reason.AuthorizationNeeded,
    message,
    Math.max(1_000, Date.parse(link.expiresAt) - Date.now()),
  )
}

function destinations(ctx: Ctx, registry: DeliveryRegistry): void {
  const { namespace } = ctx.obj.metadata
  const missing = ctx.spec.destinationRefs.filter((d) => !registry.has(namespace, d.name)).map((d) => d.name)
  for (const d of missing) registry.notifyWhenReady(namespace, d, ctx.obj.metadata.name)
  if (missing.length > 0) {
    const message = `Destination ${missing.map((m) => `"${m}"`).join(', ')} not found or not ready in namespace "${namespace}"`
    ctx.setCondition(ConditionType.Synced, 'False', Reason.DestinationNotFound, message)
    throw new WaitingError(Reason.DestinationNotFound, message, 60_000)
  }
}

function isDue(ctx: Ctx, intervalMs: number): boolean {
  const st = ctx.status
  if (!st.lastSyncTime) return true
  if (st.observedGeneration !== ctx.obj.metadata.generation) return true
  const synced = ctx.obj.status?.conditions?.find((c) => c.type === ConditionType.Synced)
  if (synced?.status !== 'True') return true
  const requested = ctx.obj.metadata.annotations?.[REQUESTED_AT_ANNOTATION]
  if (requested !== undefined && requested !== st.lastHandledRequestAt) return true
  return Date.now() + 1_000 >= Date.parse(st.lastSyncTime) + intervalMs
}

async function sync(ctx: Ctx, opts: PatreonReconcilerOptions): Promise<void> {
  const { client, campaignId, tiers } = ctx.state
  if (!client || !campaignId || !tiers)
    throw new StallingError(Reason.Internal, 'the sync step ran without a client')
  const { namespace, name } = ctx.obj.metadata
  const intervalMs = parseDuration(ctx.spec.interval, 'spec.interval')
  const schedule = () => {
    const last = ctx.status.lastSyncTime ? Date.parse(ctx.status.lastSyncTime) : Date.now()
    ctx.requeueAfter(withJitter(Math.max(1_000, last + intervalMs - Date.now()), opts.jitter ?? 0.1))
  }
  if (!isDue(ctx, intervalMs)) {
    schedule()
    return
  }
  const fields = ctx.spec.memberFields ?? defaultPatreonMemberFields
  // digests of what every destination acknowledged, for this campaign and these fields
  const memory = ctx.memo<MemberMemory>(
    'members',
    { campaignId, fields: [...fields].sort() },
    () => new Map(),
  )
  const deliverers = ctx.spec.destinationRefs.map((d) => opts.destinations.get(namespace, d.name))
  const started = performance.now()
  if (!ctx.status.lastSyncTime || ctx.status.observedGeneration !== ctx.obj.metadata.generation) {
    ctx.setCondition(ConditionType.Reconciling, 'True', Reason.Progressing, 'sync in progress')
  }
  const kind = PatreonIntegrationKind.kind
  try {
    const result = await syncMembers({
      client,
      campaignId,
      tiers,
      fields,
      pageSize: ctx.spec.pageSize,
      deliverers,
      memory,
      signal: ctx.signal,
    })
    const durationMs = Math.round(performance.now() - started)
    const finished = new Date()
    ctx.status.members = result.counts
    ctx.status.membersDelivered = result.delivered
    ctx.status.totalMembersDelivered = (ctx.status.totalMembersDelivered ?? 0) + result.delivered
    ctx.status.syncDurationMs = durationMs
    ctx.status.lastSyncTime = rfc3339(finished)
    ctx.status.tiers = (ctx.status.tiers ?? []).map((t) => ({
      ...t,
      entitledMembers: result.entitled.get(t.id) ?? 0,
    }))
    // the token may have been refreshed during the sync (cached: no request)
    const token = await ctx.state.token?.()
    if (token) ctx.addSecretValue(token.token)
    if (token?.expiresAt !== undefined) ctx.status.accessTokenExpiresAt = rfc3339(new Date(token.expiresAt))
    opts.metrics.records.inc(
      { kind, provider: 'patreon', stream: 'members', result: 'delivered' },
      result.delivered,
    )
    opts.metrics.duration.observe({ kind, provider: 'patreon', stream: 'members' }, durationMs / 1000)
    opts.metrics.succeeded(kind, namespace, name, 'members', finished, intervalMs)
    ctx.log.info(
      {
        members: result.counts.total,
        delivered: result.delivered,
        unchanged: result.unchanged,
        pages: result.pages,
        durationMs,
      },
      'members synced',
    )
    ctx.removeCondition(ConditionType.Degraded)
    ctx.setCondition(
      ConditionType.Synced,
      'True',
      Reason.Succeeded,
      `${result.counts.total} members read (${result.counts.activePatron} active patrons); ${result.delivered} new or changed delivered`,
    )
    schedule()
  } catch (err) {
    const e = toSwitchboardError(err)
    if (e.reason === Reason.RateLimited) {
      const message = `Patreon is rate limiting; the sync goes on in ${Math.ceil((e.retryAfterMs ?? 0) / 1000)}s`
      ctx.setCondition(ConditionType.Degraded, 'True', Reason.RateLimited, message)
    }
    if (e.reason === Reason.Unauthorized || e.reason === Reason.TokenRevoked) {
      ctx.setCondition(ConditionType.CredentialsValid, 'False', e.reason, e.message)
    }
    ctx.setCondition(ConditionType.Synced, 'False', e.reason, e.message)
    throw e
  }
}
