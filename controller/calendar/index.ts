// The CalendarSync controller: its reconciler, the public feed documents and the Fastify routes
// that serve them (mounted by the webhook server).
export { Announced } from './announce.ts'
export {
  type EventsDocument,
  etagOf,
  type FeedDocumentOptions,
  type FeedDocuments,
  type FeedEventView,
  feedDocuments,
  isPublicEvent,
  localDateTime,
  type NextDocument,
  type TodayDocument,
} from './feed.ts'
export { CALENDLY_SIGNING_KEY, CHANNEL_TOKEN_KEY } from './push.ts'
export {
  type CalendarReconcilerOptions,
  calendarReconciler,
  RESYNC_ANNOTATION,
  SourceReady,
  TargetsSynced,
} from './reconciler.ts'
export { type CalendarPublicRoutesOptions, calendarPublicRoutes, type PublicCalendarSync } from './routes.ts'
export { DIGEST_PROPERTY } from './targets.ts'
