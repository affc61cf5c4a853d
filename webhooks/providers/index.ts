import type { FastifyPluginAsync } from 'fastify'
import type { ProviderPluginOptions } from '../pipeline.ts'
import type { ProviderId } from '../status.ts'
import { calendlyPlugin } from './calendly.ts'
import { casinoPlugin } from './casino.ts'
import { facebookPlugin } from './facebook.ts'
import { googlePlugin } from './google.ts'
import { patreonPlugin } from './patreon.ts'
import { twilioPlugin } from './twilio.ts'
import { twitchPlugin } from './twitch.ts'

/** One encapsulated plugin per provider, mounted at `/hooks/<provider>`. */
export const providerPlugins: Readonly<Record<ProviderId, FastifyPluginAsync<ProviderPluginOptions>>> = {
  twilio: twilioPlugin,
  patreon: patreonPlugin,
  calendly: calendlyPlugin,
  twitch: twitchPlugin,
  facebook: facebookPlugin,
  google: googlePlugin,
  softswiss: casinoPlugin('softswiss'),
  altenar: casinoPlugin('altenar'),
  betsoftware: casinoPlugin('betsoftware'),
  'playtech-pam': casinoPlugin('playtech-pam'),
}

export { CALENDLY_SIGNATURE_HEADER, CALENDLY_TOLERANCE_SECONDS } from './calendly.ts'
export { CASINO_DELIVERY_HEADER, CASINO_SIGNATURE_HEADER } from './casino.ts'
export { FACEBOOK_SIGNATURE_HEADER } from './facebook.ts'
export { GOOGLE_HEADERS } from './google.ts'
export { PATREON_EVENT_HEADER, PATREON_SIGNATURE_HEADER } from './patreon.ts'
export { EMPTY_TWIML, TWILIO_IDEMPOTENCY_HEADER, TWILIO_SIGNATURE_HEADER } from './twilio.ts'
export { TWITCH_HEADERS, TWITCH_MAX_AGE_MS } from './twitch.ts'
