/**
 * The contract between the controller and the webhook server: where a resource receives its
 * webhooks. The controller publishes `status.webhook` (with {@link ensureWebhookStatus}) and a
 * `WebhookReady` condition; the webhook server indexes `status.webhook.path` and routes each
 * delivery to the one resource that owns the path.
 */
import { randomBytes } from 'node:crypto'

/** Every provider the webhook server receives from; the first segment after `/hooks/`. */
export const PROVIDERS = [
  'twilio',
  'patreon',
  'calendly',
  'twitch',
  'facebook',
  'google',
  'softswiss',
  'altenar',
  'betsoftware',
  'playtech-pam',
] as const
export type ProviderId = (typeof PROVIDERS)[number]

/** The casino platforms; they share one signing scheme (see providers/casino.ts). */
export const CASINO_PROVIDERS = ['softswiss', 'altenar', 'betsoftware', 'playtech-pam'] as const
export type CasinoProvider = (typeof CASINO_PROVIDERS)[number]

export function isProvider(value: unknown): value is ProviderId {
  return typeof value === 'string' && (PROVIDERS as readonly string[]).includes(value)
}

/** The condition type that says whether a resource can receive webhooks. */
export const WEBHOOK_READY = 'WebhookReady'

/** Every webhook path starts with this. */
export const HOOKS_PREFIX = '/hooks'

/** 32 random bytes, base64url without padding: 43 characters. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** A new unguessable path token (32 random bytes, base64url). */
export function newWebhookToken(): string {
  return randomBytes(32).toString('base64url')
}

/** `/hooks/<provider>/<token>`. */
export function webhookPath(provider: ProviderId, token: string): string {
  return `${HOOKS_PREFIX}/${provider}/${token}`
}

/** Splits a webhook path into provider and token; undefined if it is not one. */
export function parseWebhookPath(path: string): { provider: ProviderId; token: string } | undefined {
  const parts = path.split('/')
  // ['', 'hooks', provider, token]
  if (parts.length !== 4 || parts[0] !== '' || `/${parts[1]}` !== HOOKS_PREFIX) return undefined
  const [, , provider, token] = parts
  if (!isProvider(provider) || token === undefined || !TOKEN_PATTERN.test(token)) return undefined
  return { provider, token }
}

/** Joins a public base URL (which may carry a path prefix) and a webhook path. */
export function webhookUrl(publicUrl: string, path: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${path}`
}

/** A Google Calendar push channel the resource opened (the webhook server accepts only these). */
export interface WebhookChannel {
  id: string
  resourceId?: string
  expiration?: string
}

/** `status.webhook` of every kind that receives webhooks. */
export interface WebhookStatus {
  /** `/hooks/<provider>/<token>`, generated once and kept. */
  path: string
  /** The public URL providers call (`<public-url><path>`), when a public URL is configured. */
  url?: string
  /** Google Calendar only: the push channels that are open. */
  channels?: WebhookChannel[]
}

export interface EnsureWebhookOptions {
  provider: ProviderId
  /** Public base URL of the webhook server, e.g. `https://hooks.example.com`. */
  publicUrl?: string
}

/**
 * Makes sure `status.webhook` names a path for `provider`: keeps the existing token, or
 * generates one when there is none (or it was for another provider, or is malformed), and
 * (re)computes the public URL. Sets `status.webhook` in place, as reconcile steps change status,
 * and returns it. Calling it again with the same inputs changes nothing, so it never causes a
 * status write by itself.
 */
export function ensureWebhookStatus(
  status: { webhook?: WebhookStatus | undefined; [key: string]: unknown },
  opts: EnsureWebhookOptions,
): WebhookStatus {
  const current = status.webhook
  const parsed = current?.path ? parseWebhookPath(current.path) : undefined
  const path =
    parsed && parsed.provider === opts.provider && current
      ? current.path
      : webhookPath(opts.provider, newWebhookToken())
  const next: WebhookStatus = { path }
  if (opts.publicUrl) next.url = webhookUrl(opts.publicUrl, path)
  // channels belong to the path they were opened for
  if (current?.channels && path === current.path) next.channels = current.channels
  status.webhook = next
  return next
}

/** The zod schema of `status.webhook` lives with the API types; re-exported for convenience. */
export { webhookStatus } from '../controller/api/index.ts'
