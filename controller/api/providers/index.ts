// Provider descriptions: one per provider (casino.ts, services.ts, listed in list.ts), and what is
// derived from them. Code elsewhere reads providers through the registry, never the list.
export {
  altenar as altenarProvider,
  betsoftware as betsoftwareProvider,
  playtechPam as playtechPamProvider,
  softswiss as softswissProvider,
} from './casino.ts'
export * from './fields.ts'
export * from './registry.ts'
export {
  calendly as calendlyProvider,
  facebook as facebookProvider,
  google as googleProvider,
  patreon as patreonProvider,
  patreonCredentials,
  twilio as twilioProvider,
  twilioCredentials,
  twitch as twitchProvider,
} from './services.ts'
export * from './types.ts'
