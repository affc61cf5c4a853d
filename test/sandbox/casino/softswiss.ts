/**
 * SOFTSWISS partner API, as `connectors/softswiss/README.md` assumes it.
 *
 * - `POST /api/v1/casinos/:casinoId/{players|transactions|game-sessions}/list`, JSON body
 *   `{ updated_since?, after_id?, limit }` → `{ data: [...], meta: { has_more } }`.
 * - Auth: `X-API-KEY` = the casino's apiKey and `X-REQUEST-SIGN` = hex HMAC-SHA256 of the raw
 *   body with its apiSecret; otherwise 401 `{ error: { code: 'unauthorized', message } }`.
 * - Unknown casino → 404; bad JSON or paging values → 400.
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
import { type Instrumentation, instrument } from '../recording.ts'
import { attribute, checkList, countPerCasino, header, safeEqual, servePage } from './common.ts'
import type { CasinoSandbox } from './state.ts'

export const SOFTSWISS_PROVIDER: CasinoProvider = 'softswiss'

const RESOURCES: Record<string, StreamName> = {
  players: 'players',
  transactions: 'transactions',
  'game-sessions': 'games',
}

const PLAYER_STATUS = {
  active: 'active',
  blocked: 'disabled',
  self_excluded: 'self_excluded',
  closed: 'closed',
}
const KIND = {
  deposit: 'deposit',
  withdrawal: 'cashout',
  bet: 'bet',
  win: 'win',
  bonus: 'bonus',
  refund: 'rollback',
  adjustment: 'correction',
}
const STATE = { pending: 'pending', completed: 'success', failed: 'failed', cancelled: 'cancelled' }

export function renderSoftswissPlayer(p: Player) {
  return {
    id: Number(p.id),
    email: p.email ?? null,
    country: p.country ?? null,
    currency: p.currency,
    status: PLAYER_STATUS[p.status],
    created_at: p.registeredAt,
    updated_at: p.updatedAt,
  }
}

export function renderSoftswissTransaction(t: Transaction) {
  return {
    id: Number(t.id),
    player_id: Number(t.playerId),
    kind: KIND[t.type],
    amount_cents: t.amountMinor,
    currency: t.currency,
    state: STATE[t.status],
    created_at: t.createdAt,
    updated_at: t.updatedAt,
    game_session_id: t.gameSessionId === undefined ? null : Number(t.gameSessionId),
  }
}

export function renderSoftswissGame(g: GameSession) {
  return {
    id: Number(g.id),
    player_id: Number(g.playerId),
    game: { identifier: g.gameId, title: g.gameName ?? null, provider: g.studio ?? null },
    currency: g.currency,
    bets_cents: g.totalBetMinor,
    wins_cents: g.totalWinMinor,
    rounds_count: g.rounds,
    started_at: g.startedAt,
    finished_at: g.endedAt ?? null,
    updated_at: g.updatedAt,
  }
}

const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).send({ error: { code, message } })

/** Serves the softswiss API for `provider` (the platform itself, or one that resells its API). */
export function softswissPlugin(
  state: CasinoSandbox,
  inst: Instrumentation,
  provider: CasinoProvider = SOFTSWISS_PROVIDER,
) {
  return async (app: FastifyInstance): Promise<void> => {
    instrument(app, provider, inst)
    countPerCasino(app, provider, state)
    // the signature covers the bytes that arrived: keep them
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, body, done) =>
      done(null, body),
    )

    app.post<{ Params: { casinoId: string; resource: string } }>(
      '/api/v1/casinos/:casinoId/:resource/list',
      async (req, reply) => {
        const stream = RESOURCES[req.params.resource]
        if (!stream) return fail(reply, 404, 'not_found', 'unknown resource')
        const account = state.account(provider, req.params.casinoId)
        if (!account) return fail(reply, 404, 'casino_not_found', 'unknown casino')
        attribute(req, account.casinoKey)
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
        const { apiKey = '', apiSecret = '' } = account.credentials
        const expected = createHmac('sha256', apiSecret).update(raw).digest('hex')
        if (!safeEqual(header(req, 'x-api-key') ?? '', apiKey)) {
          return fail(reply, 401, 'unauthorized', 'unknown api key')
        }
        if (!safeEqual((header(req, 'x-request-sign') ?? '').toLowerCase(), expected)) {
          return fail(reply, 401, 'unauthorized', 'invalid request signature')
        }
        let body: Record<string, unknown>
        try {
          const parsed: unknown = JSON.parse(raw.toString('utf8'))
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
            throw new Error('not an object')
          body = parsed as Record<string, unknown>
        } catch {
          return fail(reply, 400, 'bad_request', 'body must be a JSON object')
        }
        const q = checkList(state, body.updated_since, body.after_id, body.limit)
        if (typeof q === 'string') return fail(reply, 400, 'bad_request', q)
        const page =
          stream === 'players'
            ? servePage(state, account, 'players', q, renderSoftswissPlayer)
            : stream === 'transactions'
              ? servePage(state, account, 'transactions', q, renderSoftswissTransaction)
              : servePage(state, account, 'games', q, renderSoftswissGame)
        return reply.code(200).send({ data: page.items, meta: { has_more: page.hasMore } })
      },
    )
  }
}
