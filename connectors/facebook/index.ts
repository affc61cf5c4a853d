// Facebook connector: Graph API client for page/group posts, idempotent announcements,
// announcement templates.
export {
  type AnnounceOptions,
  type AnnounceResult,
  announcementMarker,
  announceOnce,
  findAnnouncement,
  hasMarker,
  withMarker,
} from './announce.ts'
export {
  createFacebookClient,
  FACEBOOK_BUDGET,
  type FacebookClient,
  type FacebookClientOptions,
  type FacebookCredentials,
  type FeedPage,
  type FeedPost,
  facebookCredentialsSchema,
  MAX_FEED_PAGE,
  parseFacebookCredentials,
} from './client.ts'
export {
  appSecretProof,
  DEFAULT_GRAPH_VERSION,
  DuplicatePostError,
  FACEBOOK_PROVIDER,
  GRAPH_RATE_LIMIT_WAIT_MS,
  GRAPH_URL,
  type GraphError,
  graphErrorFor,
  readGraphError,
} from './graph.ts'
export {
  DEFAULT_TEMPLATES,
  eventValues,
  type FormatOptions,
  MAX_TEMPLATE_LENGTH,
  PLACEHOLDERS,
  type Placeholder,
  type RenderAnnouncementOptions,
  renderAnnouncement,
  renderTemplate,
  type TemplateValues,
  validateTemplate,
} from './templates.ts'
