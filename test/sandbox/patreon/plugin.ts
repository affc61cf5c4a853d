/**
 * Patreon API v2 as its clients see it, under `/patreon` (a connector's endpoint is
 * `<sandbox>/patreon`, as it would be `https://www.patreon.com`):
 *
 * - `GET /oauth2/authorize?response_type=code&client_id&redirect_uri&scope&state` (the consent
 *   page, which answers at once): 302 to `redirect_uri?code=...&state=...`, or
 *   `?error=access_denied&state=...` when the test said to refuse (`POST
 *   /_sandbox/patreon/consent {refuse}` or `PatreonSandbox.setConsent`). An unknown client or a
 *   missing or non-http(s) redirect URI is a 400 page (never a redirect, as RFC 6749 §4.1.2.1 says).
 *   `code_challenge` (S256) is honoured when sent, though Patreon does not document PKCE.
 * - `POST /api/oauth2/token` (form): `grant_type=refresh_token` with `refresh_token`,
 *   `client_id`, `client_secret` → `{access_token, refresh_token, expires_in, scope, token_type}`;
 *   the refresh token used is spent (rotation). Unknown or spent refresh token → 400
 *   `{error:"invalid_grant"}`; wrong client → 401 `{error:"invalid_client"}`.
 *   `grant_type=authorization_code` with `code`, `redirect_uri` (and `code_verifier`): the same
 *   answer, once per code; a spent, expired or foreign code → 400 `{error:"invalid_grant"}`.
 * - `Authorization: Bearer <access token>`; missing, unknown or expired → 401 JSON:API errors.
 *   Over the per-token rate limit → 429 `{errors:[{code_name:"RequestThrottled", retry_after_seconds}]}`
 *   (no `Retry-After` header: the body is where Patreon says it).
 * - `GET /api/oauth2/v2/campaigns`, `/campaigns/{id}` (`include=tiers`), `/campaigns/{id}/members`
 *   (`include=currently_entitled_tiers,user`, `page[count]` ≤ 1000, `page[cursor]`, next cursor in
 *   `meta.pagination.cursors.next`). No attributes unless asked for with `fields[type]=...`; an
 *   unknown field or include → 400. Another creator's campaign → 403.
 * - Webhooks: `GET|POST /api/oauth2/v2/webhooks`, `PATCH|DELETE /api/oauth2/v2/webhooks/{id}`.
 * - Injected faults for provider `patreon` answer in the JSON:API error shape (a 429 with
 *   `retry_after_seconds` from the fault's `retryAfterSeconds`, and no header).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { consentPage } from '../oauth/index.ts'
import { type Instrumentation, instrument } from '../recording.ts'
import {
  PATREON_DEFAULT_COUNT,
  PATREON_MAX_COUNT,
  PATREON_PATH_PREFIX,
  PATREON_PROVIDER,
  type PatreonSandbox,
  type StoredCampaign,
  type StoredMember,
  type StoredWebhook,
  WEBHOOK_TRIGGERS,
  type WebhookTrigger,
} from './state.ts'

type Query = Record<string, string | undefined>

const FIELDS: Record<string, readonly string[]> = {
  campaign: ['creation_name', 'vanity', 'patron_count', 'url', 'summary', 'created_at', 'is_monthly'],
  tier: ['title', 'amount_cents', 'patron_count', 'published', 'description'],
  member: [
    'full_name',
    'email',
    'patron_status',
    'last_charge_status',
    'last_charge_date',
    'currently_entitled_amount_cents',
    'lifetime_support_cents',
    'will_pay_amount_cents',
    'pledge_relationship_start',
    'is_follower',
    'note',
  ],
  user: ['full_name', 'email', 'vanity', 'url'],
  webhook: ['triggers', 'uri', 'paused', 'last_attempted_at', 'num_consecutive_times_failed', 'secret'],
}

function jsonApiError(status: number, codeName: string, detail: string, extra: Record<string, unknown> = {}) {
  return {
    errors: [
      {
        code: status,
        code_name: codeName,
        detail,
        id: '00000000-0000-0000-0000-000000000000',
        status: String(status),
        title: codeName,
        ...extra,
      },
    ],
  }
}

function fail(
  reply: FastifyReply,
  status: number,
  codeName: string,
  detail: string,
  extra?: Record<string, unknown>,
) {
  return reply.code(status).send(jsonApiError(status, codeName, detail, extra))
}

function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of new URLSearchParams(body)) out[k] = v
  return out
}

/** `fields[type]` as a set; undefined on an unknown field (the route answers 400). */
function fieldsOf(q: Query, type: string): Set<string> | undefined {
  const raw = q[`fields[${type}]`]
  const wanted = raw === undefined || raw === '' ? [] : raw.split(',').map((s) => s.trim())
  const known = FIELDS[type] ?? []
  if (wanted.some((f) => !known.includes(f))) return undefined
  return new Set(wanted)
}

function pick(all: Record<string, unknown>, fields: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of fields) if (f in all) out[f] = all[f]
  return out
}

function includesOf(q: Query, allowed: readonly string[]): Set<string> | undefined {
  const raw = q.include
  const list = raw === undefined || raw === '' ? [] : raw.split(',').map((s) => s.trim())
  if (list.some((i) => !allowed.includes(i))) return undefined
  return new Set(list)
}

function campaignAttributes(c: StoredCampaign): Record<string, unknown> {
  const patrons = c.members.filter((m) => m.patronStatus === 'active_patron').length
  return {
    creation_name: c.name,
    vanity: c.name.toLowerCase().replace(/[^a-z0-9]+/g, ''),
    patron_count: patrons,
    url: `https://www.patreon.com/c/${c.id}`,
    summary: '',
    created_at: '2024-01-01T00:00:00.000+00:00',
    is_monthly: true,
  }
}

function memberAttributes(m: StoredMember, emailScope: boolean): Record<string, unknown> {
  return {
    full_name: m.fullName,
    // without the campaigns.members[email] scope, Patreon leaves the email out
    ...(emailScope ? { email: m.email } : {}),
    patron_status: m.patronStatus,
    last_charge_status: m.lastChargeStatus,
    last_charge_date: m.lastChargeDate,
    currently_entitled_amount_cents: m.entitledCents,
    lifetime_support_cents: m.lifetimeCents,
    will_pay_amount_cents: m.willPayCents,
    pledge_relationship_start: m.pledgeStart,
    is_follower: m.isFollower,
    note: '',
  }
}

function webhookResource(w: StoredWebhook, fields: Set<string> | undefined) {
  const all = {
    triggers: w.triggers,
    uri: w.uri,
    paused: w.paused,
    last_attempted_at: w.lastAttemptedAt,
    num_consecutive_times_failed: w.failures,
    secret: w.secret,
  }
  return {
    type: 'webhook',
    id: w.id,
    // the webhooks API returns every attribute unless fields[webhook] narrows them
    attributes: fields && fields.size > 0 ? pick(all, fields) : all,
    relationships: { campaign: { data: { type: 'campaign', id: w.campaignId } } },
  }
}

function encodeCursor(index: number, campaignId: string): string {
  return Buffer.from(JSON.stringify({ i: index, c: campaignId })).toString('base64url')
}

function decodeCursor(cursor: string, campaignId: string): number | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { i?: unknown; c?: unknown }
    if (typeof v.i === 'number' && Number.isInteger(v.i) && v.i >= 0 && v.c === campaignId) return v.i
  } catch {
    // fall through
  }
  return undefined
}

/** Injected faults get Patreon's error shape; a 429's wait moves into the body. */
function rewriteFault(reply: FastifyReply, status: number, payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined
  try {
    const p = JSON.parse(payload) as Record<string, unknown>
    if (p.error !== 'injected fault') return undefined
  } catch {
    return undefined
  }
  if (status === 429) {
    const seconds = Number(reply.getHeader('retry-after') ?? 1)
    reply.removeHeader('retry-after')
    return JSON.stringify(
      jsonApiError(429, 'RequestThrottled', 'You have made too many attempts.', {
        retry_after_seconds: seconds,
      }),
    )
  }
  return JSON.stringify(
    jsonApiError(status, status >= 500 ? 'InternalServerError' : 'Error', 'injected fault'),
  )
}

interface Authorized {
  campaignId: string
  clientId: string
  scopes: Set<string>
}

export function patreonPlugin(state: PatreonSandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(
      async (api) => {
        instrument(api, PATREON_PROVIDER, inst)
        api.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: 64 * 1024 },
          (_req, body, done) => done(null, parseForm(body as string)),
        )
        api.addHook('onSend', async (req, reply, payload) => {
          if (!inst.faults.wasFaulted(req) || reply.statusCode < 400) return payload
          return rewriteFault(reply, reply.statusCode, payload) ?? payload
        })

        api.post<{ Body: Record<string, string> | undefined }>('/api/oauth2/token', async (req, reply) => {
          const form = req.body ?? {}
          if (
            typeof form !== 'object' ||
            req.headers['content-type']?.split(';')[0] !== 'application/x-www-form-urlencoded'
          ) {
            return reply.code(400).send({ error: 'invalid_request', error_description: 'form body expected' })
          }
          const { grant_type: grant, client_id: clientId = '', client_secret: clientSecret = '' } = form
          if (grant !== 'refresh_token' && grant !== 'authorization_code') {
            return reply.code(400).send({ error: 'unsupported_grant_type' })
          }
          if (!state.checkClient(clientId, clientSecret)) {
            return reply.code(401).send({ error: 'invalid_client' })
          }
          const granted =
            grant === 'refresh_token'
              ? state.refresh(clientId, form.refresh_token ?? '')
              : state.exchangeCode(clientId, form.code ?? '', form.redirect_uri ?? '', form.code_verifier)
          if (!granted) return reply.code(400).send({ error: 'invalid_grant' })
          return {
            access_token: granted.accessToken,
            refresh_token: granted.refreshToken,
            expires_in: granted.expiresIn,
            scope: granted.scope,
            token_type: 'Bearer',
          }
        })

        consentPage(api, {
          path: '/oauth2/authorize',
          title: 'Patreon',
          knownClient: (id) => state.hasClient(id),
          consent: (req) => state.consent(req),
        })

        await api.register(
          async (v2) => {
            v2.decorateRequest('patreon', null)
            v2.addHook('preHandler', async (req, reply) => {
              const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
              const auth = m?.[1] ? state.authorize(m[1]) : undefined
              if (!auth)
                return fail(
                  reply,
                  401,
                  'Unauthorized',
                  'The server could not verify that you are authorized.',
                )
              if ('throttled' in auth) {
                return fail(reply, 429, 'RequestThrottled', 'You have made too many attempts.', {
                  retry_after_seconds: auth.throttled,
                })
              }
              ;(req as FastifyRequest & { patreon: Authorized }).patreon = auth.token
              return undefined
            })
            const who = (req: FastifyRequest) => (req as FastifyRequest & { patreon: Authorized }).patreon

            const campaignOf = (req: FastifyRequest, reply: FastifyReply, id: string) => {
              const c = state.findCampaign(id)
              if (!c) {
                fail(reply, 404, 'ResourceMissing', 'No campaign with that id.')
                return undefined
              }
              if (c.id !== who(req).campaignId) {
                fail(reply, 403, 'AccessForbidden', 'The token may not read this campaign.')
                return undefined
              }
              return c
            }

            v2.get<{ Querystring: Query }>('/campaigns', async (req, reply) => {
              const fields = fieldsOf(req.query, 'campaign')
              if (!fields) return fail(reply, 400, 'ParameterInvalid', 'unknown field in fields[campaign]')
              const c = state.findCampaign(who(req).campaignId)
              const data = c
                ? [{ type: 'campaign', id: c.id, attributes: pick(campaignAttributes(c), fields) }]
                : []
              return { data, meta: { pagination: { total: data.length } } }
            })

            v2.get<{ Params: { id: string }; Querystring: Query }>('/campaigns/:id', async (req, reply) => {
              const fields = fieldsOf(req.query, 'campaign')
              const tierFields = fieldsOf(req.query, 'tier')
              const include = includesOf(req.query, ['tiers', 'creator', 'benefits', 'goals'])
              if (!fields || !tierFields || !include) {
                return fail(reply, 400, 'ParameterInvalid', 'unknown field or include')
              }
              const c = campaignOf(req, reply, req.params.id)
              if (!c) return reply
              const relationships = include.has('tiers')
                ? { tiers: { data: c.tiers.map((t) => ({ type: 'tier', id: t.id })) } }
                : undefined
              const included = include.has('tiers')
                ? c.tiers.map((t) => ({
                    type: 'tier',
                    id: t.id,
                    attributes: pick(
                      {
                        title: t.title,
                        amount_cents: t.amountCents,
                        patron_count: state.tierPatronCount(c.id, t.id),
                        published: true,
                        description: '',
                      },
                      tierFields,
                    ),
                  }))
                : undefined
              return {
                data: {
                  type: 'campaign',
                  id: c.id,
                  attributes: pick(campaignAttributes(c), fields),
                  ...(relationships ? { relationships } : {}),
                },
                ...(included ? { included } : {}),
                links: { self: `https://www.patreon.com/api/oauth2/v2/campaigns/${c.id}` },
              }
            })

            v2.get<{ Params: { id: string }; Querystring: Query }>(
              '/campaigns/:id/members',
              async (req, reply) => {
                const q = req.query
                if (!who(req).scopes.has('campaigns.members')) {
                  return fail(reply, 403, 'AccessForbidden', 'The token lacks the campaigns.members scope.')
                }
                const fields = fieldsOf(q, 'member')
                const tierFields = fieldsOf(q, 'tier')
                const userFields = fieldsOf(q, 'user')
                const include = includesOf(q, ['currently_entitled_tiers', 'user', 'address', 'campaign'])
                if (!fields || !tierFields || !userFields || !include) {
                  return fail(reply, 400, 'ParameterInvalid', 'unknown field or include')
                }
                const count =
                  q['page[count]'] === undefined ? PATREON_DEFAULT_COUNT : Number(q['page[count]'])
                if (!Number.isInteger(count) || count < 1 || count > PATREON_MAX_COUNT) {
                  return fail(
                    reply,
                    400,
                    'ParameterInvalid',
                    `page[count] must be between 1 and ${PATREON_MAX_COUNT}`,
                  )
                }
                const c = campaignOf(req, reply, req.params.id)
                if (!c) return reply
                let start = 0
                if (q['page[cursor]'] !== undefined) {
                  const at = decodeCursor(q['page[cursor]'], c.id)
                  if (at === undefined) return fail(reply, 400, 'ParameterInvalid', 'page[cursor] is invalid')
                  start = at
                }
                const emailScope = who(req).scopes.has('campaigns.members[email]')
                const slice = c.members.slice(start, start + count)
                const next = start + count < c.members.length ? encodeCursor(start + count, c.id) : null
                const tiers = new Map<string, unknown>()
                const users = new Map<string, unknown>()
                const data = slice.map((m) => {
                  const relationships: Record<string, unknown> = {}
                  if (include.has('currently_entitled_tiers')) {
                    relationships.currently_entitled_tiers = {
                      data: m.tierIds.map((id) => ({ type: 'tier', id })),
                    }
                    for (const id of m.tierIds) {
                      const t = c.tiers.find((x) => x.id === id)
                      if (t && !tiers.has(id)) {
                        tiers.set(id, {
                          type: 'tier',
                          id,
                          attributes: pick(
                            {
                              title: t.title,
                              amount_cents: t.amountCents,
                              patron_count: state.tierPatronCount(c.id, id),
                            },
                            tierFields,
                          ),
                        })
                      }
                    }
                  }
                  if (include.has('user')) {
                    relationships.user = { data: { type: 'user', id: m.userId } }
                    users.set(m.userId, {
                      type: 'user',
                      id: m.userId,
                      attributes: pick(
                        { full_name: m.fullName, ...(emailScope ? { email: m.email } : {}) },
                        userFields,
                      ),
                    })
                  }
                  return {
                    type: 'member',
                    id: m.id,
                    attributes: pick(memberAttributes(m, emailScope), fields),
                    ...(Object.keys(relationships).length > 0 ? { relationships } : {}),
                  }
                })
                return {
                  data,
                  included: [...tiers.values(), ...users.values()],
                  meta: {
                    pagination: {
                      total: c.members.length,
                      ...(next ? { cursors: { next } } : { cursors: {} }),
                    },
                  },
                  ...(next
                    ? {
                        links: {
                          next: `https://www.patreon.com/api/oauth2/v2/campaigns/${c.id}/members?page%5Bcursor%5D=${next}`,
                        },
                      }
                    : {}),
                }
              },
            )

            v2.get<{ Querystring: Query }>('/webhooks', async (req, reply) => {
              const fields = fieldsOf(req.query, 'webhook')
              if (!fields) return fail(reply, 400, 'ParameterInvalid', 'unknown field in fields[webhook]')
              const list = state
                .webhooks(who(req).clientId)
                .filter((w) => w.campaignId === who(req).campaignId)
              return {
                data: list.map((w) => webhookResource(w, fields)),
                meta: { pagination: { total: list.length } },
              }
            })

            v2.post<{ Body: unknown }>('/webhooks', async (req, reply) => {
              const body = req.body as {
                data?: {
                  type?: unknown
                  attributes?: { triggers?: unknown; uri?: unknown }
                  relationships?: { campaign?: { data?: { type?: unknown; id?: unknown } } }
                }
              }
              const d = body?.data
              const triggers = d?.attributes?.triggers
              const uri = d?.attributes?.uri
              const campaignId = d?.relationships?.campaign?.data?.id
              if (
                d?.type !== 'webhook' ||
                !Array.isArray(triggers) ||
                triggers.length === 0 ||
                !triggers.every((t) => WEBHOOK_TRIGGERS.includes(t as WebhookTrigger)) ||
                typeof uri !== 'string' ||
                !/^https?:\/\//.test(uri) ||
                typeof campaignId !== 'string'
              ) {
                return fail(reply, 400, 'ParameterInvalid', 'a webhook needs triggers, uri and a campaign')
              }
              if (!who(req).scopes.has('w:campaigns.webhook')) {
                return fail(reply, 403, 'AccessForbidden', 'The token lacks the w:campaigns.webhook scope.')
              }
              if (!campaignOf(req, reply, campaignId)) return reply
              const w = state.createWebhook({
                campaignId,
                clientId: who(req).clientId,
                uri,
                triggers: triggers as WebhookTrigger[],
              })
              return reply.code(201).send({ data: webhookResource(w, undefined) })
            })

            const ownWebhook = (req: FastifyRequest, reply: FastifyReply, id: string) => {
              const w = state.webhook(id)
              if (!w || w.clientId !== who(req).clientId || w.campaignId !== who(req).campaignId) {
                fail(reply, 404, 'ResourceMissing', 'No webhook with that id.')
                return undefined
              }
              return w
            }

            v2.patch<{ Params: { id: string }; Body: unknown }>('/webhooks/:id', async (req, reply) => {
              const w = ownWebhook(req, reply, req.params.id)
              if (!w) return reply
              const attrs = (req.body as { data?: { attributes?: Record<string, unknown> } })?.data
                ?.attributes
              if (!attrs || typeof attrs !== 'object')
                return fail(reply, 400, 'ParameterInvalid', 'data.attributes expected')
              if (attrs.triggers !== undefined) {
                const t = attrs.triggers
                if (
                  !Array.isArray(t) ||
                  t.length === 0 ||
                  !t.every((x) => WEBHOOK_TRIGGERS.includes(x as WebhookTrigger))
                ) {
                  return fail(reply, 400, 'ParameterInvalid', 'triggers')
                }
                w.triggers = t as WebhookTrigger[]
              }
              if (attrs.uri !== undefined) {
                if (typeof attrs.uri !== 'string' || !/^https?:\/\//.test(attrs.uri))
                  return fail(reply, 400, 'ParameterInvalid', 'uri')
                w.uri = attrs.uri
              }
              if (attrs.paused === false) state.resumeWebhook(w.id)
              else if (attrs.paused === true) state.pauseWebhook(w.id)
              return { data: webhookResource(w, undefined) }
            })

            v2.delete<{ Params: { id: string } }>('/webhooks/:id', async (req, reply) => {
              const w = ownWebhook(req, reply, req.params.id)
              if (!w) return reply
              state.deleteWebhook(w.id)
              return reply.code(204).send()
            })
          },
          { prefix: '/api/oauth2/v2' },
        )
      },
      { prefix: PATREON_PATH_PREFIX },
    )
    // the control API's part for Patreon: who answers the consent page next
    app.post<{ Body: { campaignId?: unknown; refuse?: unknown } | undefined }>(
      '/_sandbox/patreon/consent',
      async (req, reply) => {
        const b = req.body ?? {}
        if (
          (b.campaignId !== undefined && typeof b.campaignId !== 'string') ||
          (b.refuse !== undefined && typeof b.refuse !== 'boolean')
        )
          return reply.code(400).send({ error: 'campaignId must be a string, refuse a boolean' })
        state.setConsent({
          ...(typeof b.campaignId === 'string' ? { campaignId: b.campaignId } : {}),
          refuse: b.refuse === true,
        })
        return reply.code(204).send()
      },
    )
  }
}
