// Calendly connector: API client, credentials, event mapping and webhook signatures.
export {
  CALENDLY_API_URL,
  CALENDLY_BUDGET,
  CALENDLY_PROVIDER,
  type CalendlyClient,
  type CalendlyClientOptions,
  type CalendlyCredentials,
  type CalendlyInvitee,
  type CalendlyOAuthClient,
  type CalendlyPage,
  type CalendlyScheduledEvent,
  type CalendlyUser,
  calendlyCredentialsSchema,
  calendlyUuid,
  createCalendlyClient,
  inviteeSchema,
  type ListScheduledEventsOptions,
  parseCalendlyCredentials,
  parseCalendlySecret,
  scheduledEventSchema,
  userSchema,
} from './client.ts'
export { type CalendlyMappingOptions, calendlyEventToCalendarEvent } from './mapping.ts'
export {
  CALENDLY_SIGNATURE_HEADER,
  CALENDLY_TOLERANCE_SECONDS,
  calendlySignature,
} from './signature.ts'
