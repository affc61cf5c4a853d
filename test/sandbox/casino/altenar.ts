/**
 * Altenar partner API, as `connectors/altenar/README.md` assumes it.
 *
 * - `POST /api/v2/auth/login` `{ username, password, operatorId, brandId }` → 200
 *   `{ sessionToken, expiresIn }`; unknown brand or wrong credentials → 401
 *   `{ error: { code: 'INVALID_CREDENTIALS', message } }`.
 * - `GET /api/v2/operators/:operatorId/brands/:brandId/{players|transactions|casino-sessions}`
 *   `?updatedFrom&afterId&pageSize` with `X-Session-Token` → `{ items, hasMore }`; a missing,
 *   unknown or expired session (or one of another brand) → 401 `{ error: { code: 'SESSION_EXPIRED' } }`.
 * - Amounts are decimal JSON numbers in major units; timestamps ISO 8601 with `+00:00`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import type {
  CasinoProvider,
  GameSession,
  Player,
  StreamName,
  Transaction,
} from '../../../connectors/index.ts'
import { minorToDecimal } from '../../../connectors/index.ts'
import { type Instrumentation, instrument } from '../recording.ts'
import { attribute, checkList, countPerCasino, header, safeEqual, servePage } from './common.ts'
import type { CasinoSandbox } from './state.ts'

export const ALTENAR_PROVIDER: CasinoProvider = 'altenar'

const RESOURCES: Record<string, StreamName> = {
  players: 'players',
  transactions: 'transactions',
  'casino-sessions': 'games',
}

const STATUS = { active: 'Active', blocked: 'Blocked', self_excluded: 'SelfExcluded', closed: 'Closed' }
const TYPE = {
  deposit: 'Deposit',
  withdrawal: 'Withdrawal',
  bet: 'BetPlaced',
  win: 'BetWon',
  bonus: 'Bonus',
  refund: 'BetRefund',
  adjustment: 'Correction',
}
const TX_STATUS = { pending: 'Pending', completed: 'Confirmed', failed: 'Rejected', cancelled: 'Cancelled' }

/** `2024-01-01T00:00:00.000Z` → `2024-01-01T00:00:00+00:00` (Altenar's style, no milliseconds). */
function altenarTime(iso: string): string {
  return iso.replace(/\.000Z$/, '+00:00')
}

const amount = (minor: number, currency: string) => Number(minorToDecimal(minor, currency))

export function renderAltenarPlayer(p: Player) {
  return {
    userId: p.id,
    email: p.email ?? null,
    countryCode: p.country ?? null,
    currencyCode: p.currency,
    accountStatus: STATUS[p.status],
    registrationDate: altenarTime(p.registeredAt),
    lastModified: altenarTime(p.updatedAt),
  }
}

export function renderAltenarTransaction(t: Transaction) {
  return {
    transactionId: t.id,
    userId: t.playerId,
    transactionType: TYPE[t.type],
    amount: amount(t.amountMinor, t.currency),
    currencyCode: t.currency,
    transactionStatus: TX_STATUS[t.status],
    creationDate: altenarTime(t.createdAt),
    lastModified: altenarTime(t.updatedAt),
    sessionId: t.gameSessionId ?? null,
  }
}

export function renderAltenarSession(g: GameSession) {
  return {
    sessionId: g.id,
    userId: g.playerId,
    gameId: g.gameId,
    gameName: g.gameName ?? null,
    vendor: g.studio ?? null,
    currencyCode: g.currency,
    totalStake: amount(g.totalBetMinor, g.currency),
    totalWin: amount(g.totalWinMinor, g.currency),
    roundCount: g.rounds,
    startDate: altenarTime(g.startedAt),
    endDate: g.endedAt === undefined ? null : altenarTime(g.endedAt),
    lastModified: altenarTime(g.updatedAt),
  }
}

const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
  reply.code(status).send({ error: { code, message } })

/** Serves the altenar API for `provider` (the platform itself, or one that resells its API). */
export function altenarPlugin(
  state: CasinoSandbox,
  inst: Instrumentation,
  provider: CasinoProvider = ALTENAR_PROVIDER,
) {
  return async (app: FastifyInstance): Promise<void> => {
    instrument(app, provider, inst)
    countPerCasino(app, provider, state)

    app.post<{ Body: Record<string, unknown> | undefined }>('/api/v2/auth/login', async (req, reply) => {
      const body = req.body ?? {}
      const key = `${String(body.operatorId ?? '')}:${String(body.brandId ?? '')}`
      const account = state.account(provider, key)
      if (account) attribute(req, account.casinoKey)
      const ok =
        account !== undefined &&
        typeof body.username === 'string' &&
        typeof body.password === 'string' &&
        safeEqual(body.username, account.credentials.username ?? '') &&
        safeEqual(body.password, account.credentials.password ?? '')
      if (!ok || !account) return fail(reply, 401, 'INVALID_CREDENTIALS', 'invalid username or password')
      const sessionToken = state.issueGrant(provider, account.casinoKey, state.sessionTtlSeconds)
      return { sessionToken, expiresIn: state.sessionTtlSeconds }
    })

    app.get<{
      Params: { operatorId: string; brandId: string; resource: string }
      Querystring: Record<string, string | undefined>
    }>('/api/v2/operators/:operatorId/brands/:brandId/:resource', async (req, reply) => {
      const stream = RESOURCES[req.params.resource]
      if (!stream) return fail(reply, 404, 'NOT_FOUND', 'unknown resource')
      const account = state.account(provider, `${req.params.operatorId}:${req.params.brandId}`)
      if (!account) return fail(reply, 404, 'BRAND_NOT_FOUND', 'unknown operator or brand')
      attribute(req, account.casinoKey)
      const session = state.grantOwner(provider, header(req, 'x-session-token') ?? '')
      if (session?.casinoKey !== account.casinoKey || !session.live) {
        return fail(reply, 401, 'SESSION_EXPIRED', 'session expired or invalid')
      }
      const q = checkList(state, req.query.updatedFrom, req.query.afterId, req.query.pageSize)
      if (typeof q === 'string') return fail(reply, 400, 'BAD_REQUEST', q)
      const page =
        stream === 'players'
          ? servePage(state, account, 'players', q, renderAltenarPlayer)
          : stream === 'transactions'
            ? servePage(state, account, 'transactions', q, renderAltenarTransaction)
            : servePage(state, account, 'games', q, renderAltenarSession)
      return { items: page.items, hasMore: page.hasMore }
    })
  }
}
