// Casino platforms: the shared contract, the connector registry and the delivery mapping.
import { altenar } from '../altenar/index.ts'
import { betsoftware } from '../betsoftware/index.ts'
import { playtechPam } from '../playtech-pam/index.ts'
import { softswiss } from '../softswiss/index.ts'
import type { CasinoConnector, CasinoProvider } from './types.ts'

/** Every casino connector by provider id. */
export const casinoConnectors: Record<CasinoProvider, CasinoConnector> = {
  softswiss: softswiss,
  altenar,
  betsoftware,
  'playtech-pam': playtechPam,
}

export {
  buildCasinoClient,
  type CasinoClientParts,
  type CasinoHttpOptions,
  casinoHttpClient,
  type StreamContract,
  type StreamRequest,
} from './client.ts'
export {
  type CursorPosition,
  compareIds,
  comparePositions,
  decodeCursor,
  encodeCursor,
  isIsoTimestamp,
} from './cursor.ts'
export { CASINO_EVENTS, messageIdFor, toDeliveryRecord } from './delivery.ts'
export { currencyExponent, decimalToMinor, minorToDecimal } from './money.ts'
export {
  DEFAULT_PAGE_SIZE,
  type FetchedPage,
  type PageFetcher,
  type PageRequest,
  type ReadPagesOptions,
  readPages,
} from './read.ts'
export { type Grant, SessionCache, type SessionCacheOptions } from './session.ts'
export {
  CASINO_PROVIDERS,
  type CasinoClient,
  type CasinoConnector,
  type CasinoProvider,
  type CasinoRecord,
  type CreateClientOptions,
  type GameSession,
  type Page,
  type Player,
  type PlayerStatus,
  type ReadOptions,
  STREAM_NAMES,
  type StreamName,
  type Transaction,
  type TransactionStatus,
  type TransactionType,
} from './types.ts'
