/**
 * The Switchboard kinds that receive webhooks, and where each keeps what the webhook server
 * needs. The Kubernetes-backed resolver watches these kinds (a kind whose CRD is not installed
 * is skipped) and indexes `status.webhook.path`.
 */
import { group, version } from '../controller/api/index.ts'
import type { ProviderId } from './status.ts'

/**
 * Where a provider's webhook secrets are: logical name (what the provider plugin asks for) →
 * Secret keys, in order of preference (the first key present in the Secret wins).
 */
export type ProviderSecretKeys = Readonly<Record<string, readonly string[]>>

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
  /** Where {@link StatusCallbackSink} writes callback data (a dotted path under `status`), if anywhere. */
  callbackStatusField?: string
}

/** The logical secret names each provider plugin reads from `WebhookTarget.secrets()`. */
export const PROVIDER_SECRET_NAMES: Readonly<Record<ProviderId, readonly string[]>> = {
  twilio: ['authToken'],
  patreon: ['webhookSecret'],
  calendly: ['signingKey'],
  twitch: ['eventsubSecret'],
  facebook: ['appSecret', 'verifyToken'],
  google: ['channelToken'],
  softswiss: ['signingSecret'],
  altenar: ['signingSecret'],
  betsoftware: ['signingSecret'],
  'playtech-pam': ['signingSecret'],
}

/** Default Secret keys per provider (the kinds below use them). */
export const DEFAULT_SECRET_KEYS: Readonly<Record<ProviderId, ProviderSecretKeys>> = {
  twilio: { authToken: ['authToken'] },
  patreon: { webhookSecret: ['webhookSecret'] },
  calendly: { signingKey: ['webhookSigningKey'] },
  twitch: { eventsubSecret: ['eventsubSecret'] },
  facebook: { appSecret: ['appSecret'], verifyToken: ['verifyToken'] },
  google: { channelToken: ['channelToken'] },
  // a dedicated `webhookSecret` wins; otherwise the platform's own signing key, where it has one
  softswiss: { signingSecret: ['webhookSecret', 'apiSecret'] },
  altenar: { signingSecret: ['webhookSecret'] },
  betsoftware: { signingSecret: ['webhookSecret', 'hashKey'] },
  'playtech-pam': { signingSecret: ['webhookSecret'] },
}

function pick<P extends ProviderId>(...providers: P[]): Record<P, ProviderSecretKeys> {
  const out = {} as Record<P, ProviderSecretKeys>
  for (const p of providers) out[p] = DEFAULT_SECRET_KEYS[p]
  return out
}

/** Every Switchboard kind that receives webhooks. */
export const WEBHOOK_KINDS: readonly WebhookKind[] = [
  {
    group,
    version,
    kind: 'CasinoIntegration',
    plural: 'casinointegrations',
    providers: pick('softswiss', 'altenar', 'betsoftware', 'playtech-pam'),
    // spec.provider names the platform (controller/api/casino-integration.ts)
    providerField: 'spec.provider',
  },
  {
    group,
    version,
    kind: 'CalendarSync',
    plural: 'calendarsyncs',
    providers: pick('google', 'calendly', 'facebook'),
    // the source's own Secret holds its webhook keys; else the resource's default Secret
    secretRefField: [
      'spec.source.googleCalendar.credentialsSecretRef.name',
      'spec.source.calendly.credentialsSecretRef.name',
      'spec.credentialsSecretRef.name',
    ],
  },
  {
    group,
    version,
    kind: 'MessageCampaign',
    plural: 'messagecampaigns',
    providers: pick('twilio'),
  },
  {
    group,
    version,
    kind: 'PatreonIntegration',
    plural: 'patreonintegrations',
    providers: pick('patreon'),
  },
  {
    group,
    version,
    kind: 'TwitchIntegration',
    plural: 'twitchintegrations',
    providers: pick('twitch'),
  },
]

/** Reads a dotted field path (`spec.credentialsSecretRef.name`) from an object. */
export function fieldAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}
