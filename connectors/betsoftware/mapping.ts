/**
 * BET Software: everything Switchboard assumes about the platform's partner API, in one file
 * (see README.md). A partner's real specification changes this file only.
 *
 * - Every request carries `X-Partner-Id`, `X-Api-Key`, `X-Timestamp` (unix seconds) and
 *   `X-Signature` = hex HMAC-SHA256(hashKey, stringToSign), where stringToSign is
 *   `METHOD \n path \n canonical query \n body \n timestamp` (see `stringToSign`).
 * - Lists: `GET /v1/partners/{partnerId}/sites/{siteId}/{customers|transactions|game-sessions}`
 *   `?modified_since=<epoch ms>&after_id=<id>&page_size=<n>` → `{ results: [...], more_available }`,
 *   ascending by (modified_ts, id). Timestamps are epoch milliseconds, amounts integers in minor
 *   units, statuses short codes.
 */
import { createHmac } from 'node:crypto'
import { z } from 'zod'
import { betsoftwareProvider } from '../../controller/api/index.ts'
import type { StreamContract, StreamRequest } from '../casino/client.ts'
import {
  count,
  countryCode,
  currencyCode,
  epochMsTime,
  minorUnits,
  optionalText,
  recordId,
} from '../casino/fields.ts'
import type { FetchedPage, PageRequest } from '../casino/read.ts'
import type { PlayerStatus, StreamName, TransactionStatus, TransactionType } from '../casino/types.ts'
import type { BudgetLimits } from '../http/budget.ts'

export const PROVIDER = betsoftwareProvider.id

// --- configuration -------------------------------------------------------------------------

/** The Secret keys and spec settings, as the provider's description declares them. */
export const credentialsSchema = betsoftwareProvider.credentials

export const settingsSchema = betsoftwareProvider.settings.schema
export type BetSoftwareSettings = z.infer<typeof settingsSchema>

/** Assumed host; partners are given theirs by the platform (set `spec.endpoint`). */
export const ENDPOINT = 'https://partner-api.betsoftware.com'

/** The platform account a request budget is shared by: the partner and its api key. */
export function accountIdentity(
  credentials: Record<string, string>,
  settings: BetSoftwareSettings,
): string[] {
  return [settings.partnerId, credentials.apiKey ?? '']
}

export const BUDGET: BudgetLimits = { ratePerSecond: 5, burst: 10 }
export const DEFAULT_PAGE_SIZE = 250
export const MAX_PAGE_SIZE = 500

// --- auth ----------------------------------------------------------------------------------

export const HEADERS = {
  partnerId: 'X-Partner-Id',
  apiKey: 'X-Api-Key',
  timestamp: 'X-Timestamp',
  signature: 'X-Signature',
} as const

/** RFC 3986 encoding (encodeURIComponent plus `!'()*`). */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

/** Query parameters sorted by name, then value, each `encode(name)=encode(value)`, joined by `&`. */
export function canonicalQuery(params: URLSearchParams): string {
  return [...params.entries()]
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${encode(k)}=${encode(v)}`)
    .join('&')
}

/**
 * `METHOD\npath\ncanonicalQuery\nbody\ntimestamp`: the upper-case method, the request path as
 * sent (endpoint prefix included), the canonical query, the exact body ('' for GET) and the
 * `X-Timestamp` value.
 */
export function stringToSign(method: string, url: URL, body: string, timestamp: string): string {
  return [method.toUpperCase(), url.pathname, canonicalQuery(url.searchParams), body, timestamp].join('\n')
}

export function signRequest(
  hashKey: string,
  method: string,
  url: URL,
  body: string,
  timestamp: string,
): string {
  return createHmac('sha256', hashKey)
    .update(stringToSign(method, url, body, timestamp), 'utf8')
    .digest('hex')
}

// --- streams -------------------------------------------------------------------------------

const PATHS: Record<StreamName, string> = {
  players: 'customers',
  transactions: 'transactions',
  games: 'game-sessions',
}

export function listRequest(
  settings: BetSoftwareSettings,
  stream: StreamName,
  page: PageRequest,
): StreamRequest {
  return {
    method: 'GET',
    path: `/v1/partners/${encodeURIComponent(settings.partnerId)}/sites/${encodeURIComponent(settings.siteId)}/${PATHS[stream]}`,
    query: { modified_since: page.since.getTime(), after_id: page.afterId, page_size: page.limit },
  }
}

const PLAYER_STATUS: Record<number, PlayerStatus> = {
  1: 'active',
  2: 'blocked',
  3: 'self_excluded',
  4: 'closed',
}

const TRANSACTION_TYPE: Record<string, TransactionType> = {
  DEP: 'deposit',
  WDR: 'withdrawal',
  BET: 'bet',
  WIN: 'win',
  BON: 'bonus',
  REF: 'refund',
  ADJ: 'adjustment',
}

const TRANSACTION_STATUS: Record<string, TransactionStatus> = {
  P: 'pending',
  C: 'completed',
  F: 'failed',
  X: 'cancelled',
}

const keys = (m: Record<string, unknown>) => Object.keys(m) as [string, ...string[]]

const customer = z
  .object({
    customer_id: recordId,
    email_address: optionalText,
    country_iso: countryCode,
    currency_iso: currencyCode,
    customer_status: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
    registered_ts: epochMsTime,
    modified_ts: epochMsTime,
  })
  .transform((r) => ({
    stream: 'players' as const,
    record: {
      id: r.customer_id,
      ...(r.email_address && { email: r.email_address }),
      ...(r.country_iso && { country: r.country_iso }),
      currency: r.currency_iso,
      status: PLAYER_STATUS[r.customer_status] as PlayerStatus,
      registeredAt: r.registered_ts,
      updatedAt: r.modified_ts,
    },
  }))

const transaction = z
  .object({
    txn_id: recordId,
    customer_id: recordId,
    txn_type: z.enum(keys(TRANSACTION_TYPE)),
    amount_minor: minorUnits,
    currency_iso: currencyCode,
    txn_status: z.enum(keys(TRANSACTION_STATUS)),
    created_ts: epochMsTime,
    modified_ts: epochMsTime,
    game_session_ref: recordId.nullish(),
  })
  .transform((r) => ({
    stream: 'transactions' as const,
    record: {
      id: r.txn_id,
      playerId: r.customer_id,
      type: TRANSACTION_TYPE[r.txn_type] as TransactionType,
      amountMinor: r.amount_minor,
      currency: r.currency_iso,
      status: TRANSACTION_STATUS[r.txn_status] as TransactionStatus,
      createdAt: r.created_ts,
      updatedAt: r.modified_ts,
      ...(r.game_session_ref != null && { gameSessionId: r.game_session_ref }),
    },
  }))

const gameSession = z
  .object({
    session_ref: recordId,
    customer_id: recordId,
    game_code: z.string().min(1),
    game_title: optionalText,
    supplier: optionalText,
    currency_iso: currencyCode,
    stake_minor: minorUnits,
    payout_minor: minorUnits,
    round_count: count,
    start_ts: epochMsTime,
    end_ts: epochMsTime.nullish(),
    modified_ts: epochMsTime,
  })
  .transform((r) => ({
    stream: 'games' as const,
    record: {
      id: r.session_ref,
      playerId: r.customer_id,
      gameId: r.game_code,
      ...(r.game_title && { gameName: r.game_title }),
      ...(r.supplier && { studio: r.supplier }),
      currency: r.currency_iso,
      totalBetMinor: r.stake_minor,
      totalWinMinor: r.payout_minor,
      rounds: r.round_count,
      startedAt: r.start_ts,
      ...(r.end_ts != null && { endedAt: r.end_ts }),
      updatedAt: r.modified_ts,
    },
  }))

function pageOf<T extends z.ZodType<FetchedPage['records'][number]>>(item: T): z.ZodType<FetchedPage> {
  return z
    .object({ results: z.array(item), more_available: z.boolean() })
    .transform((p) => ({ records: p.results as FetchedPage['records'], hasMore: p.more_available }))
}

const PAGE_SCHEMAS: Record<StreamName, z.ZodType<FetchedPage>> = {
  players: pageOf(customer),
  transactions: pageOf(transaction),
  games: pageOf(gameSession),
}

export function contract(settings: BetSoftwareSettings): StreamContract {
  return {
    provider: PROVIDER,
    defaultPageSize: DEFAULT_PAGE_SIZE,
    maxPageSize: MAX_PAGE_SIZE,
    request: (stream, page) => listRequest(settings, stream, page),
    pageSchema: (stream) => PAGE_SCHEMAS[stream],
  }
}
