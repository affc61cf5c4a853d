/**
 * Calendly API v2 as its clients see it, under `/calendly` (a client's base URL is
 * `<sandbox>/calendly`, as it would be `https://api.calendly.com`):
 *
 * - `Authorization: Bearer <personal access token>`; missing or unknown → 401
 *   `{title:"Unauthenticated", message}`.
 * - `GET /users/me` → `{resource: user}`.
 * - `GET /scheduled_events?organization=|user=&min_start_time&max_start_time&status&count&page_token&sort`
 *   → `{collection, pagination:{count, next_page, previous_page, next_page_token, previous_page_token}}`,
 *   sorted by start time; `count` 1..100 (default 20); neither `organization` nor `user`, or a
 *   bad value → 400 `{title:"Invalid Argument", message, details:[{parameter, message}]}`; another
 *   organization or user → 403.
 * - `GET /scheduled_events/{uuid}` → `{resource}`; `GET /scheduled_events/{uuid}/invitees` (paged
 *   the same way); unknown → 404 `{title:"Resource Not Found"}`.
 * - A user's OAuth access token instead (auth.calendly.com, under the same prefix):
 *   `GET /oauth/authorize` is a consent page that answers at once (a code for the sandbox's
 *   user, or of the organization `setConsent` names) or refuses (`error=access_denied`);
 *   `POST /oauth/token` (form; the client in the form or Basic) takes `authorization_code`
 *   (one use per code, bound to client and redirect URI, the S256 check when a challenge was
 *   sent) and `refresh_token` (single use: each refresh returns a new refresh token), answering
 *   `{token_type, access_token, refresh_token, scope, created_at, expires_in, owner,
 *   organization}` or Calendly's OAuth errors (`invalid_grant` 400, `invalid_client` 401). An
 *   OAuth token reaches only what its scopes cover (`users:read`, `scheduled_events:read`; 403).
 * - Faults for provider `calendly` answer in Calendly's error shape.
 * - `/_sandbox/calendly/*`: bookings, cancellations, webhook subscriptions, deliveries.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { consentPage, type IssuedTokens, tokenClient } from '../oauth/index.ts'
import { type Instrumentation, instrument } from '../recording.ts'
import {
  CALENDLY_DEFAULT_COUNT,
  CALENDLY_MAX_COUNT,
  CALENDLY_PATH_PREFIX,
  CALENDLY_PROVIDER,
  type CalendlySandbox,
  type StoredEventKey,
} from './state.ts'

type Query = Record<string, string | undefined>

/** The scope an OAuth token needs, by path (Calendly's scope catalog). */
const SCOPE_OF: [string, string][] = [
  ['/users', 'users:read'],
  ['/scheduled_events', 'scheduled_events:read'],
]

const pathOf = (url: string) => url.replace(/^\/calendly/, '').split('?')[0] ?? ''

const TITLES: Record<number, [string, string]> = {
  400: ['Invalid Argument', 'The supplied parameters are invalid.'],
  401: ['Unauthenticated', 'The access token is invalid'],
  403: ['Permission Denied', 'You do not have permission to access this resource.'],
  404: ['Resource Not Found', 'The server could not find the requested resource.'],
  429: ['Too Many Requests', 'You have exceeded the rate limit.'],
  500: ['Internal Server Error', 'The server encountered an unexpected condition.'],
}

function errorBody(status: number, details?: { parameter: string; message: string }[]) {
  const [title, message] =
    TITLES[status] ?? (status >= 500 ? (TITLES[500] as [string, string]) : ['Error', 'Error'])
  return details ? { title, message, details } : { title, message }
}

function fail(reply: FastifyReply, status: number, details?: { parameter: string; message: string }[]) {
  return reply.code(status).send(errorBody(status, details))
}

const baseUrlOf = (req: FastifyRequest) => `${req.protocol}://${req.host}${CALENDLY_PATH_PREFIX}`

function encodeToken(key: [number, string], fingerprint: string): string {
  return Buffer.from(JSON.stringify({ k: key, f: fingerprint })).toString('base64url')
}

function decodeToken(token: string): { k: [number, string]; f: string } | undefined {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown; f?: unknown }
    if (
      Array.isArray(v.k) &&
      typeof v.k[0] === 'number' &&
      typeof v.k[1] === 'string' &&
      typeof v.f === 'string'
    ) {
      return { k: [v.k[0], v.k[1]], f: v.f }
    }
  } catch {
    // fall through
  }
  return undefined
}

function after(key: StoredEventKey, cursor: [number, string]): boolean {
  return key.startMs > cursor[0] || (key.startMs === cursor[0] && key.uuid > cursor[1])
}

/** Injected faults get Calendly's error shape unless the test wrote a body of its own. */
function rewriteFault(status: number, payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined
  try {
    const p = JSON.parse(payload) as Record<string, unknown>
    if (p.error === 'injected fault') return JSON.stringify(errorBody(status))
  } catch {
    // not JSON: leave it
  }
  return undefined
}

export function calendlyPlugin(state: CalendlySandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(
      async (api) => {
        instrument(api, CALENDLY_PROVIDER, inst)
        api.addHook('onSend', async (req, reply, payload) => {
          if (!inst.faults.wasFaulted(req) || reply.statusCode < 400) return payload
          return rewriteFault(reply.statusCode, payload) ?? payload
        })
        api.decorateRequest('calendlyOrg', '')
        api.addHook('preHandler', async (req, reply) => {
          const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
          const who = m?.[1] ? state.authorize(m[1]) : undefined
          if (!who) return fail(reply, 401)
          // an OAuth token reaches what its scopes cover (a :write scope covers its :read)
          const need = SCOPE_OF.find(([prefix]) => pathOf(req.url).startsWith(prefix))?.[1]
          if (
            who.scopes &&
            need &&
            !who.scopes.some((s) => s === need || s === need.replace(':read', ':write'))
          )
            return fail(reply, 403)
          ;(req as unknown as { calendlyOrg: string }).calendlyOrg = who.organizationUuid
          return undefined
        })
        const orgOf = (req: FastifyRequest) =>
          `${baseUrlOf(req)}/organizations/${(req as unknown as { calendlyOrg: string }).calendlyOrg}`

        api.get('/users/me', async (req) => {
          const base = baseUrlOf(req)
          return {
            resource: {
              uri: state.userUri(base),
              name: 'Sandbox Host',
              slug: 'sandbox-host',
              email: 'host@sandbox.test',
              scheduling_url: 'https://calendly.com/sandbox-host',
              timezone: 'Europe/Berlin',
              avatar_url: null,
              created_at: '2024-01-01T00:00:00.000000Z',
              updated_at: '2024-01-01T00:00:00.000000Z',
              current_organization: orgOf(req),
              resource_type: 'User',
              locale: 'en',
            },
          }
        })

        api.get<{ Querystring: Query }>('/scheduled_events', async (req, reply) => {
          const q = req.query
          const base = baseUrlOf(req)
          if (!q.organization && !q.user) {
            return fail(reply, 400, [
              { parameter: 'organization', message: 'organization or user is required' },
            ])
          }
          if (q.organization && q.organization !== orgOf(req)) return fail(reply, 403)
          if (q.user && q.user !== state.userUri(base)) return fail(reply, 403)
          const count = q.count === undefined ? CALENDLY_DEFAULT_COUNT : Number(q.count)
          if (!Number.isInteger(count) || count < 1 || count > CALENDLY_MAX_COUNT) {
            return fail(reply, 400, [
              { parameter: 'count', message: `must be between 1 and ${CALENDLY_MAX_COUNT}` },
            ])
          }
          if (q.status !== undefined && q.status !== 'active' && q.status !== 'canceled') {
            return fail(reply, 400, [{ parameter: 'status', message: 'must be one of active, canceled' }])
          }
          if (q.sort !== undefined && q.sort !== 'start_time:asc') {
            return fail(reply, 400, [
              { parameter: 'sort', message: 'the sandbox sorts by start_time:asc only' },
            ])
          }
          const time = (name: 'min_start_time' | 'max_start_time') => {
            const v = q[name]
            if (v === undefined) return { ok: true as const, ms: undefined }
            const ms = Date.parse(v)
            return Number.isNaN(ms) ? { ok: false as const, ms: undefined } : { ok: true as const, ms }
          }
          const min = time('min_start_time')
          const max = time('max_start_time')
          if (!min.ok)
            return fail(reply, 400, [{ parameter: 'min_start_time', message: 'must be an ISO 8601 time' }])
          if (!max.ok)
            return fail(reply, 400, [{ parameter: 'max_start_time', message: 'must be an ISO 8601 time' }])
          const fingerprint = [
            q.organization ?? '',
            q.user ?? '',
            q.min_start_time ?? '',
            q.max_start_time ?? '',
            q.status ?? '',
          ].join('|')
          let cursor: [number, string] | undefined
          if (q.page_token !== undefined) {
            const t = decodeToken(q.page_token)
            if (!t || t.f !== fingerprint) {
              return fail(reply, 400, [{ parameter: 'page_token', message: 'is invalid' }])
            }
            cursor = t.k
          }
          const filter: { minStartMs?: number; maxStartMs?: number; status?: string } = {}
          if (min.ms !== undefined) filter.minStartMs = min.ms
          if (max.ms !== undefined) filter.maxStartMs = max.ms
          if (q.status !== undefined) filter.status = q.status
          const all = state.listEvents(filter)
          const rest = cursor ? all.filter((k) => after(k, cursor)) : all
          const slice = rest.slice(0, count)
          const last = slice.at(-1)
          const nextToken =
            rest.length > count && last ? encodeToken([last.startMs, last.uuid], fingerprint) : null
          let nextPage: string | null = null
          if (nextToken) {
            const u = new URL(`${base}/scheduled_events`)
            for (const [k, v] of Object.entries(q))
              if (v !== undefined && k !== 'page_token') u.searchParams.set(k, v)
            u.searchParams.set('page_token', nextToken)
            nextPage = u.href
          }
          return {
            collection: slice.map((k) => state.eventResource(k.uuid, base)),
            pagination: {
              count: slice.length,
              next_page: nextPage,
              previous_page: null,
              next_page_token: nextToken,
              previous_page_token: null,
            },
          }
        })

        api.get<{ Params: { uuid: string } }>('/scheduled_events/:uuid', async (req, reply) => {
          if (!state.has(req.params.uuid)) return fail(reply, 404)
          return { resource: state.eventResource(req.params.uuid, baseUrlOf(req)) }
        })

        api.get<{ Params: { uuid: string }; Querystring: Query }>(
          '/scheduled_events/:uuid/invitees',
          async (req, reply) => {
            if (!state.has(req.params.uuid)) return fail(reply, 404)
            const count = req.query.count === undefined ? CALENDLY_DEFAULT_COUNT : Number(req.query.count)
            if (!Number.isInteger(count) || count < 1 || count > CALENDLY_MAX_COUNT) {
              return fail(reply, 400, [
                { parameter: 'count', message: `must be between 1 and ${CALENDLY_MAX_COUNT}` },
              ])
            }
            const all = state.invitees(req.params.uuid, baseUrlOf(req), req.query.status)
            const offset = req.query.page_token
              ? Number(Buffer.from(req.query.page_token, 'base64url').toString())
              : 0
            if (!Number.isInteger(offset) || offset < 0) {
              return fail(reply, 400, [{ parameter: 'page_token', message: 'is invalid' }])
            }
            const slice = all.slice(offset, offset + count)
            const next =
              offset + count < all.length ? Buffer.from(String(offset + count)).toString('base64url') : null
            return {
              collection: slice,
              pagination: {
                count: slice.length,
                next_page: null,
                previous_page: null,
                next_page_token: next,
                previous_page_token: null,
              },
            }
          },
        )
      },
      { prefix: CALENDLY_PATH_PREFIX },
    )

    // auth.calendly.com: the consent page and the token endpoint (no bearer token there)
    await app.register(
      async (auth) => {
        instrument(auth, CALENDLY_PROVIDER, inst)
        auth.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: 16 * 1024 },
          (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
        )
        consentPage(auth, {
          path: '/oauth/authorize',
          title: 'Calendly',
          knownClient: (id) => state.oauthClients.has(id),
          consent: (req) => state.consent(req),
        })
        auth.post('/oauth/token', async (req, reply) => {
          const form = (req.body ?? {}) as Record<string, string | undefined>
          if (
            typeof form !== 'object' ||
            !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')
          )
            return reply.code(400).send({ error: 'invalid_request', error_description: 'form body expected' })
          const grant = form.grant_type
          if (grant !== 'authorization_code' && grant !== 'refresh_token')
            return reply.code(400).send({
              error: 'unsupported_grant_type',
              error_description: 'The authorization grant type is not supported by the authorization server.',
            })
          const client = tokenClient(form, req.headers.authorization)
          if (!client.clientId || state.oauthClients.get(client.clientId) !== client.clientSecret)
            return reply.code(401).send({
              error: 'invalid_client',
              error_description:
                'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
            })
          let issued: IssuedTokens | undefined
          let organizationUuid: string | undefined
          if (grant === 'authorization_code') {
            const c = state.codes.redeem(
              client.clientId,
              form.code ?? '',
              form.redirect_uri ?? '',
              form.code_verifier,
            )
            if (c) {
              organizationUuid = c.grant.organizationUuid
              issued = state.userTokens.issue({ clientId: client.clientId, grant: c.grant, scopes: c.scopes })
            }
          } else {
            issued = state.userTokens.refresh(client.clientId, form.refresh_token ?? '')
            if (issued) organizationUuid = state.userTokens.lookup(issued.accessToken)?.grant.organizationUuid
          }
          if (!issued)
            return reply.code(400).send({
              error: 'invalid_grant',
              error_description:
                'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
            })
          const base = baseUrlOf(req)
          return {
            token_type: 'Bearer',
            access_token: issued.accessToken,
            refresh_token: issued.refreshToken,
            scope: issued.scopes.join(' '),
            created_at: Math.floor(Date.now() / 1000),
            expires_in: issued.expiresIn,
            owner: state.userUri(base),
            organization: `${base}/organizations/${organizationUuid}`,
          }
        })
      },
      { prefix: CALENDLY_PATH_PREFIX },
    )

    await app.register(async (ctl) => {
      const base = '/_sandbox/calendly'
      ctl.post<{
        Body: {
          name?: string
          startTime: string
          endTime: string
          invitee?: { email: string; name?: string }
          location?: string
          notes?: string
        }
      }>(
        `${base}/bookings`,
        {
          schema: {
            body: {
              type: 'object',
              required: ['startTime', 'endTime'],
              additionalProperties: false,
              properties: {
                name: { type: 'string', maxLength: 256 },
                startTime: { type: 'string' },
                endTime: { type: 'string' },
                invitee: {
                  type: 'object',
                  required: ['email'],
                  additionalProperties: false,
                  properties: { email: { type: 'string' }, name: { type: 'string' } },
                },
                location: { type: 'string', maxLength: 256 },
                notes: { type: 'string', maxLength: 10_000 },
              },
            },
          },
        },
        async (req, reply) => {
          try {
            return reply.code(201).send(state.book(req.body))
          } catch (err) {
            return reply.code(400).send({ error: (err as Error).message })
          }
        },
      )
      ctl.post<{ Params: { uuid: string }; Body: { reason?: string } | undefined }>(
        `${base}/scheduled_events/:uuid/cancel`,
        async (req, reply) => {
          if (!state.has(req.params.uuid)) return reply.code(404).send({ error: 'unknown scheduled event' })
          state.cancel(req.params.uuid, req.body?.reason)
          return reply.code(204).send()
        },
      )
      ctl.post<{
        Body: { url: string; signingKey: string; events?: ('invitee.created' | 'invitee.canceled')[] }
      }>(
        `${base}/webhooks`,
        {
          schema: {
            body: {
              type: 'object',
              required: ['url', 'signingKey'],
              additionalProperties: false,
              properties: {
                url: { type: 'string', pattern: '^https?://' },
                signingKey: { type: 'string', minLength: 1, maxLength: 1024 },
                events: {
                  type: 'array',
                  items: { type: 'string', enum: ['invitee.created', 'invitee.canceled'] },
                },
              },
            },
          },
        },
        async (req, reply) => {
          state.addWebhook(req.body)
          return reply.code(204).send()
        },
      )
      ctl.post<{ Body: { token: string } }>(
        `${base}/tokens`,
        {
          schema: {
            body: {
              type: 'object',
              required: ['token'],
              additionalProperties: false,
              properties: { token: { type: 'string', minLength: 1, maxLength: 1024 } },
            },
          },
        },
        async (req, reply) => {
          state.addToken(req.body.token)
          return reply.code(204).send()
        },
      )
      // who answers the consent page next: a refusal, or a user of another organization
      ctl.post<{ Body: { refuse?: boolean; organizationUuid?: string } }>(
        `${base}/consent`,
        {
          schema: {
            body: {
              type: 'object',
              additionalProperties: false,
              properties: {
                refuse: { type: 'boolean' },
                organizationUuid: { type: 'string', minLength: 1, maxLength: 64 },
              },
            },
          },
        },
        async (req, reply) => {
          state.setConsent(req.body ?? {})
          return reply.code(204).send()
        },
      )
      ctl.get(`${base}/deliveries`, async () => ({ deliveries: state.deliveries() }))
    })
  }
}
