/**
 * The TwitchIntegration reconciler. Steps, in order:
 *
 * 1. `webhook`: the resource's webhook path and public URL (`status.webhook`), where EventSub
 *    calls it. A URL published for the first time is written before any subscription names it,
 *    so the webhook server knows the path when Twitch sends the callback verification.
 * 2. `connect`: the Secret's keys (`clientId`, `clientSecret`, `eventsubSecret`), the endpoints
 *    checked against the allowlist, the client (with its cached app token) kept in the memo.
 * 3. `resolve`: logins → user ids (Helix users, 100 a request), only for logins not resolved yet;
 *    an unknown login is `ChannelsResolved=False` for that login, the others go on.
 * 4. `notifications`: the stream notifications the webhook server left in `status.eventInbox`
 *    (by EventSub message id) applied to the channels in time order (as instants), each sent to
 *    the Destinations as a track event whose message id is the EventSub message id; an entry
 *    leaves the inbox once every Destination acknowledged it.
 * 5. `streams`: Helix streams (100 logins a request): live or not, title, game, viewers, start.
 *    This is what corrects a lost notification.
 * 6. `eventsub`: the subscriptions (every channel × `spec.events`, on `status.webhook.url`)
 *    listed and reconciled: missing ones created (a 409 is one that exists), ones revoked for
 *    failed deliveries or a failed verification made again, ones revoked by the broadcaster or
 *    for a removed user reported and left, ones for channels or events no longer in the spec
 *    deleted.
 *
 * Deletion: with `deletionPolicy: Delete` the finalizer deletes the resource's subscriptions at
 * Twitch; with `Orphan` there is no finalizer at all.
 */
import type { CoreV1Api } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  checkEndpoint,
  createTwitchClient,
  type DeliveryRecord,
  type EndpointPolicy,
  type EventSubSubscription,
  type HelixUser,
  parseTwitchCredentials,
  Reason,
  type RetryPolicy,
  refreshGrant,
  rfc3339,
  StallingError,
  TWITCH_AUTH_URL,
  TWITCH_SUBSCRIPTIONS_SCOPE,
  type TwitchClient,
  type TwitchUserToken,
  toSwitchboardError,
  validateTwitchUserToken,
  WaitingError,
} from '../../connectors/index.ts'
import {
  ensureWebhookStatus,
  type TwitchChannelStatus,
  TwitchIntegrationKind,
  type TwitchIntegrationSpec,
  type TwitchIntegrationStatus,
  type TwitchSubscriptionStatus,
  twitchProvider,
} from '../api/index.ts'
import type { DeliveryRegistry } from '../destination/index.ts'
import {
  ConditionType,
  type ConnectLinks,
  isWritable,
  type OAuthCredential,
  type OAuthTokens,
  REQUESTED_AT_ANNOTATION,
  type ReconcileContext,
  type ReconcilerDefinition,
} from '../runtime/index.ts'
import { compareInstants, toMillisIso } from './order.ts'

interface State {
  client?: TwitchClient
  /** Set when this reconcile published a new webhook URL (subscriptions wait one round). */
  published?: boolean
  /** channel.subscribe waits for the broadcaster's consent (a connect link is published). */
  awaitingGrant?: boolean
}

type Ctx = ReconcileContext<TwitchIntegrationSpec, TwitchIntegrationStatus, State>

export interface TwitchReconcilerOptions {
  destinations: DeliveryRegistry
  logger: Logger
  /** Where the provider request metrics go (the manager's registry). */
  registry?: Registry | undefined
  /** Public base URL of the webhook server; subscriptions call `status.webhook.url` under it. */
  publicUrl?: string | undefined
  endpoints?: EndpointPolicy | undefined
  http?: { timeoutMs?: number; retry?: RetryPolicy } | undefined
  /**
   * How long after a notification a Helix read that disagrees with it is not believed (Helix's
   * streams answer lags EventSub by up to a minute or two). Default 90 s.
   */
  helixLagMs?: number
  /** For the broadcaster's user token (channel.subscribe): Secret reads and the token lifecycle. */
  core?: CoreV1Api | undefined
  tokens?: OAuthTokens | undefined
  /** The connect links of the process; without them a Secret without a user grant is left as it is. */
  connect?: ConnectLinks | undefined
}

/** Statuses after which Switchboard makes the subscription again. */
const RECREATE = new Set(['notification_failures_exceeded', 'webhook_callback_verification_failed'])
/** Statuses that need the broadcaster or Twitch: reported, not made again until the spec changes. */
const REVOKED = new Set(['authorization_revoked', 'user_removed', 'moderator_removed', 'version_removed'])
const PENDING = 'webhook_callback_verification_pending'
/** Time given to a newly published path to reach the webhook server. */
const PUBLISH_DELAY_MS = 2_000
/** After a reconcile request, when the inbox is looked at again. */
const INBOX_LOOK_AGAIN_MS = 1_500
/** How long after a reconcile request the inbox is looked at that often. */
const INBOX_WATCH_MS = 15_000
/** The event names Destinations see. */
export const TWITCH_EVENT_NAMES: Record<string, string> = {
  'stream.online': 'Twitch Stream Online',
  'stream.offline': 'Twitch Stream Offline',
}

export function twitchReconciler(
  opts: TwitchReconcilerOptions,
): ReconcilerDefinition<TwitchIntegrationSpec, TwitchIntegrationStatus, State> {
  const helixLagMs = opts.helixLagMs ?? 90_000
  opts.connect?.register('twitch', {
    kind: TwitchIntegrationKind,
    // the broadcaster who consented must be one of the channels the resource names
    verify: async ({ accessToken, tokenUrl, expect, signal }) => {
      const logins = (expect.logins ?? '').split(',').filter(Boolean)
      if (logins.length === 0) return undefined
      const user = await validateTwitchUserToken({
        accessToken,
        authUrl: tokenUrl.slice(0, tokenUrl.length - twitchProvider.oauth.tokenPath.length),
        logger: opts.logger,
        metrics: opts.registry,
        timeoutMs: opts.http?.timeoutMs,
        signal,
      })
      return logins.includes(user.login.toLowerCase())
        ? undefined
        : `the Twitch account authorized (${user.login}) is not a channel in spec.channels`
    },
  })
  return {
    name: 'twitchintegration',
    kind: TwitchIntegrationKind,
    concurrency: 4,
    secretNames: (spec) => {
      const name = (spec as { credentialsSecretRef?: { name?: unknown } } | undefined)?.credentialsSecretRef
        ?.name
      return typeof name === 'string' && name ? [name] : []
    },
    references: (spec) => {
      const refs =
        (spec as { destinationRefs?: Array<{ name?: unknown }> } | undefined)?.destinationRefs ?? []
      return refs
        .map((r) => r.name)
        .filter((n): n is string => typeof n === 'string')
        .map((name) => ({ kind: 'Destination', name }))
    },
    interval: (spec) => spec.interval,
    readyMessage: { reason: Reason.Succeeded, message: 'The channels are tracked' },
    partialReason: Reason.ProgressingWithRetry,
    init: () => ({}),
    needsFinalizer: (spec) => (spec as { deletionPolicy?: unknown } | undefined)?.deletionPolicy !== 'Orphan',
    steps: [
      { name: 'webhook', run: (ctx) => webhook(ctx, opts.publicUrl) },
      { name: 'connect', run: (ctx) => connect(ctx, opts) },
      // the broadcaster's user token, for channel.subscribe; the channels are tracked without it
      { name: 'grant', run: (ctx) => grant(ctx, opts), optional: true },
      { name: 'resolve', run: (ctx) => resolve(ctx) },
      { name: 'notifications', run: (ctx) => notifications(ctx, opts.destinations), optional: true },
      { name: 'streams', run: (ctx) => streams(ctx, helixLagMs) },
      { name: 'eventsub', run: (ctx) => eventsub(ctx), optional: true },
      // an unknown login is a configuration error of that channel alone: reported last, the rest goes on
      { name: 'unresolved', run: (ctx) => unresolved(ctx), optional: true },
    ],
    finalize: async (ctx) => {
      if (ctx.spec.deletionPolicy === 'Orphan') return
      const path = ctx.status.webhook?.path
      if (!path) return
      let deleted = 0
      try {
        await connect(ctx, opts)
        const client = clientOf(ctx)
        for (const s of await client.subscriptions(ctx.signal)) {
          // every subscription on this resource's path, whatever public URL it was made under
          if (!s.transport.callback?.endsWith(path)) continue
          if (await client.deleteSubscription(s.id, ctx.signal)) deleted++
        }
      } catch (err) {
        const e = toSwitchboardError(err)
        // a passing failure is tried again; one that needs a user (the Secret deleted with the
        // namespace, refused credentials) must not keep the resource, and its namespace, forever
        if (e.kind !== 'stalling') throw e
        ctx.event(
          'Warning',
          Reason.CleanupIncomplete,
          `EventSub subscriptions were not deleted (${deleted} were): ${e.message}`,
        )
        return
      }
      ctx.log.info({ deleted }, 'EventSub subscriptions deleted')
      if (deleted > 0) ctx.event('Normal', Reason.CleanedUp, `${deleted} EventSub subscription(s) deleted`)
    },
  }
}

function webhook(ctx: Ctx, publicUrl: string | undefined): void {
  const before = ctx.obj.status?.webhook?.url
  const hook = ensureWebhookStatus(ctx.status, { provider: 'twitch', ...(publicUrl ? { publicUrl } : {}) })
  if (!hook.url) {
    ctx.setCondition(
      ConditionType.WebhookReady,
      'False',
      Reason.NoPublicUrl,
      'no public URL is configured for the webhook server: no EventSub subscriptions, channels are read every interval',
    )
    return
  }
  ctx.setCondition(ConditionType.WebhookReady, 'True', Reason.Published, `EventSub calls ${hook.url}`)
  if (hook.url !== before) ctx.state.published = true
}

async function connect(ctx: Ctx, opts: TwitchReconcilerOptions): Promise<void> {
  const secretName = ctx.spec.credentialsSecretRef.name
  try {
    const data: Record<string, string> = {}
    for (const [k, v] of Object.entries(ctx.secret(secretName).data ?? {})) {
      data[k] = Buffer.from(v, 'base64').toString('utf8')
    }
    const credentials = parseTwitchCredentials(data, `Secret "${secretName}"`)
    ctx.addSecretValue(credentials.clientSecret)
    ctx.addSecretValue(credentials.eventsubSecret)
    const api = ctx.spec.endpoints?.api
    const auth = ctx.spec.endpoints?.auth
    const policy = opts.endpoints ?? {}
    if (api) checkEndpoint(policy, 'twitch', 'spec.endpoints.api', api)
    if (auth) checkEndpoint(policy, 'twitch', 'spec.endpoints.auth', auth)
    const version = ctx.secret(secretName).metadata?.resourceVersion ?? ''
    ctx.state.client = ctx.memo('client', [version, api, auth], () =>
      createTwitchClient({
        credentials,
        apiUrl: api,
        authUrl: auth,
        logger: ctx.log,
        metrics: opts.registry,
        timeoutMs: opts.http?.timeoutMs,
        retry: opts.http?.retry,
      }),
    )
  } catch (err) {
    const e = toSwitchboardError(err)
    if (e.kind === 'stalling') ctx.setCondition(ConditionType.CredentialsValid, 'False', e.reason, e.message)
    throw e
  }
}

const SUBSCRIBE = 'channel.subscribe'

/**
 * The broadcaster's user token, when spec.events has channel.subscribe: taken from the Secret
 * (refreshed through the shared token lifecycle, rotated tokens written back) and validated at
 * Twitch once per access token, as Twitch asks. Without a grant (no `refreshToken`) or with a
 * revoked one, and with connect links on, a link is published in status.connect and
 * channel.subscribe waits (the channels are tracked meanwhile: the step is optional); without connect links the Secret is left as it is (the broadcaster may
 * have authorized the application some other way).
 */
async function grant(ctx: Ctx, opts: TwitchReconcilerOptions): Promise<void> {
  if (!ctx.spec.events.includes(SUBSCRIBE)) {
    delete ctx.status.broadcaster
    delete ctx.status.connect
    ctx.removeCondition(ConditionType.BroadcasterAuthorized)
    return
  }
  const secretName = ctx.spec.credentialsSecretRef.name
  const { namespace } = ctx.obj.metadata
  const secret = ctx.secret(secretName)
  const refreshToken = Buffer.from(secret.data?.refreshToken ?? '', 'base64')
    .toString('utf8')
    .trim()
  const auth = (ctx.spec.endpoints?.auth ?? TWITCH_AUTH_URL).replace(/\/+$/, '')
  const tokens = opts.tokens
  try {
    if (!refreshToken || !tokens) {
      if (!opts.connect?.enabled || !tokens) {
        delete ctx.status.connect
        return
      }
      throw new StallingError(Reason.SecretKeyMissing, `Secret "${secretName}" has no key "refreshToken"`, {
        field: 'refreshToken',
      })
    }
    const credentials = parseTwitchCredentials(decoded(secret), `Secret "${secretName}"`)
    const credential: OAuthCredential = {
      namespace,
      secretName,
      refresh: (token, signal) =>
        refreshGrant({
          provider: 'twitch',
          tokenUrl: `${auth}${twitchProvider.oauth.tokenPath}`,
          clientId: credentials.clientId,
          clientSecret: credentials.clientSecret,
          refreshToken: token,
          logger: ctx.log,
          metrics: opts.registry,
          ...(opts.http?.timeoutMs ? { timeoutMs: opts.http.timeoutMs } : {}),
          ...(signal ? { signal } : {}),
        }),
    }
    const token = await tokens.get(credential, secret, ctx.signal)
    ctx.addSecretValue(token.token)
    // validated once an hour per access token, as Twitch asks (a failed validation is not kept)
    const hour = Math.floor(ctx.now().getTime() / 3_600_000)
    const known = ctx.memo('broadcaster', [token.token, hour], () => ({
      user: undefined as TwitchUserToken | undefined,
    }))
    let user: TwitchUserToken
    try {
      user =
        known.user ??
        (await validateTwitchUserToken({
          accessToken: token.token,
          authUrl: auth,
          logger: ctx.log,
          metrics: opts.registry,
          timeoutMs: opts.http?.timeoutMs,
          signal: ctx.signal,
        }))
      known.user = user
    } catch (err) {
      const e = toSwitchboardError(err)
      if (e.reason !== Reason.Unauthorized) throw e
      // Twitch no longer knows the token: a new one from the refresh token, once
      tokens.reject(credential, token.token)
      const again = await tokens.get(credential, undefined, ctx.signal)
      ctx.addSecretValue(again.token)
      user = await validateTwitchUserToken({
        accessToken: again.token,
        authUrl: auth,
        logger: ctx.log,
        metrics: opts.registry,
        timeoutMs: opts.http?.timeoutMs,
        signal: ctx.signal,
      })
    }
    ctx.status.broadcaster = {
      login: user.login.slice(0, 25),
      userId: user.userId.slice(0, 64),
      scopes: user.scopes.slice(0, 64).map((s) => s.slice(0, 128)),
      ...(token.expiresAt !== undefined ? { accessTokenExpiresAt: rfc3339(new Date(token.expiresAt)) } : {}),
    }
    delete ctx.status.connect
    if (!user.scopes.includes(TWITCH_SUBSCRIPTIONS_SCOPE)) {
      const message = `the broadcaster ${user.login} did not grant ${TWITCH_SUBSCRIPTIONS_SCOPE}, which channel.subscribe needs: remove refreshToken from Secret "${secretName}" to get a new connect link`
      ctx.setCondition(ConditionType.BroadcasterAuthorized, 'False', Reason.InvalidCredentials, message)
      throw new StallingError(Reason.InvalidCredentials, message, { field: 'refreshToken' })
    }
    ctx.setCondition(
      ConditionType.BroadcasterAuthorized,
      'True',
      Reason.Succeeded,
      `the broadcaster ${user.login} authorized ${TWITCH_SUBSCRIPTIONS_SCOPE}`,
    )
  } catch (err) {
    let e = toSwitchboardError(err)
    const noGrant =
      e.reason === Reason.TokenRevoked || (e.reason === Reason.SecretKeyMissing && e.field === 'refreshToken')
    if (noGrant && opts.connect?.enabled) {
      delete ctx.status.broadcaster
      e = await authorizationNeeded(ctx, opts, e.reason, auth)
    }
    ctx.setCondition(ConditionType.BroadcasterAuthorized, 'False', e.reason, e.message)
    throw e
  }
}

function decoded(secret: { data?: Record<string, string> | undefined }): Record<string, string> {
  const data: Record<string, string> = {}
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8')
  return data
}

/** Publishes a connect link for the broadcaster's consent; the error to end the step with. */
async function authorizationNeeded(ctx: Ctx, opts: TwitchReconcilerOptions, why: string, auth: string) {
  const secretName = ctx.spec.credentialsSecretRef.name
  const { namespace, name, uid } = ctx.obj.metadata
  if (!opts.core || !opts.connect) throw new StallingError(Reason.Internal, 'connect links without a client')
  // a direct read: the Secret cache holds no labels
  const secret = await opts.core.readNamespacedSecret({ namespace, name: secretName })
  if (!isWritable(secret)) {
    delete ctx.status.connect
    return new StallingError(
      Reason.SecretNotWritable,
      `channel.subscribe needs the broadcaster's authorization, and the tokens go into Secret "${secretName}": add the label switchboard.dev/controller-writable=true to it, and a connect link is published in status.connect`,
      { field: 'metadata.labels.switchboard.dev/controller-writable' },
    )
  }
  const oauth = twitchProvider.oauth
  const credentials = parseTwitchCredentials(decoded(ctx.secret(secretName)), `Secret "${secretName}"`)
  const link = await opts.connect.ensure({
    kind: TwitchIntegrationKind,
    provider: 'twitch',
    namespace,
    name,
    uid: uid ?? '',
    secretName,
    clientId: credentials.clientId,
    authorizeUrl: `${auth}${oauth.authorizePath}`,
    tokenUrl: `${auth}${oauth.tokenPath}`,
    scopes: oauth.scopes,
    pkce: oauth.pkce,
    clientAuth: oauth.clientAuth,
    expect: { logins: [...new Set(ctx.spec.channels.map((l) => l.toLowerCase()))].join(',') },
    current: ctx.obj.status?.connect,
  })
  if (!link) throw new StallingError(Reason.Internal, 'connect links without a public URL')
  ctx.status.connect = link
  ctx.state.awaitingGrant = true
  const message = `${why === Reason.TokenRevoked ? "Twitch refused the broadcaster's grant (revoked)" : `Secret "${secretName}" holds no broadcaster grant yet`}: channel.subscribe waits until the broadcaster opens status.connect.url (until ${link.expiresAt}) and allows access`
  // back when the link expires, to publish a new one
  return new WaitingError(
    Reason.AuthorizationNeeded,
    message,
    Math.max(1_000, Date.parse(link.expiresAt) - Date.now()),
  )
}

/** The client, once `connect` made it. */
function clientOf(ctx: Ctx): TwitchClient {
  const c = ctx.state.client
  if (!c) throw new StallingError(Reason.Internal, 'no Twitch client')
  return c
}

/** Marks the credentials valid once Twitch accepted them (a Helix call succeeded). */
function credentialsAccepted(ctx: Ctx): void {
  ctx.setCondition(
    ConditionType.CredentialsValid,
    'True',
    Reason.Succeeded,
    'Twitch issued an app access token',
  )
}

/** Keeps Unauthorized visible on CredentialsValid; rethrows. */
function credentialsFailed(ctx: Ctx, err: unknown): never {
  const e = toSwitchboardError(err)
  if (e.reason === Reason.Unauthorized)
    ctx.setCondition(ConditionType.CredentialsValid, 'False', e.reason, e.message)
  throw e
}

async function resolve(ctx: Ctx): Promise<void> {
  const wanted = [...new Set(ctx.spec.channels.map((l) => l.toLowerCase()))]
  const known = new Map((ctx.status.channels ?? []).map((c) => [c.login, c]))
  const missing = wanted.filter((l) => !known.has(l))
  let found: HelixUser[] = []
  if (missing.length > 0) {
    try {
      found = await clientOf(ctx).users(missing, ctx.signal)
    } catch (err) {
      credentialsFailed(ctx, err)
    }
    credentialsAccepted(ctx)
  }
  for (const u of found) {
    const login = u.login.toLowerCase()
    known.set(login, {
      login,
      userId: u.id,
      ...(u.display_name ? { displayName: u.display_name.slice(0, 64) } : {}),
      live: false,
    })
  }
  // the order of the spec; channels no longer in it are dropped
  ctx.status.channels = wanted
    .map((l) => known.get(l))
    .filter((c): c is TwitchChannelStatus => c !== undefined)
  const missingNow = wanted.filter((l) => !known.has(l))
  if (missingNow.length > 0) ctx.status.unresolvedChannels = missingNow
  else delete ctx.status.unresolvedChannels
}

function unresolved(ctx: Ctx): void {
  const wanted = new Set(ctx.spec.channels.map((l) => l.toLowerCase()))
  const unresolved = ctx.status.unresolvedChannels ?? []
  if (unresolved.length === 0) {
    ctx.setCondition(
      ConditionType.ChannelsResolved,
      'True',
      Reason.Resolved,
      `${wanted.size} channel(s) resolved to Twitch user ids`,
    )
    return
  }
  const shown =
    unresolved.slice(0, 10).join(', ') +
    (unresolved.length > 10 ? `, and ${unresolved.length - 10} more` : '')
  const message = `${unresolved.length} of ${wanted.size} login(s) in spec.channels are unknown to Twitch: ${shown}`
  ctx.setCondition(ConditionType.ChannelsResolved, 'False', Reason.ChannelNotFound, message)
  throw new StallingError(Reason.ChannelNotFound, message, { field: 'spec.channels' })
}

interface InboxItem {
  messageId: string
  type: string
  occurredAt: string
  broadcaster: string
  live: boolean
  streamId?: string | null | undefined
}

async function notifications(ctx: Ctx, destinations: DeliveryRegistry): Promise<void> {
  // A notification asks for a reconcile at once and its inbox entry is written a moment later
  // (the webhook server batches status writes per second, and a status write starts no
  // reconcile): look again every 1.5 s for a while after a request (the webhook server's value
  // is the time it asked).
  const requested = Date.parse(ctx.obj.metadata.annotations?.[REQUESTED_AT_ANNOTATION] ?? '')
  const sinceRequest = ctx.now().getTime() - requested
  if (sinceRequest >= -INBOX_WATCH_MS && sinceRequest < INBOX_WATCH_MS) ctx.requeueAfter(INBOX_LOOK_AGAIN_MS)
  const inbox = ctx.status.eventInbox
  if (!inbox || Object.keys(inbox).length === 0) return
  const byUser = new Map((ctx.status.channels ?? []).map((c) => [c.userId, c]))
  const items: InboxItem[] = Object.entries(inbox)
    .map(([messageId, e]) => ({ messageId, ...e }))
    .sort((a, b) => compareInstants(a.occurredAt, b.occurredAt) || (a.messageId < b.messageId ? -1 : 1))
  const records: DeliveryRecord[] = []
  let applied = 0
  for (const it of items) {
    const ch = byUser.get(it.broadcaster)
    if (!ch) continue
    // in time order, as instants; an event older than what the channel shows changes nothing
    if (compareInstants(it.occurredAt, ch.lastEvent?.at) > 0) {
      ch.live = it.live
      if (it.live) ch.startedAt = it.occurredAt
      else {
        delete ch.startedAt
        delete ch.viewerCount
      }
      ch.lastEvent = { type: it.type, at: it.occurredAt, messageId: it.messageId }
      applied++
    }
    const event = TWITCH_EVENT_NAMES[it.type]
    if (event) {
      records.push({
        messageId: it.messageId,
        type: 'track',
        userId: ch.userId,
        event,
        properties: {
          login: ch.login,
          broadcasterUserId: ch.userId,
          live: it.live,
          ...(it.streamId ? { streamId: it.streamId } : {}),
          occurredAt: it.occurredAt,
        },
        timestamp: toMillisIso(it.occurredAt, ctx.now()),
        stream: 'twitch_events',
        key: it.messageId,
      })
    }
  }
  ctx.status.live = (ctx.status.channels ?? []).filter((c) => c.live).length
  ctx.log.info({ notifications: items.length, applied }, 'stream notifications applied')
  // Status first: a channel's state must not wait for a Destination. Notifications for a channel
  // no longer tracked leave the inbox with the others.
  const drained = new Set(items.map((i) => i.messageId))
  if (records.length > 0 && ctx.spec.destinationRefs.length > 0) {
    const { namespace } = ctx.obj.metadata
    try {
      const deliverers = ctx.spec.destinationRefs.map((d) => destinations.get(namespace, d.name))
      await Promise.all(deliverers.map((d) => d.deliver(records, { signal: ctx.signal })))
    } catch (err) {
      // the entries stay in the inbox and are sent again (same message ids) on the next reconcile
      await ctx.checkpoint()
      throw err
    }
  }
  const keep: NonNullable<TwitchIntegrationStatus['eventInbox']> = {}
  for (const [id, e] of Object.entries(inbox)) if (!drained.has(id)) keep[id] = e
  if (Object.keys(keep).length > 0) ctx.status.eventInbox = keep
  else delete ctx.status.eventInbox
}

async function streams(ctx: Ctx, helixLagMs: number): Promise<void> {
  const channels = ctx.status.channels ?? []
  if (channels.length === 0) return
  let live: Awaited<ReturnType<TwitchClient['streams']>>
  try {
    live = await clientOf(ctx).streams(
      channels.map((c) => c.login),
      ctx.signal,
    )
  } catch (err) {
    credentialsFailed(ctx, err)
  }
  credentialsAccepted(ctx)
  const now = ctx.now()
  const byUser = new Map(live.map((s) => [s.user_id, s]))
  let corrected = 0
  for (const ch of channels) {
    const s = byUser.get(ch.userId)
    const isLive = s !== undefined
    // a notification newer than Helix's lag wins over a read that disagrees with it
    const recent =
      ch.lastEvent !== undefined &&
      compareInstants(ch.lastEvent.at, new Date(now.getTime() - helixLagMs).toISOString()) > 0
    if (isLive !== ch.live && recent) continue
    if (isLive !== ch.live) corrected++
    ch.live = isLive
    if (s) {
      if (s.title) ch.title = s.title.slice(0, 512)
      else delete ch.title
      if (s.game_name) ch.gameName = s.game_name.slice(0, 256)
      else delete ch.gameName
      ch.viewerCount = s.viewer_count ?? 0
      if (s.started_at) ch.startedAt = s.started_at
    } else {
      delete ch.title
      delete ch.gameName
      delete ch.viewerCount
      delete ch.startedAt
    }
  }
  ctx.status.live = channels.filter((c) => c.live).length
  ctx.status.lastSyncTime = rfc3339(now)
  if (corrected > 0) ctx.log.info({ corrected }, 'Helix corrected the live status of channels')
}

async function eventsub(ctx: Ctx): Promise<void> {
  const url = ctx.status.webhook?.url
  if (!url) {
    ctx.setCondition(
      ConditionType.EventSubReady,
      'False',
      Reason.NoPublicUrl,
      'no public URL is configured for the webhook server: no EventSub subscriptions',
    )
    delete ctx.status.subscriptions
    return
  }
  if (ctx.state.published) {
    // Twitch verifies the callback at once: let the webhook server learn the path first
    await ctx.checkpoint()
    ctx.requeueAfter(PUBLISH_DELAY_MS)
    ctx.setCondition(
      ConditionType.EventSubReady,
      'False',
      Reason.SubscriptionsPending,
      'the webhook URL was just published',
    )
    return
  }
  const client = clientOf(ctx)
  const channels = ctx.status.channels ?? []
  const generationChanged = ctx.obj.status?.observedGeneration !== ctx.obj.metadata.generation
  const previous = new Map((ctx.obj.status?.subscriptions ?? []).map((s) => [`${s.type}|${s.login}`, s]))
  const listed = await client.subscriptions(ctx.signal)
  const ours = listed.filter((s) => s.transport.callback === url)
  // the path's token is this resource's alone: one on it under another base URL was made before
  // the public URL changed, and nothing will call it any more
  const path = ctx.status.webhook?.path ?? ''
  for (const s of listed) {
    if (s.transport.callback !== url && path !== '' && s.transport.callback?.endsWith(path)) {
      await client.deleteSubscription(s.id, ctx.signal)
    }
  }
  const byKey = new Map<string, EventSubSubscription[]>()
  for (const s of ours) {
    const key = `${s.type}|${s.condition.broadcaster_user_id ?? ''}`
    byKey.set(key, [...(byKey.get(key) ?? []), s])
  }
  const wanted = new Set<string>()
  const out: TwitchSubscriptionStatus[] = []
  let recreated = 0
  const problems: string[] = []
  for (const ch of channels) {
    for (const type of ctx.spec.events) {
      const key = `${type}|${ch.userId}`
      wanted.add(key)
      const existing = byKey.get(key) ?? []
      // not asked for while the broadcaster's consent is awaited (Twitch would answer 403)
      if (type === SUBSCRIBE && ctx.state.awaitingGrant) continue
      const live = existing.find((s) => s.status === 'enabled') ?? existing.find((s) => s.status === PENDING)
      if (live) {
        out.push({ id: live.id, type, login: ch.login, status: live.status })
        // a duplicate (made by an older version, or by hand) is one too many
        for (const s of existing)
          if (s !== live && !REVOKED.has(s.status)) await client.deleteSubscription(s.id, ctx.signal)
        continue
      }
      const revoked = existing.find((s) => REVOKED.has(s.status))
      const before = previous.get(`${type}|${ch.login}`)
      if (!generationChanged && (revoked || (before && REVOKED.has(before.status)))) {
        const status = revoked?.status ?? before?.status ?? 'authorization_revoked'
        out.push({
          id: revoked?.id ?? before?.id ?? '',
          type,
          login: ch.login,
          status,
          message:
            'revoked at Twitch; not made again until the spec changes (the broadcaster must authorise again)',
        })
        problems.push(`${type} for ${ch.login}: ${status}`)
        continue
      }
      for (const s of existing) {
        // failed deliveries or verification: made again; revoked ones too once the spec changed
        if (RECREATE.has(s.status) || REVOKED.has(s.status)) {
          await client.deleteSubscription(s.id, ctx.signal)
          recreated++
        }
      }
      try {
        const res = await client.createSubscription(
          { type, broadcasterUserId: ch.userId, callback: url },
          ctx.signal,
        )
        if ('created' in res)
          out.push({ id: res.created.id, type, login: ch.login, status: res.created.status })
        else {
          out.push({ id: '', type, login: ch.login, status: PENDING, message: 'Twitch already has it (409)' })
          ctx.requeueAfter(PUBLISH_DELAY_MS)
        }
      } catch (err) {
        const e = toSwitchboardError(err)
        if (e.kind !== 'stalling' || e.reason === Reason.Unauthorized) throw e
        out.push({ id: '', type, login: ch.login, status: 'error', message: e.message.slice(0, 512) })
        problems.push(`${type} for ${ch.login}: ${e.message}`)
      }
    }
  }
  // channels or events no longer in the spec
  for (const [key, subs] of byKey) {
    if (wanted.has(key)) continue
    for (const s of subs) await client.deleteSubscription(s.id, ctx.signal)
  }
  if (recreated > 0) {
    ctx.event(
      'Normal',
      Reason.SubscriptionRecreated,
      `${recreated} EventSub subscription(s) made again after Twitch revoked them`,
    )
  }
  ctx.status.subscriptions = out
  const pending = out.filter((s) => s.status === PENDING).length
  const enabled = out.filter((s) => s.status === 'enabled').length
  if (problems.length > 0) {
    const revokedOnly = out.every((s) => s.status !== 'error')
    const reason = revokedOnly ? Reason.SubscriptionRevoked : Reason.SubscriptionFailed
    const message = `${problems.length} of ${out.length} EventSub subscription(s) not enabled: ${problems.slice(0, 5).join('; ')}`
    ctx.setCondition(ConditionType.EventSubReady, 'False', reason, message)
    throw new StallingError(reason, message, { field: 'spec.events' })
  }
  if (pending > 0) {
    ctx.requeueAfter(PUBLISH_DELAY_MS)
    ctx.setCondition(
      ConditionType.EventSubReady,
      'False',
      Reason.SubscriptionsPending,
      `${pending} of ${out.length} EventSub subscription(s) wait for the callback verification`,
    )
    return
  }
  ctx.setCondition(
    ConditionType.EventSubReady,
    'True',
    Reason.SubscriptionsEnabled,
    `${enabled} EventSub subscription(s) enabled`,
  )
}
