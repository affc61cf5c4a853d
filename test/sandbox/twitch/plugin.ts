/**
 * Twitch as its clients see it, under `/twitch` (both the API and the auth base URL of a client
 * are `<sandbox>/twitch`, as they would be `https://api.twitch.tv` and `https://id.twitch.tv`):
 *
 * - `POST /oauth2/token` (form: `client_id`, `client_secret`, `grant_type=client_credentials`)
 *   → `{access_token, expires_in, token_type:"bearer"}`; an unknown client id → 400, a wrong
 *   secret → 403 `{status, message:"invalid client secret"}`.
 * - The authorization code flow (a broadcaster's user token, for connect links):
 *   `GET /oauth2/authorize?response_type=code&client_id&redirect_uri&scope&state` is a consent
 *   page that answers at once (a code for the first user, or the one `TwitchSandbox.setConsent`
 *   names) or refuses (`error=access_denied`); `POST /oauth2/token` with
 *   `grant_type=authorization_code` (one use per code, bound to client and redirect URI, the S256
 *   check when a challenge was sent) or `refresh_token` answers `{access_token, refresh_token,
 *   expires_in, scope: [...]}`, a refused one 400 `{status, message:"Invalid authorization code"}`
 *   (or `"Invalid refresh token"`); the scopes granted count as the broadcaster's authorization.
 *   `GET /oauth2/validate` (`Authorization: OAuth <token>`) → `{client_id, login, scopes,
 *   user_id, expires_in}`, 401 for a token it does not know.
 * - Helix (`/helix/...`): `Authorization: Bearer <app token>` and the token's `Client-Id`, else
 *   401 `{error:"Unauthorized", status:401, message:"Invalid OAuth token"}`. Every answer carries
 *   `Ratelimit-Limit`, `Ratelimit-Remaining` and `Ratelimit-Reset` (epoch seconds); 429 when the
 *   client's points for the window are spent.
 * - `GET /helix/users?login=...` and `GET /helix/streams?user_login=...&first=`: up to 100 values
 *   per request (400 beyond); streams lists live channels only.
 * - `GET /helix/eventsub/subscriptions?status=&type=&after=`: the client's subscriptions, 100 a
 *   page, with `total`, `total_cost`, `max_total_cost` and `pagination.cursor`.
 * - `POST /helix/eventsub/subscriptions`: 202 with the new subscription (status
 *   `webhook_callback_verification_pending`; the verification is then sent to the callback);
 *   409 for a duplicate (same type, condition and callback, not failed or revoked); 400 for a bad
 *   body; 403 for `channel.subscribe` unless the broadcaster authorised the application.
 * - `DELETE /helix/eventsub/subscriptions?id=`: 204, or 404.
 *
 * Control (`/_sandbox/twitch`, for the demo and for people trying Switchboard):
 * `POST /live {login, title?, gameName?, viewerCount?}` and `POST /offline {login}` change a
 * channel and send its notifications (answering with the deliveries' message ids and statuses);
 * `POST /revoke {id, reason}` revokes a subscription; `GET /subscriptions` lists every one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { consentPage } from '../oauth/index.ts'
import { type Instrumentation, instrument } from '../recording.ts'
import {
  subscriptionJson,
  TWITCH_MAX_PER_REQUEST,
  TWITCH_PATH_PREFIX,
  TWITCH_PROVIDER,
  type TwitchSandbox,
} from './state.ts'

const ERRORS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
}

function fail(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).send({ error: ERRORS[status] ?? 'Error', status, message })
}

/** Every value of a repeated query parameter. */
function values(req: FastifyRequest, name: string): string[] {
  const url = new URL(req.url, 'http://sandbox')
  return url.searchParams.getAll(name)
}

const DEAD = new Set([
  'webhook_callback_verification_failed',
  'notification_failures_exceeded',
  'authorization_revoked',
  'user_removed',
  'version_removed',
  'moderator_removed',
])

export function twitchPlugin(state: TwitchSandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(
      async (api) => {
        instrument(api, TWITCH_PROVIDER, inst)
        api.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: 16 * 1024 },
          (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
        )

        api.post('/oauth2/token', async (req, reply) => {
          state.count('token')
          const form = (req.body ?? {}) as Record<string, string | undefined>
          const q = Object.fromEntries(new URL(req.url, 'http://sandbox').searchParams)
          const clientId = form.client_id ?? q.client_id
          const secret = form.client_secret ?? q.client_secret
          const grant = form.grant_type ?? q.grant_type
          if (grant !== 'client_credentials' && grant !== 'authorization_code' && grant !== 'refresh_token')
            return reply.code(400).send({ status: 400, message: 'unsupported grant type' })
          if (!clientId || !state.clients.has(clientId))
            return reply.code(400).send({ status: 400, message: 'invalid client' })
          if (state.clients.get(clientId) !== secret)
            return reply.code(403).send({ status: 403, message: 'invalid client secret' })
          if (grant !== 'client_credentials') {
            const user =
              grant === 'authorization_code'
                ? state.exchangeCode(clientId, form.code ?? '', form.redirect_uri ?? '', form.code_verifier)
                : state.refreshUser(clientId, form.refresh_token ?? '')
            if (!user) {
              const what = grant === 'authorization_code' ? 'authorization code' : 'refresh token'
              return reply.code(400).send({ status: 400, message: `Invalid ${what}` })
            }
            // as Twitch answers it: the scopes as an array
            return {
              access_token: user.accessToken,
              refresh_token: user.refreshToken,
              expires_in: user.expiresIn,
              scope: user.scopes,
              token_type: 'bearer',
            }
          }
          const { token, expiresIn } = state.issueToken(clientId)
          return { access_token: token, expires_in: expiresIn, token_type: 'bearer' }
        })

        consentPage(api, {
          path: '/oauth2/authorize',
          title: 'Twitch',
          knownClient: (id) => state.clients.has(id),
          consent: (req) => state.consent(req),
          // as Twitch answers: a refusal with its description, a code with the scope
          decorate: (back, answer, q) => {
            if ('error' in answer) back.searchParams.set('error_description', 'The user denied you access')
            else back.searchParams.set('scope', q.scope ?? '')
          },
        })

        api.get('/oauth2/validate', async (req, reply) => {
          const m = /^(?:OAuth|Bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '')
          const user = m?.[1] ? state.validateUser(m[1]) : undefined
          if (!user) return reply.code(401).send({ status: 401, message: 'invalid access token' })
          return {
            client_id: user.clientId,
            login: user.login,
            scopes: user.scopes,
            user_id: user.userId,
            expires_in: user.expiresIn,
          }
        })

        await api.register(
          async (helix) => {
            helix.decorateRequest('twitchClient', '')
            helix.addHook('preHandler', async (req, reply) => {
              const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
              const client = m?.[1] ? state.tokenClient(m[1]) : undefined
              if (!client) return fail(reply, 401, 'Invalid OAuth token')
              if (req.headers['client-id'] !== client)
                return fail(reply, 401, 'Client ID and OAuth token do not match')
              const rl = state.takePoint(client)
              reply.header('Ratelimit-Limit', String(rl.limit))
              reply.header('Ratelimit-Remaining', String(Math.max(0, rl.remaining)))
              reply.header('Ratelimit-Reset', String(rl.reset))
              if (rl.exceeded) return fail(reply, 429, 'Too Many Requests')
              ;(req as unknown as { twitchClient: string }).twitchClient = client
              return undefined
            })
            const clientOf = (req: FastifyRequest) =>
              (req as unknown as { twitchClient: string }).twitchClient

            helix.get('/users', async (req, reply) => {
              state.count('users')
              const logins = values(req, 'login')
              const ids = values(req, 'id')
              if (logins.length + ids.length > TWITCH_MAX_PER_REQUEST)
                return fail(reply, 400, 'too many logins or ids')
              state.batchSizes.users.push(logins.length + ids.length)
              const data = []
              for (const l of logins) {
                const u = state.users.get(l.toLowerCase())
                if (u) data.push(userJson(u))
              }
              for (const id of ids) {
                const u = [...state.users.values()].find((x) => x.id === id)
                if (u) data.push(userJson(u))
              }
              return { data }
            })

            helix.get('/streams', async (req, reply) => {
              state.count('streams')
              const logins = values(req, 'user_login')
              const first = Number(values(req, 'first')[0] ?? 20)
              if (logins.length > TWITCH_MAX_PER_REQUEST)
                return fail(reply, 400, 'too many user_login values')
              if (!Number.isInteger(first) || first < 1 || first > 100)
                return fail(reply, 400, 'first must be 1..100')
              state.batchSizes.streams.push(logins.length)
              const data = []
              for (const l of logins) {
                const u = state.users.get(l.toLowerCase())
                const s = u ? state.streams.get(u.id) : undefined
                if (!u || !s) continue
                data.push({
                  id: s.id,
                  user_id: u.id,
                  user_login: u.login,
                  user_name: u.displayName,
                  game_id: s.gameId,
                  game_name: s.gameName,
                  type: 'live',
                  title: s.title,
                  viewer_count: s.viewerCount,
                  started_at: s.startedAt,
                  language: 'en',
                  thumbnail_url: '',
                  tags: [],
                  is_mature: false,
                })
              }
              return { data: data.slice(0, first), pagination: {} }
            })

            helix.get('/eventsub/subscriptions', async (req, reply) => {
              state.count('subscriptions.list')
              const q = Object.fromEntries(new URL(req.url, 'http://sandbox').searchParams)
              const client = clientOf(req)
              let all = [...state.subscriptions.values()].filter((s) => s.clientId === client)
              if (q.status) all = all.filter((s) => s.status === q.status)
              if (q.type) all = all.filter((s) => s.type === q.type)
              const start = q.after ? Number.parseInt(Buffer.from(q.after, 'base64url').toString(), 10) : 0
              if (!Number.isInteger(start) || start < 0) return fail(reply, 400, 'invalid cursor')
              const page = all.slice(start, start + TWITCH_MAX_PER_REQUEST)
              const next =
                start + page.length < all.length
                  ? Buffer.from(String(start + page.length)).toString('base64url')
                  : undefined
              const t = state.totals(client)
              return {
                data: page.map(subscriptionJson),
                total: t.total,
                total_cost: t.totalCost,
                max_total_cost: t.maxTotalCost,
                pagination: next ? { cursor: next } : {},
              }
            })

            helix.post('/eventsub/subscriptions', async (req, reply) => {
              state.count('subscriptions.create')
              const client = clientOf(req)
              const b = (req.body ?? {}) as Record<string, unknown>
              const transport = (b.transport ?? {}) as Record<string, unknown>
              const condition = (b.condition ?? {}) as Record<string, unknown>
              if (typeof b.type !== 'string' || typeof b.version !== 'string')
                return fail(reply, 400, 'type and version are required')
              if (transport.method !== 'webhook') return fail(reply, 400, 'transport.method must be webhook')
              if (typeof transport.callback !== 'string' || !/^https?:\/\//.test(transport.callback)) {
                return fail(reply, 400, 'transport.callback must be a URL')
              }
              if (
                typeof transport.secret !== 'string' ||
                transport.secret.length < 10 ||
                transport.secret.length > 100
              ) {
                return fail(reply, 400, 'transport.secret must be 10 to 100 characters')
              }
              const broadcaster = condition.broadcaster_user_id
              if (
                typeof broadcaster !== 'string' ||
                ![...state.users.values()].some((u) => u.id === broadcaster)
              ) {
                return fail(reply, 400, 'invalid condition.broadcaster_user_id')
              }
              if (
                b.type === 'channel.subscribe' &&
                !state.authorizations.has(`${broadcaster}:channel:read:subscriptions`)
              ) {
                return fail(reply, 403, 'subscription missing proper authorization')
              }
              const dup = [...state.subscriptions.values()].find(
                (s) =>
                  s.clientId === client &&
                  s.type === b.type &&
                  s.condition.broadcaster_user_id === broadcaster &&
                  s.callback === transport.callback &&
                  !DEAD.has(s.status),
              )
              if (dup) return fail(reply, 409, 'subscription already exists')
              const t = state.totals(client)
              if (t.totalCost + 1 > t.maxTotalCost) return fail(reply, 429, 'total cost exceeded')
              const sub = state.create(client, {
                type: b.type,
                version: b.version,
                condition: { broadcaster_user_id: broadcaster },
                callback: transport.callback,
                secret: transport.secret,
              })
              const after = state.totals(client)
              return reply.code(202).send({
                data: [subscriptionJson(sub)],
                total: after.total,
                total_cost: after.totalCost,
                max_total_cost: after.maxTotalCost,
              })
            })

            helix.delete('/eventsub/subscriptions', async (req, reply) => {
              state.count('subscriptions.delete')
              const id = values(req, 'id')[0]
              const sub = id ? state.subscriptions.get(id) : undefined
              if (!sub || sub.clientId !== clientOf(req)) return fail(reply, 404, 'subscription not found')
              state.subscriptions.delete(sub.id)
              return reply.code(204).send()
            })
          },
          { prefix: '/helix' },
        )
      },
      { prefix: TWITCH_PATH_PREFIX },
    )
    await app.register(
      async (control) => {
        const login = { type: 'string', pattern: '^[A-Za-z0-9_]{1,25}$' }
        const known = (reply: FastifyReply, name: string) => {
          if (state.users.has(name.toLowerCase())) return true
          reply.code(404).send({ error: `no user ${name}` })
          return false
        }
        const outcome = (ds: Array<{ messageId: string; status: number; subscriptionType: string }>) => ({
          deliveries: ds.map((d) => ({ messageId: d.messageId, type: d.subscriptionType, status: d.status })),
        })
        control.post<{ Body: { login: string; title?: string; gameName?: string; viewerCount?: number } }>(
          '/live',
          {
            schema: {
              body: {
                type: 'object',
                required: ['login'],
                additionalProperties: false,
                properties: {
                  login,
                  title: { type: 'string', maxLength: 140 },
                  gameName: { type: 'string', maxLength: 100 },
                  viewerCount: { type: 'integer', minimum: 0 },
                },
              },
            },
          },
          async (req, reply) => {
            if (!known(reply, req.body.login)) return reply
            const { login: l, ...rest } = req.body
            return outcome(await state.goLive(l, rest))
          },
        )
        control.post<{ Body: { login: string } }>(
          '/offline',
          {
            schema: {
              body: {
                type: 'object',
                required: ['login'],
                additionalProperties: false,
                properties: { login },
              },
            },
          },
          async (req, reply) => {
            if (!known(reply, req.body.login)) return reply
            return outcome(await state.goOffline(req.body.login))
          },
        )
        control.post<{ Body: { id: string; reason: string } }>(
          '/revoke',
          {
            schema: {
              body: {
                type: 'object',
                required: ['id', 'reason'],
                additionalProperties: false,
                properties: {
                  id: { type: 'string', maxLength: 64 },
                  reason: { type: 'string', maxLength: 64 },
                },
              },
            },
          },
          async (req, reply) => {
            if (!state.subscriptions.has(req.body.id))
              return reply.code(404).send({ error: 'no such subscription' })
            return outcome([await state.revoke(req.body.id, req.body.reason)])
          },
        )
        control.get('/subscriptions', async () => ({
          data: [...state.subscriptions.values()].map(subscriptionJson),
        }))
      },
      { prefix: '/_sandbox/twitch' },
    )
  }
}

function userJson(u: { id: string; login: string; displayName: string }) {
  return {
    id: u.id,
    login: u.login,
    display_name: u.displayName,
    type: '',
    broadcaster_type: 'partner',
    description: '',
    profile_image_url: '',
    offline_image_url: '',
    view_count: 0,
    created_at: '2020-01-01T00:00:00Z',
  }
}
