/**
 * SOFTSWISS: everything Switchboard assumes about the platform's partner API, in one file (see
 * README.md). A partner's real specification changes this file only.
 *
 * - Every call is a POST with a JSON body, signed: `X-REQUEST-SIGN` = hex HMAC-SHA256 of the
 *   exact body bytes, keyed with the casino's `apiSecret`; `X-API-KEY` = `apiKey` says which
 *   casino account signs.
 * - Lists: `POST /api/v1/casinos/{casinoId}/{players|transactions|game-sessions}/list` with
 *   `{ updated_since, after_id, limit }` → `{ data: [...], meta: { has_more } }`, ascending by
 *   (updated_at, id); ids are integers.
 */
import { createHmac } from 'node:crypto'
import { z } from 'zod'
import { softswissProvider } from '../../controller/api/index.ts'
import type { StreamContract, StreamRequest } from '../casino/client.ts'
import {
  count,
  countryCode,
  currencyCode,
  isoTime,
  minorUnits,
  optionalText,
  recordId,
} from '../casino/fields.ts'
import type { FetchedPage, PageRequest } from '../casino/read.ts'
import type {
  GameSession,
  Player,
  PlayerStatus,
  StreamName,
  Transaction,
  TransactionStatus,
  TransactionType,
} from '../casino/types.ts'
import type { BudgetLimits } from '../http/budget.ts'

export const PROVIDER = softswissProvider.id

// --- configuration -------------------------------------------------------------------------

/** The Secret keys and spec settings, as the provider's description declares them. */
export const credentialsSchema = softswissProvider.credentials

export const settingsSchema = softswissProvider.settings.schema
export type SoftswissSettings = z.infer<typeof settingsSchema>

/** Assumed hosts; partners are given theirs by the platform (set `spec.endpoint`). */
export const ENDPOINTS: Record<SoftswissSettings['environment'], string> = {
  production: 'https://partner-api.softswiss.com',
  staging: 'https://partner-api.staging.softswiss.com',
}

/** The platform account a request budget is shared by. */
export function accountIdentity(credentials: Record<string, string>): string[] {
  return [credentials.apiKey ?? '']
}

export const BUDGET: BudgetLimits = { ratePerSecond: 10, burst: 20 }
export const DEFAULT_PAGE_SIZE = 500
export const MAX_PAGE_SIZE = 1000

// --- auth ----------------------------------------------------------------------------------

export const API_KEY_HEADER = 'X-API-KEY'
export const SIGNATURE_HEADER = 'X-REQUEST-SIGN'

/** Hex HMAC-SHA256 of the body bytes, keyed with the api secret. */
export function signBody(apiSecret: string, body: string): string {
  return createHmac('sha256', apiSecret).update(body, 'utf8').digest('hex')
}

// --- streams -------------------------------------------------------------------------------

const PATHS: Record<StreamName, string> = {
  players: 'players/list',
  transactions: 'transactions/list',
  games: 'game-sessions/list',
}

export function listRequest(
  settings: SoftswissSettings,
  stream: StreamName,
  page: PageRequest,
): StreamRequest {
  return {
    method: 'POST',
    path: `/api/v1/casinos/${encodeURIComponent(settings.casinoId)}/${PATHS[stream]}`,
    json: { updated_since: page.since.toISOString(), after_id: page.afterId ?? null, limit: page.limit },
  }
}

const PLAYER_STATUS: Record<string, PlayerStatus> = {
  active: 'active',
  disabled: 'blocked',
  self_excluded: 'self_excluded',
  closed: 'closed',
}

const TRANSACTION_TYPE: Record<string, TransactionType> = {
  deposit: 'deposit',
  cashout: 'withdrawal',
  bet: 'bet',
  win: 'win',
  bonus: 'bonus',
  rollback: 'refund',
  correction: 'adjustment',
}

const TRANSACTION_STATUS: Record<string, TransactionStatus> = {
  pending: 'pending',
  success: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
}

const keys = (m: Record<string, unknown>) => Object.keys(m) as [string, ...string[]]

const rawPlayer = z.object({
  id: recordId,
  email: optionalText,
  country: countryCode,
  currency: currencyCode,
  status: z.enum(keys(PLAYER_STATUS)),
  created_at: isoTime,
  updated_at: isoTime,
})

const rawTransaction = z.object({
  id: recordId,
  player_id: recordId,
  kind: z.enum(keys(TRANSACTION_TYPE)),
  amount_cents: minorUnits,
  currency: currencyCode,
  state: z.enum(keys(TRANSACTION_STATUS)),
  created_at: isoTime,
  updated_at: isoTime,
  game_session_id: recordId.nullish(),
})

const rawGameSession = z.object({
  id: recordId,
  player_id: recordId,
  game: z.object({ identifier: z.string().min(1), title: optionalText, provider: optionalText }),
  currency: currencyCode,
  bets_cents: minorUnits,
  wins_cents: minorUnits,
  rounds_count: count,
  started_at: isoTime,
  finished_at: isoTime.nullish(),
  updated_at: isoTime,
})

export function toPlayer(r: z.output<typeof rawPlayer>): Player {
  return {
    id: r.id,
    ...(r.email && { email: r.email }),
    ...(r.country && { country: r.country }),
    currency: r.currency,
    status: PLAYER_STATUS[r.status] as PlayerStatus,
    registeredAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

export function toTransaction(r: z.output<typeof rawTransaction>): Transaction {
  return {
    id: r.id,
    playerId: r.player_id,
    type: TRANSACTION_TYPE[r.kind] as TransactionType,
    amountMinor: r.amount_cents,
    currency: r.currency,
    status: TRANSACTION_STATUS[r.state] as TransactionStatus,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.game_session_id != null && { gameSessionId: r.game_session_id }),
  }
}

export function toGameSession(r: z.output<typeof rawGameSession>): GameSession {
  return {
    id: r.id,
    playerId: r.player_id,
    gameId: r.game.identifier,
    ...(r.game.title && { gameName: r.game.title }),
    ...(r.game.provider && { studio: r.game.provider }),
    currency: r.currency,
    totalBetMinor: r.bets_cents,
    totalWinMinor: r.wins_cents,
    rounds: r.rounds_count,
    startedAt: r.started_at,
    ...(r.finished_at != null && { endedAt: r.finished_at }),
    updatedAt: r.updated_at,
  }
}

const meta = z.object({ has_more: z.boolean() })

const PAGE_SCHEMAS: Record<StreamName, z.ZodType<FetchedPage>> = {
  players: z.object({ data: z.array(rawPlayer), meta }).transform((p) => ({
    records: p.data.map((r) => ({ stream: 'players' as const, record: toPlayer(r) })),
    hasMore: p.meta.has_more,
  })),
  transactions: z.object({ data: z.array(rawTransaction), meta }).transform((p) => ({
    records: p.data.map((r) => ({ stream: 'transactions' as const, record: toTransaction(r) })),
    hasMore: p.meta.has_more,
  })),
  games: z.object({ data: z.array(rawGameSession), meta }).transform((p) => ({
    records: p.data.map((r) => ({ stream: 'games' as const, record: toGameSession(r) })),
    hasMore: p.meta.has_more,
  })),
}

export function contract(settings: SoftswissSettings): StreamContract {
  return {
    provider: PROVIDER,
    defaultPageSize: DEFAULT_PAGE_SIZE,
    maxPageSize: MAX_PAGE_SIZE,
    request: (stream, page) => listRequest(settings, stream, page),
    pageSchema: (stream) => PAGE_SCHEMAS[stream],
  }
}
