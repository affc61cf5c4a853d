/**
 * Altenar: everything Switchboard assumes about the platform's partner API, in one file (see
 * README.md). A partner's real specification changes this file only.
 *
 * - Login: `POST /api/v2/auth/login` `{ username, password, operatorId, brandId }` →
 *   `{ sessionToken, expiresIn }` (seconds). Later calls carry `X-Session-Token`; an expired
 *   session answers 401.
 * - Lists: `GET /api/v2/operators/{operatorId}/brands/{brandId}/{players|transactions|casino-sessions}`
 *   `?updatedFrom=<ISO>&afterId=<id>&pageSize=<n>` → `{ items: [...], hasMore }`, ascending by
 *   (lastModified, id). Amounts are decimal numbers in major units.
 */
import { z } from 'zod'
import { altenarProvider } from '../../controller/api/index.ts'
import type { StreamContract, StreamRequest } from '../casino/client.ts'
import {
  count,
  countryCode,
  currencyCode,
  decimalAmount,
  isoTime,
  optionalText,
  recordId,
  toMinor,
} from '../casino/fields.ts'
import type { FetchedPage, PageRequest } from '../casino/read.ts'
import type { PlayerStatus, StreamName, TransactionStatus, TransactionType } from '../casino/types.ts'
import type { BudgetLimits } from '../http/budget.ts'

export const PROVIDER = altenarProvider.id

// --- configuration -------------------------------------------------------------------------

/** The Secret keys and spec settings, as the provider's description declares them. */
export const credentialsSchema = altenarProvider.credentials

export const settingsSchema = altenarProvider.settings.schema
export type AltenarSettings = z.infer<typeof settingsSchema>

/** Assumed host; partners are given theirs by the platform (set `spec.endpoint`). */
export const ENDPOINT = 'https://partner-api.altenar.com'

/** The platform account a request budget is shared by. */
export function accountIdentity(credentials: Record<string, string>, settings: AltenarSettings): string[] {
  return [settings.operatorId, credentials.username ?? '']
}

export const BUDGET: BudgetLimits = { ratePerSecond: 5, burst: 10 }
export const DEFAULT_PAGE_SIZE = 500
export const MAX_PAGE_SIZE = 1000

// --- auth ----------------------------------------------------------------------------------

export const LOGIN_PATH = '/api/v2/auth/login'
export const SESSION_HEADER = 'X-Session-Token'

export function loginBody(credentials: Record<string, string>, settings: AltenarSettings) {
  return {
    username: credentials.username,
    password: credentials.password,
    operatorId: settings.operatorId,
    brandId: settings.brandId,
  }
}

export const loginResponse = z
  .object({ sessionToken: z.string().min(1), expiresIn: z.number().int().positive() })
  .transform((r) => ({ value: r.sessionToken, expiresInMs: r.expiresIn * 1000 }))

// --- streams -------------------------------------------------------------------------------

const PATHS: Record<StreamName, string> = {
  players: 'players',
  transactions: 'transactions',
  games: 'casino-sessions',
}

export function listRequest(settings: AltenarSettings, stream: StreamName, page: PageRequest): StreamRequest {
  const base = `/api/v2/operators/${encodeURIComponent(settings.operatorId)}/brands/${encodeURIComponent(settings.brandId)}`
  return {
    method: 'GET',
    path: `${base}/${PATHS[stream]}`,
    query: { updatedFrom: page.since.toISOString(), afterId: page.afterId, pageSize: page.limit },
  }
}

const PLAYER_STATUS: Record<string, PlayerStatus> = {
  Active: 'active',
  Blocked: 'blocked',
  SelfExcluded: 'self_excluded',
  Closed: 'closed',
}

const TRANSACTION_TYPE: Record<string, TransactionType> = {
  Deposit: 'deposit',
  Withdrawal: 'withdrawal',
  BetPlaced: 'bet',
  BetWon: 'win',
  Bonus: 'bonus',
  BetRefund: 'refund',
  Correction: 'adjustment',
}

const TRANSACTION_STATUS: Record<string, TransactionStatus> = {
  Pending: 'pending',
  Confirmed: 'completed',
  Rejected: 'failed',
  Cancelled: 'cancelled',
}

const keys = (m: Record<string, unknown>) => Object.keys(m) as [string, ...string[]]

const player = z
  .object({
    userId: recordId,
    email: optionalText,
    countryCode: countryCode,
    currencyCode: currencyCode,
    accountStatus: z.enum(keys(PLAYER_STATUS)),
    registrationDate: isoTime,
    lastModified: isoTime,
  })
  .transform((r) => ({
    stream: 'players' as const,
    record: {
      id: r.userId,
      ...(r.email && { email: r.email }),
      ...(r.countryCode && { country: r.countryCode }),
      currency: r.currencyCode,
      status: PLAYER_STATUS[r.accountStatus] as PlayerStatus,
      registeredAt: r.registrationDate,
      updatedAt: r.lastModified,
    },
  }))

const transaction = z
  .object({
    transactionId: recordId,
    userId: recordId,
    transactionType: z.enum(keys(TRANSACTION_TYPE)),
    amount: decimalAmount,
    currencyCode: currencyCode,
    transactionStatus: z.enum(keys(TRANSACTION_STATUS)),
    creationDate: isoTime,
    lastModified: isoTime,
    sessionId: recordId.nullish(),
  })
  .transform((r, ctx) => ({
    stream: 'transactions' as const,
    record: {
      id: r.transactionId,
      playerId: r.userId,
      type: TRANSACTION_TYPE[r.transactionType] as TransactionType,
      amountMinor: toMinor(r.amount, r.currencyCode, ctx, ['amount']),
      currency: r.currencyCode,
      status: TRANSACTION_STATUS[r.transactionStatus] as TransactionStatus,
      createdAt: r.creationDate,
      updatedAt: r.lastModified,
      ...(r.sessionId != null && { gameSessionId: r.sessionId }),
    },
  }))

const casinoSession = z
  .object({
    sessionId: recordId,
    userId: recordId,
    gameId: z.string().min(1),
    gameName: optionalText,
    vendor: optionalText,
    currencyCode: currencyCode,
    totalStake: decimalAmount,
    totalWin: decimalAmount,
    roundCount: count,
    startDate: isoTime,
    endDate: isoTime.nullish(),
    lastModified: isoTime,
  })
  .transform((r, ctx) => ({
    stream: 'games' as const,
    record: {
      id: r.sessionId,
      playerId: r.userId,
      gameId: r.gameId,
      ...(r.gameName && { gameName: r.gameName }),
      ...(r.vendor && { studio: r.vendor }),
      currency: r.currencyCode,
      totalBetMinor: toMinor(r.totalStake, r.currencyCode, ctx, ['totalStake']),
      totalWinMinor: toMinor(r.totalWin, r.currencyCode, ctx, ['totalWin']),
      rounds: r.roundCount,
      startedAt: r.startDate,
      ...(r.endDate != null && { endedAt: r.endDate }),
      updatedAt: r.lastModified,
    },
  }))

function pageOf<T extends z.ZodType<FetchedPage['records'][number]>>(item: T): z.ZodType<FetchedPage> {
  return z
    .object({ items: z.array(item), hasMore: z.boolean() })
    .transform((p) => ({ records: p.items as FetchedPage['records'], hasMore: p.hasMore }))
}

const PAGE_SCHEMAS: Record<StreamName, z.ZodType<FetchedPage>> = {
  players: pageOf(player),
  transactions: pageOf(transaction),
  games: pageOf(casinoSession),
}

export function contract(settings: AltenarSettings): StreamContract {
  return {
    provider: PROVIDER,
    defaultPageSize: DEFAULT_PAGE_SIZE,
    maxPageSize: MAX_PAGE_SIZE,
    request: (stream, page) => listRequest(settings, stream, page),
    pageSchema: (stream) => PAGE_SCHEMAS[stream],
  }
}
