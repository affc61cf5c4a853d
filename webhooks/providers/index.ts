import type { FastifyPluginAsync } from 'fastify'
import { allProviders, type ProviderId, type WebhookVerifier } from '../../controller/api/index.ts'
import type { ProviderPluginOptions } from '../pipeline.ts'
import { calendlyPlugin } from './calendly.ts'
import { casinoPlugin } from './casino.ts'
import { googlePlugin } from './google.ts'
import { patreonPlugin } from './patreon.ts'
import { twilioPlugin } from './twilio.ts'
import { twitchPlugin } from './twitch.ts'

type ProviderPlugin = FastifyPluginAsync<ProviderPluginOptions>

/** The verification plugins, by the name a provider description gives in `webhook.verifier`. */
const VERIFIERS: Readonly<Record<WebhookVerifier, (provider: ProviderId) => ProviderPlugin>> = {
  twilio: () => twilioPlugin,
  patreon: () => patreonPlugin,
  calendly: () => calendlyPlugin,
  twitch: () => twitchPlugin,
  google: () => googlePlugin,
  casino: (provider) => casinoPlugin(provider),
}

/**
 * One encapsulated plugin per provider that receives webhooks, mounted at `/hooks/<provider>`:
 * the routing table, derived from the provider descriptions.
 */
export const providerPlugins: ReadonlyMap<ProviderId, ProviderPlugin> = new Map(
  allProviders.flatMap((p) =>
    p.webhook ? [[p.id as ProviderId, VERIFIERS[p.webhook.verifier](p.id as ProviderId)] as const] : [],
  ),
)

export { CALENDLY_SIGNATURE_HEADER, CALENDLY_TOLERANCE_SECONDS } from './calendly.ts'
export {
  CASINO_DELIVERY_HEADER,
  CASINO_SIGNATURE_HEADER,
  CASINO_TIMESTAMP_HEADER,
  CASINO_TOLERANCE_SECONDS,
} from './casino.ts'
export { GOOGLE_HEADERS } from './google.ts'
export { PATREON_EVENT_HEADER, PATREON_SIGNATURE_HEADER } from './patreon.ts'
export { EMPTY_TWIML, TWILIO_IDEMPOTENCY_HEADER, TWILIO_SIGNATURE_HEADER } from './twilio.ts'
export { TWITCH_HEADERS, TWITCH_MAX_AGE_MS } from './twitch.ts'
