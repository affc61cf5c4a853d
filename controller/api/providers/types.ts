/**
 * What a provider is, declared once. A description holds the provider's id (the `spec.provider`
 * value and the webhook path segment), the Secret keys its connector reads, the spec settings it
 * takes (the same zod schema generates the CRD and validates in the connector), the Secret keys of
 * its webhook secrets with the verification plugin that checks them, and the sandbox fixture that
 * emulates it. Everything that lists providers derives from `providers` in `./list.ts`: the CRD
 * enums, the webhook server's routes, the sandbox, the connector registry, the docs tables.
 *
 * Implementations live in their own layers and are picked by name: the connector and sandbox
 * fixture by `protocol`, the webhook plugin by `webhook.verifier`. A white-label platform that
 * speaks an existing protocol is one description and nothing else.
 */
import type { z } from 'zod'

/** The kinds a provider can serve. */
export type ProviderKind =
  | 'CasinoIntegration'
  | 'CalendarSync'
  | 'MessageCampaign'
  | 'PatreonIntegration'
  | 'TwitchIntegration'

/** The webhook verification plugins of the webhook server (webhooks/providers/). */
export type WebhookVerifier = 'casino' | 'twilio' | 'patreon' | 'calendly' | 'twitch' | 'google'

/** Settings a provider takes in the spec of its kind, under `spec.<field>`. */
export interface ProviderSettings<S extends z.ZodObject = z.ZodObject> {
  /** The spec field (camelCase) that holds them, e.g. `playtechPam`. */
  field: string
  /** Generates the CRD's schema of `spec.<field>` and validates it in the connector. */
  schema: S
}

export interface ProviderWebhook {
  verifier: WebhookVerifier
  /** Where the user gives the provider the webhook URL (shown in the docs). */
  setup: string
  /**
   * The secrets the plugin asks for by logical name, each with the Secret keys that may hold it,
   * in order of preference (the first key present wins).
   */
  secrets: Readonly<Record<string, readonly string[]>>
}

/**
 * How a user authorizes Switchboard at the provider (the OAuth 2.0 authorization-code grant), for
 * the connect links (docs/connect.md). Paths are under the provider's base URL (its default host,
 * or the endpoint the spec overrides it with).
 */
export interface ProviderOAuth {
  /** The provider's base URL when the spec names none, e.g. `https://www.patreon.com`. */
  baseUrl: string
  /** The consent page, e.g. `/oauth2/authorize`. */
  authorizePath: string
  /** The token endpoint (authorization-code and refresh grants), e.g. `/api/oauth2/token`. */
  tokenPath: string
  /** The token endpoint's base URL when it is not `baseUrl` (Google's is another host). */
  tokenBaseUrl?: string
  /** More parameters the consent page takes (e.g. Google's `access_type=offline`). */
  authorizeParams?: Readonly<Record<string, string>>
  /** The scopes asked for by default (the kind may leave some out for a resource's spec). */
  scopes: readonly string[]
  /** Whether the provider takes PKCE (RFC 7636, S256); sent only where it does. */
  pkce: boolean
  /** How the client authenticates at the token endpoint. */
  clientAuth: 'body' | 'basic'
}

export interface ProviderDescription<
  Id extends string = string,
  C extends z.ZodObject = z.ZodObject,
  S extends z.ZodObject = z.ZodObject,
> {
  /** Lower-case id: `spec.provider` and the segment in `/hooks/<id>/<token>`. */
  id: Id
  /** The name people know it by. */
  title: string
  kind: ProviderKind
  /**
   * The API it speaks, which names the connector and the sandbox fixture that implement it
   * (usually the id itself; a white-label platform names the one it resells).
   */
  protocol: string
  /** Where its contract is written down (a path in this repository). */
  docs: string
  /** The Secret keys the connector reads, validated by this schema (messages name the key). */
  credentials?: C
  settings?: ProviderSettings<S>
  webhook?: ProviderWebhook
  /** The authorization-code grant behind the connect links, for providers with user tokens. */
  oauth?: ProviderOAuth
  /** The provider sandbox emulates it with this fixture (test/sandbox). */
  sandbox?: { fixture: string }
}

/** Declares a provider; its literal types (id, kind, keys) are kept for the registry's types. */
export function defineProvider<const P extends ProviderDescription>(description: P): P {
  return description
}
