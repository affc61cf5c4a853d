/**
 * Playtech PAM: everything Switchboard assumes about the platform's partner API, in one file
 * (see README.md). A partner's real specification changes this file only.
 *
 * - OAuth2 client credentials: `POST /oauth2/token` (form `grant_type=client_credentials`,
 *   `scope=pam.read`; `Authorization: Basic base64(clientId:clientSecret)`; `X-License-Key`) →
 *   `{ access_token, token_type: 'Bearer', expires_in }`.
 * - API calls: `Authorization: Bearer <token>` and `X-License-Key: <licenseKey>`.
 * - Lists: `GET /pam/v1/{players|wallet-transactions|game-sessions}`
 *   `?updatedSince=<ISO>&afterCode=<id>&limit=<n>` → `{ data: [...], paging: { hasMore } }`,
 *   ascending by (lastUpdated, code). Amounts are decimal strings in major units.
 */
import { z } from 'zod'
import { playtechPamProvider } from '../../controller/api/index.ts'
import type { StreamContract, StreamRequest } from '../casino/client.ts'
import {
  count,
  countryCode,
  currencyCode,
  isoTime,
  optionalText,
  recordId,
  toMinor,
} from '../casino/fields.ts'
import type { FetchedPage, PageRequest } from '../casino/read.ts'
import type { PlayerStatus, StreamName, TransactionStatus, TransactionType } from '../casino/types.ts'
import type { BudgetLimits } from '../http/budget.ts'

export const PROVIDER = playtechPamProvider.id

// --- configuration -------------------------------------------------------------------------

/** The Secret keys and spec settings, as the provider's description declares them. */
export const credentialsSchema = playtechPamProvider.credentials

export const settingsSchema = playtechPamProvider.settings.schema
export type PlaytechPamSettings = z.infer<typeof settingsSchema>

/** Assumed hosts per region; licensees are given theirs by the platform (set `spec.endpoint`). */
export function endpointFor(settings: PlaytechPamSettings): string {
  return `https://pam-api.${settings.region}.playtech.com`
}

/** The platform account a request budget is shared by: the OAuth client. */
export function accountIdentity(credentials: Record<string, string>): string[] {
  return [credentials.clientId ?? '']
}

export const BUDGET: BudgetLimits = { ratePerSecond: 10, burst: 20 }
export const DEFAULT_PAGE_SIZE = 500
export const MAX_PAGE_SIZE = 1000

// --- auth ----------------------------------------------------------------------------------

export const TOKEN_PATH = '/oauth2/token'
export const TOKEN_SCOPE = 'pam.read'
export const LICENSE_HEADER = 'X-License-Key'

export function tokenRequest(credentials: Record<string, string>) {
  const basic = Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`, 'utf8').toString('base64')
  return {
    form: { grant_type: 'client_credentials', scope: TOKEN_SCOPE },
    headers: { authorization: `Basic ${basic}`, [LICENSE_HEADER]: credentials.licenseKey ?? '' },
  }
}

export const tokenResponse = z
  .object({
    access_token: z.string().min(1),
    token_type: z.string().regex(/^bearer$/i, { message: 'expected a Bearer token' }),
    expires_in: z.number().int().positive(),
  })
  .transform((r) => ({ value: r.access_token, expiresInMs: r.expires_in * 1000 }))

// --- streams -------------------------------------------------------------------------------

const PATHS: Record<StreamName, string> = {
  players: '/pam/v1/players',
  transactions: '/pam/v1/wallet-transactions',
  games: '/pam/v1/game-sessions',
}

export function listRequest(stream: StreamName, page: PageRequest): StreamRequest {
  return {
    method: 'GET',
    path: PATHS[stream],
    query: { updatedSince: page.since.toISOString(), afterCode: page.afterId, limit: page.limit },
  }
}

const PLAYER_STATUS: Record<string, PlayerStatus> = {
  ACTIVE: 'active',
  SUSPENDED: 'blocked',
  SELF_EXCLUDED: 'self_excluded',
  CLOSED: 'closed',
}

const TRANSACTION_TYPE: Record<string, TransactionType> = {
  DEPOSIT: 'deposit',
  WITHDRAW: 'withdrawal',
  BET: 'bet',
  WIN: 'win',
  BONUS: 'bonus',
  REFUND: 'refund',
  ADJUSTMENT: 'adjustment',
}

const TRANSACTION_STATUS: Record<string, TransactionStatus> = {
  PENDING: 'pending',
  OK: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
}

const keys = (m: Record<string, unknown>) => Object.keys(m) as [string, ...string[]]
const decimal = z.string().max(40)

const player = z
  .object({
    playerCode: recordId,
    email: optionalText,
    countryCode: countryCode,
    currency: currencyCode,
    state: z.enum(keys(PLAYER_STATUS)),
    signupDate: isoTime,
    lastUpdated: isoTime,
  })
  .transform((r) => ({
    stream: 'players' as const,
    record: {
      id: r.playerCode,
      ...(r.email && { email: r.email }),
      ...(r.countryCode && { country: r.countryCode }),
      currency: r.currency,
      status: PLAYER_STATUS[r.state] as PlayerStatus,
      registeredAt: r.signupDate,
      updatedAt: r.lastUpdated,
    },
  }))

const walletTransaction = z
  .object({
    transactionCode: recordId,
    playerCode: recordId,
    type: z.enum(keys(TRANSACTION_TYPE)),
    amount: z.object({ value: decimal, currency: currencyCode }),
    state: z.enum(keys(TRANSACTION_STATUS)),
    createdDate: isoTime,
    lastUpdated: isoTime,
    gameSessionCode: recordId.nullish(),
  })
  .transform((r, ctx) => ({
    stream: 'transactions' as const,
    record: {
      id: r.transactionCode,
      playerId: r.playerCode,
      type: TRANSACTION_TYPE[r.type] as TransactionType,
      amountMinor: toMinor(r.amount.value, r.amount.currency, ctx, ['amount', 'value']),
      currency: r.amount.currency,
      status: TRANSACTION_STATUS[r.state] as TransactionStatus,
      createdAt: r.createdDate,
      updatedAt: r.lastUpdated,
      ...(r.gameSessionCode != null && { gameSessionId: r.gameSessionCode }),
    },
  }))

const gameSession = z
  .object({
    gameSessionCode: recordId,
    playerCode: recordId,
    gameCode: z.string().min(1),
    gameName: optionalText,
    studio: optionalText,
    currency: currencyCode,
    totalBet: decimal,
    totalWin: decimal,
    rounds: count,
    startDate: isoTime,
    endDate: isoTime.nullish(),
    lastUpdated: isoTime,
  })
  .transform((r, ctx) => ({
    stream: 'games' as const,
    record: {
      id: r.gameSessionCode,
      playerId: r.playerCode,
      gameId: r.gameCode,
      ...(r.gameName && { gameName: r.gameName }),
      ...(r.studio && { studio: r.studio }),
      currency: r.currency,
      totalBetMinor: toMinor(r.totalBet, r.currency, ctx, ['totalBet']),
      totalWinMinor: toMinor(r.totalWin, r.currency, ctx, ['totalWin']),
      rounds: r.rounds,
      startedAt: r.startDate,
      ...(r.endDate != null && { endedAt: r.endDate }),
      updatedAt: r.lastUpdated,
    },
  }))

function pageOf<T extends z.ZodType<FetchedPage['records'][number]>>(item: T): z.ZodType<FetchedPage> {
  return z
    .object({ data: z.array(item), paging: z.object({ hasMore: z.boolean() }) })
    .transform((p) => ({ records: p.data as FetchedPage['records'], hasMore: p.paging.hasMore }))
}

const PAGE_SCHEMAS: Record<StreamName, z.ZodType<FetchedPage>> = {
  players: pageOf(player),
  transactions: pageOf(walletTransaction),
  games: pageOf(gameSession),
}

export function contract(): StreamContract {
  return {
    provider: PROVIDER,
    defaultPageSize: DEFAULT_PAGE_SIZE,
    maxPageSize: MAX_PAGE_SIZE,
    request: (stream, page) => listRequest(stream, page),
    pageSchema: (stream) => PAGE_SCHEMAS[stream],
  }
}
