// Twitch Helix and EventSub (see README.md).
export {
  type CreateSubscriptionInput,
  createTwitchClient,
  type EventSubSubscription,
  HELIX_BATCH,
  type HelixStream,
  type HelixUser,
  parseTwitchCredentials,
  TWITCH_API_URL,
  TWITCH_AUTH_URL,
  TWITCH_BUDGET,
  TWITCH_PROVIDER,
  type TwitchClient,
  type TwitchClientOptions,
  type TwitchCredentials,
  twitchCredentialsSchema,
} from './client.ts'
export {
  TWITCH_SUBSCRIPTIONS_SCOPE,
  type TwitchUserToken,
  validateTwitchUserToken,
} from './user-token.ts'
