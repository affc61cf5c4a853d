/**
 * The webhook contract between the controller and the webhook server. The controller publishes
 * `status.webhook` (with {@link ensureWebhookStatus}) and a `WebhookReady` condition; the webhook
 * server indexes `status.webhook.path`, routes each delivery to the one resource that owns the
 * path, and reads that resource's webhook secrets from the Secret keys its provider declares.
 * Both sides import this file; neither imports the other.
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { dateTime, httpUrl } from './common.ts'
import { allProviders, isProvider, type ProviderId } from './providers/index.ts'
import { group, version } from './types.ts'

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

/** `status.webhook` of every kind that receives webhooks (the webhook server indexes `path`). */
export const webhookStatus = z
  .object({
    path: z
      .string()
      .max(256)
      .describe(
        'The path this resource receives webhooks on, `/hooks/<provider>/<token>`. The token is ' +
          'random and generated once; it is what makes the path unguessable.',
      ),
    url: httpUrl(
      'The public URL to give the provider: the configured public base URL followed by the path.',
    ).optional(),
    channels: z
      .array(
        z
          .object({
            id: z.string().min(1).max(64).describe('The channel id given to the provider.'),
            resourceId: z.string().max(256).describe('The provider id of the watched resource.').optional(),
            expiration: dateTime('When the channel expires at the provider.').optional(),
          })
          .describe('One open push channel.'),
      )
      .max(64)
      .describe(
        'Push channels opened at the provider (Google Calendar). Notifications for others are refused.',
      )
      .optional(),
  })
  .describe('Where this resource receives webhooks. Written by the controller.')

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

/**
 * Where a provider's webhook secrets are: logical name (what the provider plugin asks for) →
 * Secret keys, in order of preference (the first key present in the Secret wins).
 */
export type ProviderSecretKeys = Readonly<Record<string, readonly string[]>>

/** The Secret keys of a provider's webhook secrets, as its description declares them. */
export function webhookSecretKeys(provider: ProviderId): ProviderSecretKeys {
  return allProviders.find((p) => p.id === provider)?.webhook?.secrets ?? {}
}

/**
 * The annotation by which a webhook asks for a sync of named streams only (a casino delivery
 * names the stream it is about): `players=<RFC 3339>,transactions=<RFC 3339>`. A stream is due
 * when its time is after its last sync; the other streams keep their interval. The generic
 * `switchboard.dev/requested-at` still means every stream.
 */
export const REQUESTED_STREAMS_ANNOTATION = 'switchboard.dev/requested-streams'

/** Streams and request times → the annotation value (sorted, so equal sets give equal values). */
export function formatRequestedStreams(streams: ReadonlyMap<string, string>): string {
  return [...streams]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, at]) => `${name}=${at}`)
    .join(',')
}

/** The annotation value → stream name → epoch ms; malformed parts are skipped. */
export function parseRequestedStreams(value: string | undefined): Map<string, number> {
  const out = new Map<string, number>()
  for (const part of (value ?? '').split(',')) {
    const eq = part.indexOf('=')
    if (eq < 1) continue
    const ms = Date.parse(part.slice(eq + 1))
    if (!Number.isNaN(ms)) out.set(part.slice(0, eq).trim(), ms)
  }
  return out
}

/**
 * One webhook secret as both sides read it: decoded, surrounding whitespace trimmed (a Secret made
 * with `--from-file` ends in a newline), undefined when nothing is left. The controller opens
 * channels and reports `WebhookReady` from this value, and the webhook server verifies with it,
 * so the two can never disagree about a trailing newline or an empty key.
 */
export function webhookSecretValue(
  raw: string | undefined,
  encoding: 'base64' | 'utf8' = 'utf8',
): string | undefined {
  if (raw === undefined) return undefined
  const value = (encoding === 'base64' ? Buffer.from(raw, 'base64').toString('utf8') : raw).trim()
  return value === '' ? undefined : value
}

/**
 * A provider's webhook secrets by logical name, from a Secret's `data` (base64, as the API server
 * returns it) or its decoded values: for each name, the first of its keys with a non-empty
 * {@link webhookSecretValue}. A name with none is absent.
 */
export function readWebhookSecrets(
  data: Readonly<Record<string, string>> | undefined,
  keys: ProviderSecretKeys,
  encoding: 'base64' | 'utf8' = 'utf8',
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [logical, candidates] of Object.entries(keys)) {
    for (const k of candidates) {
      const v = webhookSecretValue(data?.[k], encoding)
      if (v !== undefined) {
        out[logical] = v
        break
      }
    }
  }
  return out
}

/** A kind that receives webhooks, and where its objects keep what the webhook server needs. */
export interface WebhookKind {
  group: string
  version: string
  kind: string
  /** Resource plural, for the API paths. */
  plural: string
  /** The providers a resource of this kind may receive from, with their Secret keys. */
  providers: Readonly<Partial<Record<ProviderId, ProviderSecretKeys>>>
  /**
   * Optional cross-check: a dotted field path whose value names the provider (for example
   * `spec.provider`). When set, an object whose `status.webhook.path` is for another provider is
   * not routed to (a path left over from before the provider changed).
   */
  providerField?: string
  /**
   * Dotted path(s) of the name of the Secret holding the webhook secrets; with several, the first
   * that is set wins. Default `spec.credentialsSecretRef.name`.
   */
  secretRefField?: string | readonly string[]
  /** Where the webhook server writes callback data (a dotted path under `status`), if anywhere. */
  callbackStatusField?: string
}

type KindRouting = Omit<WebhookKind, 'group' | 'version' | 'providers'>

/** What the webhook server needs to know of each kind beyond its providers. */
const ROUTING: readonly KindRouting[] = [
  {
    kind: 'CasinoIntegration',
    plural: 'casinointegrations',
    // spec.provider names the platform (casino-integration.ts)
    providerField: 'spec.provider',
  },
  {
    kind: 'CalendarSync',
    plural: 'calendarsyncs',
    // the source's own Secret holds its webhook keys; else the resource's default Secret
    secretRefField: [
      'spec.source.googleCalendar.credentialsSecretRef.name',
      'spec.source.calendly.credentialsSecretRef.name',
      'spec.credentialsSecretRef.name',
    ],
  },
  {
    kind: 'MessageCampaign',
    plural: 'messagecampaigns',
    // delivery statuses exist only as callbacks: the controller drains them from this inbox
    callbackStatusField: 'deliveryInbox',
  },
  { kind: 'PatreonIntegration', plural: 'patreonintegrations' },
  {
    kind: 'TwitchIntegration',
    plural: 'twitchintegrations',
    // stream online/offline exist only as notifications: the controller drains them from this inbox
    callbackStatusField: 'eventInbox',
  },
]

/**
 * Every Switchboard kind that receives webhooks, with the providers (and their Secret keys) each
 * may receive from, derived from the provider descriptions. The webhook server watches these kinds
 * (a kind whose CRD is not installed is skipped) and indexes `status.webhook.path`.
 */
export const WEBHOOK_KINDS: readonly WebhookKind[] = ROUTING.map((routing) => {
  const byProvider: Partial<Record<ProviderId, ProviderSecretKeys>> = {}
  for (const p of allProviders) {
    if (p.kind === routing.kind && p.webhook) byProvider[p.id as ProviderId] = p.webhook.secrets
  }
  return { group, version, ...routing, providers: byProvider }
})

/** Reads a dotted field path (`spec.credentialsSecretRef.name`) from an object. */
export function fieldAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

/** The name of the Secret holding a resource's webhook keys: the first of the kind's fields that is set. */
export function secretNameOf(kind: Pick<WebhookKind, 'secretRefField'>, obj: unknown): string | undefined {
  const refFields = kind.secretRefField ?? 'spec.credentialsSecretRef.name'
  return (typeof refFields === 'string' ? [refFields] : refFields)
    .map((f) => fieldAt(obj, f))
    .find((v): v is string => typeof v === 'string' && v !== '')
}
