// Twitch sandbox (Helix, the OAuth token endpoint, EventSub and its sender): the public face.

export { twitchConfigSchema } from './config.ts'
export { twitchPlugin } from './plugin.ts'
export {
  type HelixOperation,
  type StoredSubscription,
  TWITCH_MAX_PER_REQUEST,
  TWITCH_PATH_PREFIX,
  TWITCH_PROVIDER,
  type TwitchClientSpec,
  type TwitchDelivery,
  TwitchSandbox,
  type TwitchSandboxOptions,
  type TwitchStream,
  type TwitchUserSpec,
} from './state.ts'
