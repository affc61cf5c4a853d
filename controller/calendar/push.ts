/**
 * Where a CalendarSync receives webhooks, and its Google push channel.
 *
 * The source decides the provider of `status.webhook` (the webhook contract in controller/api/webhook.ts): a
 * Google calendar receives push notifications (`google`), Calendly its signed webhooks
 * (`calendly`); an inline schedule receives nothing. A notification only asks for a sync: the
 * webhook server patches the requested-at annotation, and the next sync reads the changes.
 *
 * Google channels: with a public URL, one channel watches the source calendar, pointing at
 * `status.webhook.url`, with the Secret's `channelToken`. Its id is recorded in status before
 * it is opened (the webhook server accepts notifications only for channels listed there, and
 * Google sends the first one at once), and its resource id and expiry right after. It is
 * replaced by a new one before it expires (`renewBeforeMs`), when the URL or the calendar
 * changed (the channel id carries a digest of them) or the token changed, and stopped when the
 * resource is deleted. Without a public URL there is no channel: syncs run on the interval alone.
 */
import { randomBytes } from 'node:crypto'
import {
  type GoogleCalendarClient,
  Reason,
  rfc3339,
  type SwitchboardError,
  toSwitchboardError,
} from '../../connectors/index.ts'
import {
  ensureWebhookStatus,
  type WebhookChannel,
  webhookSecretKeys,
  webhookSecretValue,
} from '../api/index.ts'
import { ConditionType } from '../runtime/index.ts'
import { type CalendarClients, type Ctx, digest, secretFor } from './clients.ts'

/** The Secret key of a provider's one webhook secret, as its description declares it. */
function webhookKey(provider: 'google' | 'calendly', secret: string): string {
  const key = webhookSecretKeys(provider)[secret]?.[0]
  if (!key) throw new Error(`provider ${provider} declares no webhook secret "${secret}"`)
  return key
}

export const CHANNEL_TOKEN_KEY = webhookKey('google', 'channelToken')
export const CALENDLY_SIGNING_KEY = webhookKey('calendly', 'signingKey')

export interface PushOptions {
  publicUrl?: string | undefined
  /** Lifetime asked for a channel. Default 7 days. */
  channelTtlMs?: number | undefined
  /** A channel is replaced this long before it expires. Default 1 day. */
  renewBeforeMs?: number | undefined
  now: () => Date
  /** Kept between reconciles of one resource (in memory): notices a changed channel token. */
  memory?: { tokenDigest?: string } | undefined
}

const DEFAULT_TTL = 7 * 86_400_000
const DEFAULT_RENEW_BEFORE = 86_400_000

/**
 * The Secret holding the webhook secrets (`channelToken`, `webhookSigningKey`): the source's own
 * Secret, else spec.credentialsSecretRef. The webhook server must read the same one.
 */
export function webhookSecretName(ctx: Ctx): string | undefined {
  const s = ctx.spec
  return (
    s.source.googleCalendar?.credentialsSecretRef?.name ??
    s.source.calendly?.credentialsSecretRef?.name ??
    s.credentialsSecretRef?.name
  )
}

function secretKey(ctx: Ctx, secretName: string, key: string): string | undefined {
  // the webhook server reads it the same way (webhookSecretValue), so a trailing newline agrees
  return webhookSecretValue(ctx.secret(secretName).data?.[key], 'base64')
}

/**
 * Prefix of this resource's channel ids for the current calendar and URL. The token is left out:
 * anything derived from it in status would let a weak token be guessed offline.
 */
function channelPrefix(calendarId: string, url: string): string {
  return `sb-${digest([calendarId, url])
    .slice(0, 12)
    .replace(/[^A-Za-z0-9]/g, 'x')}-`
}

/**
 * Publishes status.webhook and keeps the push channel. Never throws a provider error: the
 * outcome is the WebhookReady condition (push is an optimisation; syncs still run on the
 * interval). Returns when to come back to renew the channel, if it has one.
 */
export async function reconcilePush(
  ctx: Ctx,
  clients: CalendarClients,
  opts: PushOptions,
): Promise<{ renewInMs?: number; error?: SwitchboardError }> {
  const spec = ctx.spec
  const provider = spec.source.googleCalendar ? 'google' : spec.source.calendly ? 'calendly' : undefined
  const google = spec.source.googleCalendar
  const previous = ctx.status.webhook
  if (!provider) {
    if (previous?.channels?.length) await stopChannels(ctx, previous.channels, undefined)
    delete ctx.status.webhook
    ctx.removeCondition(ConditionType.WebhookReady)
    return {}
  }
  const hadPath = previous?.path
  const wh = ensureWebhookStatus(ctx.status, {
    provider,
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
  })
  // channels opened for another path (the provider changed) are stopped with the current client
  const dropped = (previous?.channels ?? []).filter((c) => !wh.channels?.some((x) => x.id === c.id))
  const secretName = webhookSecretName(ctx)
  const where = wh.url ?? wh.path

  if (provider === 'calendly') {
    if (dropped.length > 0) await stopChannels(ctx, dropped, undefined)
    const key = secretName ? secretKey(ctx, secretName, CALENDLY_SIGNING_KEY) : undefined
    if (!key) {
      ctx.setCondition(
        ConditionType.WebhookReady,
        'False',
        Reason.SecretKeyMissing,
        `Secret "${secretName ?? ''}" has no key "${CALENDLY_SIGNING_KEY}": Calendly webhooks cannot be verified; bookings are read every ${spec.interval}`,
      )
      return {}
    }
    ctx.setCondition(
      ConditionType.WebhookReady,
      'True',
      Reason.Published,
      `Calendly webhooks (invitee.created, invitee.canceled) are received at ${where}`,
    )
    return {}
  }

  // Google Calendar
  const calendarId = google?.calendarId ?? ''
  const sourceSecret = secretFor(spec, google?.credentialsSecretRef, 'spec.source.googleCalendar')
  const client = clients.google(ctx, sourceSecret, 'spec.source.googleCalendar', false).client
  if (dropped.length > 0) await stopChannels(ctx, dropped, client)
  const channels = [...(wh.channels ?? [])]
  if (!wh.url) {
    if (channels.length > 0) await stopChannels(ctx, channels, client)
    delete wh.channels
    ctx.setCondition(
      ConditionType.WebhookReady,
      'False',
      Reason.NoPublicUrl,
      `no public URL is configured for the webhook server (controller --public-url): changes are read every ${spec.interval}`,
    )
    return {}
  }
  const token = secretName ? secretKey(ctx, secretName, CHANNEL_TOKEN_KEY) : undefined
  if (!token || token.length < 16) {
    ctx.setCondition(
      ConditionType.WebhookReady,
      'False',
      token ? Reason.InvalidCredentials : Reason.SecretKeyMissing,
      token
        ? `Secret "${secretName}" key "${CHANNEL_TOKEN_KEY}" is invalid: it must be at least 16 characters`
        : `Secret "${secretName ?? ''}" has no key "${CHANNEL_TOKEN_KEY}": no push channel; changes are read every ${spec.interval}`,
    )
    return {}
  }
  ctx.addSecretValue(token)

  const now = opts.now().getTime()
  const renewBefore = opts.renewBeforeMs ?? DEFAULT_RENEW_BEFORE
  const prefix = channelPrefix(calendarId, wh.url)
  const expiry = (c: WebhookChannel) => (c.expiration ? Date.parse(c.expiration) : 0)
  // a changed token needs a new channel (Google keeps sending the old one); remembered in memory only
  const tokenDigest = digest(['channel-token', token])
  const tokenChanged = opts.memory?.tokenDigest !== undefined && opts.memory.tokenDigest !== tokenDigest
  let current = tokenChanged
    ? undefined
    : channels.find((c) => c.id.startsWith(prefix) && c.resourceId && expiry(c) - renewBefore > now)
  const stale = channels.filter((c) => c !== current)
  if (!current) {
    if (hadPath !== wh.path) {
      // the webhook server must know the path before the provider calls it
      await ctx.checkpoint()
    }
    const id = `${prefix}${randomBytes(12)
      .toString('base64url')
      .replace(/[^A-Za-z0-9]/g, 'x')}`
    const opening: WebhookChannel = { id }
    wh.channels = [...channels, opening].slice(-8)
    await ctx.checkpoint()
    try {
      const opened = await client.watch(calendarId, {
        id,
        address: wh.url,
        token,
        expiration: now + (opts.channelTtlMs ?? DEFAULT_TTL),
        signal: ctx.signal,
      })
      opening.resourceId = opened.resourceId
      if (opened.expiration > 0) opening.expiration = rfc3339(new Date(opened.expiration))
      current = opening
      ctx.log.info({ channel: id, expiration: opening.expiration }, 'push channel opened')
      ctx.event('Normal', Reason.ChannelOpened, `push channel ${id} opened on calendar "${calendarId}"`)
    } catch (err) {
      const error = toSwitchboardError(err)
      wh.channels = channels
      ctx.setCondition(
        ConditionType.WebhookReady,
        'False',
        error.reason,
        `could not open a push channel: ${error.message}`,
      )
      return { renewInMs: error.retryAfterMs ?? 60_000, error }
    }
  }
  if (opts.memory) opts.memory.tokenDigest = tokenDigest
  if (stale.length > 0) await stopChannels(ctx, stale, client)
  wh.channels = [current]
  const ends = expiry(current)
  ctx.setCondition(
    ConditionType.WebhookReady,
    'True',
    Reason.ChannelOpen,
    `push channel ${current.id} on calendar "${calendarId}" sends notifications to ${wh.url}${
      ends ? ` until ${rfc3339(new Date(ends))}` : ''
    }`,
  )
  return ends ? { renewInMs: Math.max(1_000, ends - renewBefore - now) } : {}
}

/** Stops channels (best effort: a channel that cannot be stopped ends at its expiry). */
export async function stopChannels(
  ctx: Ctx,
  channels: readonly WebhookChannel[],
  client: GoogleCalendarClient | undefined,
): Promise<{ stopped: number; failed: number }> {
  let stopped = 0
  let failed = 0
  for (const c of channels) {
    if (!c.resourceId || !client) {
      failed++
      continue
    }
    try {
      await client.stopChannel({ id: c.id, resourceId: c.resourceId }, { signal: ctx.signal })
      stopped++
      ctx.log.info({ channel: c.id }, 'push channel stopped')
    } catch (err) {
      failed++
      const e = toSwitchboardError(err)
      ctx.log.warn({ channel: c.id, reason: e.reason, err: e.message }, 'could not stop a push channel')
    }
  }
  return { stopped, failed }
}
