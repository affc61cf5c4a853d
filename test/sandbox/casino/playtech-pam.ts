/**
 * Playtech PAM partner API, as `connectors/playtech-pam/README.md` assumes it.
 *
 * - `POST /oauth2/token`, form `grant_type=client_credentials` (`scope` optional), Basic auth
 *   `clientId:clientSecret` and `X-License-Key` → `{ access_token, token_type: 'Bearer',
 *   expires_in }`; wrong client → 401 `{ error: 'invalid_client', error_description }`; wrong
 *   grant → 400 `{ error: 'unsupported_grant_type' }`.
 * - `GET /pam/v1/{players|wallet-transactions|game-sessions}?updatedSince&afterCode&limit` with
 *   `Authorization: Bearer` and `X-License-Key` → `{ data, paging: { hasMore } }`; a missing,
 *   unknown or expired token → 401 `{ error: 'invalid_token' }`; a license key that is not the
 *   client's → 403.
 * - Amounts are decimal strings in major units.
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

export const PLAYTECH_PAM_PROVIDER: CasinoProvider = 'playtech-pam'

const RESOURCES: Record<string, StreamName> = {
  players: 'players',
  'wallet-transactions': 'transactions',
  'game-sessions': 'games',
}

const STATUS = { active: 'ACTIVE', blocked: 'SUSPENDED', self_excluded: 'SELF_EXCLUDED', closed: 'CLOSED' }
const TYPE = {
  deposit: 'DEPOSIT',
  withdrawal: 'WITHDRAW',
  bet: 'BET',
  win: 'WIN',
  bonus: 'BONUS',
  refund: 'REFUND',
  adjustment: 'ADJUSTMENT',
}
const TX_STATUS = { pending: 'PENDING', completed: 'OK', failed: 'FAILED', cancelled: 'CANCELLED' }

export function renderPlaytechPlayer(p: Player) {
  return {
    playerCode: p.id,
    email: p.email ?? null,
    countryCode: p.country ?? null,
    currency: p.currency,
    state: STATUS[p.status],
    signupDate: p.registeredAt,
    lastUpdated: p.updatedAt,
  }
}

export function renderPlaytechTransaction(t: Transaction) {
  return {
    transactionCode: t.id,
    playerCode: t.playerId,
    type: TYPE[t.type],
    amount: { value: minorToDecimal(t.amountMinor, t.currency), currency: t.currency },
    state: TX_STATUS[t.status],
    createdDate: t.createdAt,
    lastUpdated: t.updatedAt,
    gameSessionCode: t.gameSessionId ?? null,
  }
}

export function renderPlaytechGameSession(g: GameSession) {
  return {
    gameSessionCode: g.id,
    playerCode: g.playerId,
    gameCode: g.gameId,
    gameName: g.gameName ?? null,
    studio: g.studio ?? null,
    currency: g.currency,
    totalBet: minorToDecimal(g.totalBetMinor, g.currency),
    totalWin: minorToDecimal(g.totalWinMinor, g.currency),
    rounds: g.rounds,
    startDate: g.startedAt,
    endDate: g.endedAt ?? null,
    lastUpdated: g.updatedAt,
  }
}

/** clientId and clientSecret of a `Basic` header. */
function basicCredentials(value: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(value ?? '')
  if (!m?.[1]) return undefined
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
}

const oauthError = (reply: FastifyReply, status: number, error: string, description: string) =>
  reply.code(status).send({ error, error_description: description })

/** Serves the playtech-pam API for `provider` (the platform itself, or one that resells its API). */
export function playtechPamPlugin(
  state: CasinoSandbox,
  inst: Instrumentation,
  provider: CasinoProvider = PLAYTECH_PAM_PROVIDER,
) {
  return async (app: FastifyInstance): Promise<void> => {
    instrument(app, provider, inst)
    countPerCasino(app, provider, state)
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    )

    app.post<{ Body: Record<string, string> | undefined }>('/oauth2/token', async (req, reply) => {
      const client = basicCredentials(header(req, 'authorization'))
      const account = client ? state.account(provider, client.id) : undefined
      if (account) attribute(req, account.casinoKey)
      if (
        !client ||
        !account ||
        !safeEqual(client.secret, account.credentials.clientSecret ?? '') ||
        !safeEqual(header(req, 'x-license-key') ?? '', account.credentials.licenseKey ?? '')
      ) {
        return oauthError(reply, 401, 'invalid_client', 'client authentication failed')
      }
      if (req.body?.grant_type !== 'client_credentials') {
        return oauthError(reply, 400, 'unsupported_grant_type', 'only client_credentials is supported')
      }
      const token = state.issueGrant(provider, account.casinoKey, state.tokenTtlSeconds)
      return { access_token: token, token_type: 'Bearer', expires_in: state.tokenTtlSeconds }
    })

    app.get<{ Params: { resource: string }; Querystring: Record<string, string | undefined> }>(
      '/pam/v1/:resource',
      async (req, reply) => {
        const stream = RESOURCES[req.params.resource]
        if (!stream) return reply.code(404).send({ error: 'not_found' })
        const token = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1] ?? ''
        const grant = state.grantOwner(provider, token)
        const account = grant === undefined ? undefined : state.account(provider, grant.casinoKey)
        if (account) attribute(req, account.casinoKey)
        if (!account || !grant?.live) {
          return oauthError(reply, 401, 'invalid_token', 'the access token is invalid or expired')
        }
        if (!safeEqual(header(req, 'x-license-key') ?? '', account.credentials.licenseKey ?? '')) {
          return oauthError(reply, 403, 'license_mismatch', 'the license key does not belong to this client')
        }
        const q = checkList(state, req.query.updatedSince, req.query.afterCode, req.query.limit)
        if (typeof q === 'string') return reply.code(400).send({ error: 'invalid_request', message: q })
        const page =
          stream === 'players'
            ? servePage(state, account, 'players', q, renderPlaytechPlayer)
            : stream === 'transactions'
              ? servePage(state, account, 'transactions', q, renderPlaytechTransaction)
              : servePage(state, account, 'games', q, renderPlaytechGameSession)
        return { data: page.items, paging: { hasMore: page.hasMore } }
      },
    )
  }
}
