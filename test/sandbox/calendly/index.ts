// Calendly sandbox: the public face.

export { calendlyConfigSchema } from './config.ts'
export { calendlyPlugin } from './plugin.ts'
export {
  type BookingInput,
  CALENDLY_DEFAULT_BASE_URL,
  CALENDLY_DEFAULT_COUNT,
  CALENDLY_MAX_COUNT,
  CALENDLY_PATH_PREFIX,
  CALENDLY_PROVIDER,
  CalendlySandbox,
  type CalendlySandboxOptions,
  calendlyTime,
  OAUTH_TOKEN_PREFIX as CALENDLY_OAUTH_TOKEN_PREFIX,
  type WebhookDelivery,
  type WebhookSubscription,
} from './state.ts'
