// Casino platforms: the shared contract, the connector registry and the delivery mapping.

import { providerById } from '../../controller/api/index.ts'
import { altenar } from '../altenar/index.ts'
import { betsoftware } from '../betsoftware/index.ts'
import { playtechPam } from '../playtech-pam/index.ts'
import { softswiss } from '../softswiss/index.ts'
import { CASINO_PROVIDERS, type CasinoConnector, type CasinoProvider } from './types.ts'

/** The connectors by the protocol they implement. */
const connectorsByProtocol: Readonly<Record<string, CasinoConnector>> = {
  softswiss,
  altenar,
  betsoftware,
  'playtech-pam': playtechPam,
}

/**
 * Every casino connector by provider id: each platform's description names the protocol it
 * speaks, so a platform that resells another's API needs no connector of its own.
 */
export const casinoConnectors = Object.fromEntries(
  CASINO_PROVIDERS.map((id) => {
    const protocol = providerById(id).protocol
    const connector = connectorsByProtocol[protocol]
    if (!connector)
      throw new Error(`casino provider "${id}" names protocol "${protocol}", which has no connector`)
    return [id, connector]
  }),
) as Record<CasinoProvider, CasinoConnector>

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
