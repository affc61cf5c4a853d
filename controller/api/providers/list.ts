/**
 * Every provider Switchboard knows, in the order the docs list them. Adding a provider is one
 * description (a file in this folder, or an entry in casino.ts / services.ts) and one entry here;
 * everything that lists providers reads this array.
 */
import { altenar, betsoftware, playtechPam, softswiss } from './casino.ts'
import { calendly, facebook, google, patreon, twilio, twitch } from './services.ts'

export const providers = [
  twilio,
  patreon,
  calendly,
  twitch,
  facebook,
  google,
  softswiss,
  altenar,
  betsoftware,
  playtechPam,
] as const
