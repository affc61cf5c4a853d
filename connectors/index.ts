// The public face of connectors/: other folders import from here only.

export * from './calendly/index.ts'
export {
  buildCasinoClient,
  CASINO_EVENTS,
  CASINO_PROVIDERS,
  type CasinoClient,
  type CasinoConnector,
  type CasinoProvider,
  type CasinoRecord,
  type CreateClientOptions,
  type CursorPosition,
  casinoConnectors,
  comparePositions,
  currencyExponent,
  decimalToMinor,
  decodeCursor,
  encodeCursor,
  type FetchedPage,
  type GameSession,
  messageIdFor,
  minorToDecimal,
  type Page,
  type PageRequest,
  type Player,
  type PlayerStatus,
  type ReadOptions,
  readPages,
  STREAM_NAMES,
  type StreamName,
  type Transaction,
  type TransactionStatus,
  type TransactionType,
  toDeliveryRecord,
} from './casino/index.ts'
export { parseSecretKeys } from './credentials.ts'
export {
  type CursorStore,
  DEFAULT_RATE_LIMIT_WAIT_MS,
  type Deliverer,
  type DeliverOptions,
  type DeliveryRecord,
  type DeliveryResult,
  describeUrl,
  errorForStatus,
  MAX_MESSAGE_ID_LENGTH,
  parseRetryAfter,
  type StatusErrorContext,
  type StreamCheckpoint,
  validateRecords,
} from './delivery.ts'
export {
  checkEndpoint,
  type EndpointPolicy,
  isLoopbackHost,
  PROVIDER_HOSTS,
  parseAllowedHosts,
} from './endpoints.ts'
export * from './errors.ts'
export * from './facebook/index.ts'
export * from './google-calendar/index.ts'
export {
  type AuthContext,
  accountKeyFor,
  type BudgetLimits,
  BudgetRegistry,
  type CallOptions,
  createProviderClient,
  DEFAULT_BUDGET_LIMITS,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_MS,
  defaultBudgets,
  type PostOptions,
  type ProviderClient,
  type ProviderClientOptions,
  providerMetrics,
  RequestBudget,
  type RetryPolicy,
} from './http/index.ts'
export * from './log.ts'
export {
  type CodeGrantOptions,
  codeGrant,
  type RefreshGrantOptions,
  refreshGrant,
  type TokenSet,
} from './oauth/index.ts'
export * from './patreon/index.ts'
export {
  CURSOR_TABLE,
  createPostgresDeliverer,
  type PostgresConnection,
  type PostgresDelivererOptions,
  type PostgresSslMode,
  parsePostgresUrl,
  postgresError,
  postgresUpsertStatements,
  TABLE_SHAPES,
} from './postgres/index.ts'
export { createSegmentDeliverer, type SegmentDelivererOptions } from './segment/index.ts'
export {
  batchIdFor,
  checkSignature,
  createHttpDeliverer,
  DEFAULT_SIGNATURE_HEADER,
  DELIVERY_HEADER,
  type HttpDelivererOptions,
  type SignatureCheck,
  type SignatureFailure,
  type SignatureScheme,
  signatureScheme,
  signPayload,
  type VerifyOptions,
  verifySignature,
} from './signed-http/index.ts'
export { rfc3339 } from './time.ts'
export * from './twilio/index.ts'
export * from './twitch/index.ts'
