/**
 * BET Software partner API, as `connectors/betsoftware/README.md` assumes it.
 *
 * - `GET /v1/partners/:partnerId/sites/:siteId/{customers|transactions|game-sessions}`
 *   `?modified_since=<epoch ms>&after_id&page_size` → `{ results, more_available }`.
 * - Auth headers `X-Partner-Id` (must match the path), `X-Api-Key`, `X-Timestamp` (unix
 *   seconds, within the tolerance) and `X-Signature` = hex HMAC-SHA256(hashKey,
 *   `METHOD\npath\ncanonicalQuery\nbody\ntimestamp`); otherwise 401 `{ error, message }` with
 *   error `unknown_api_key`, `stale_timestamp` or `signature_mismatch`.
 * - Timestamps are epoch milliseconds; statuses short codes.
 */
import { createHmac } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type {
  CasinoProvider,
  GameSession,
  Player,
  StreamName,
  Transaction,
} from '../../../connectors/index.ts'
import { pathOf } from '../faults.ts'
import { type Instrumentation, instrument } from '../recording.ts'
import { attribute, checkList, countPerCasino, header, rawQuery, safeEqual, servePage } from './common.ts'
import type { CasinoSandbox } from './state.ts'

export const BETSOFTWARE_PROVIDER: CasinoProvider = 'betsoftware'

const RESOURCES: Record<string, StreamName> = {
  customers: 'players',
  transactions: 'transactions',
  'game-sessions': 'games',
}

const STATUS = { active: 1, blocked: 2, self_excluded: 3, closed: 4 }
const TYPE = {
  deposit: 'DEP',
  withdrawal: 'WDR',
  bet: 'BET',
  win: 'WIN',
  bonus: 'BON',
  refund: 'REF',
  adjustment: 'ADJ',
}
const TX_STATUS = { pending: 'P', completed: 'C', failed: 'F', cancelled: 'X' }

const ms = (iso: string) => Date.parse(iso)

export function renderBetCustomer(p: Player) {
  return {
    customer_id: p.id,
    email_address: p.email ?? null,
    country_iso: p.country ?? null,
    currency_iso: p.currency,
    customer_status: STATUS[p.status],
    registered_ts: ms(p.registeredAt),
    modified_ts: ms(p.updatedAt),
  }
}

export function renderBetTransaction(t: Transaction) {
  return {
    txn_id: t.id,
    customer_id: t.playerId,
    txn_type: TYPE[t.type],
    amount_minor: t.amountMinor,
    currency_iso: t.currency,
    txn_status: TX_STATUS[t.status],
    created_ts: ms(t.createdAt),
    modified_ts: ms(t.updatedAt),
    game_session_ref: t.gameSessionId ?? null,
  }
}

export function renderBetGameSession(g: GameSession) {
  return {
    session_ref: g.id,
    customer_id: g.playerId,
    game_code: g.gameId,
    game_title: g.gameName ?? null,
    supplier: g.studio ?? null,
    currency_iso: g.currency,
    stake_minor: g.totalBetMinor,
    payout_minor: g.totalWinMinor,
    round_count: g.rounds,
    start_ts: ms(g.startedAt),
    end_ts: g.endedAt === undefined ? null : ms(g.endedAt),
    modified_ts: ms(g.updatedAt),
  }
}

/** RFC 3986 percent-encoding. */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

/**
 * The string BET Software signs, computed from the request as it arrived: upper-case method,
 * raw path, the query's pairs decoded, sorted by name then value and re-encoded, the body, the
 * timestamp; joined by newlines.
 */
export function betsoftwareStringToSign(
  method: string,
  url: string,
  body: string,
  timestamp: string,
): string {
  const pairs = [...new URLSearchParams(rawQuery(url)).entries()].sort(([a, x], [b, y]) =>
    a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0,
  )
  const query = pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&')
  return [method.toUpperCase(), pathOf(url), query, body, timestamp].join('\n')
}

const fail = (reply: FastifyReply, status: number, error: string, message: string) =>
  reply.code(status).send({ error, message })

/** Serves the betsoftware API for `provider` (the platform itself, or one that resells its API). */
export function betsoftwarePlugin(
  state: CasinoSandbox,
  inst: Instrumentation,
  provider: CasinoProvider = BETSOFTWARE_PROVIDER,
) {
  return async (app: FastifyInstance): Promise<void> => {
    instrument(app, provider, inst)
    countPerCasino(app, provider, state)

    app.get<{
      Params: { partnerId: string; siteId: string; resource: string }
      Querystring: Record<string, string | undefined>
    }>('/v1/partners/:partnerId/sites/:siteId/:resource', async (req, reply) => {
      const stream = RESOURCES[req.params.resource]
      if (!stream) return fail(reply, 404, 'not_found', 'unknown resource')
      const account = state.account(provider, `${req.params.partnerId}:${req.params.siteId}`)
      if (!account) return fail(reply, 404, 'site_not_found', 'unknown partner or site')
      attribute(req, account.casinoKey)
      const { apiKey = '', hashKey = '' } = account.credentials
      if (
        !safeEqual(header(req, 'x-api-key') ?? '', apiKey) ||
        header(req, 'x-partner-id') !== req.params.partnerId
      ) {
        return fail(reply, 401, 'unknown_api_key', 'unknown api key for this partner')
      }
      const timestamp = header(req, 'x-timestamp') ?? ''
      if (
        !/^\d{1,12}$/.test(timestamp) ||
        Math.abs(Date.now() / 1000 - Number(timestamp)) > state.timestampToleranceSeconds
      ) {
        return fail(reply, 401, 'stale_timestamp', 'X-Timestamp missing or outside the accepted window')
      }
      const expected = createHmac('sha256', hashKey)
        .update(betsoftwareStringToSign(req.method, req.url, '', timestamp))
        .digest('hex')
      if (!safeEqual((header(req, 'x-signature') ?? '').toLowerCase(), expected)) {
        return fail(reply, 401, 'signature_mismatch', 'the request signature does not match')
      }
      const q = checkList(state, req.query.modified_since, req.query.after_id, req.query.page_size)
      if (typeof q === 'string') return fail(reply, 400, 'bad_request', q)
      const page =
        stream === 'players'
          ? servePage(state, account, 'players', q, renderBetCustomer)
          : stream === 'transactions'
            ? servePage(state, account, 'transactions', q, renderBetTransaction)
            : servePage(state, account, 'games', q, renderBetGameSession)
      return { results: page.items, more_available: page.hasMore }
    })
  }
}
