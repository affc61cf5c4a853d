// Google Calendar sandbox: the public face (see README.md).
export {
  GOOGLE_TOKEN_URL,
  GoogleAuthState,
  type IssuedToken,
  JWT_BEARER,
  type OAuthClientGrant,
  type Principal,
  SCOPE_CALENDAR,
  SCOPE_CALENDAR_EVENTS,
  SCOPE_CALENDAR_EVENTS_READONLY,
  SCOPE_CALENDAR_READONLY,
  type ServiceAccountKey,
} from './auth.ts'
export { googleCalendarConfigSchema } from './config.ts'
export { faultBody, GoogleApiError, googleErrorBody } from './errors.ts'
export { googleCalendarPlugin } from './plugin.ts'
export { type PushChannel, PushChannels, type PushChannelsOptions, type PushNotification } from './push.ts'
export {
  type AccessRole,
  type CalendarConfig,
  DEFAULT_MAX_RESULTS,
  type EventResource,
  GOOGLE_CALENDAR_PROVIDER,
  GoogleCalendarSandbox,
  type GoogleCalendarSandboxOptions,
  type ListQuery,
  MAX_FREEBUSY_ITEMS,
  MAX_MAX_RESULTS,
} from './state.ts'
