/**
 * Google Calendar v3, as `@googleapis/calendar` sees it (see README.md for the details):
 *
 * - `POST /token`: the OAuth token endpoint (auth.ts);
 * - `GET /o/oauth2/v2/auth`: the consent page, which answers at once (or refuses when
 *   `auth.setConsent({refuse: true})`);
 * - `GET|POST /calendar/v3/calendars/{calendarId}/events`, `GET|PATCH|PUT|DELETE .../events/{eventId}`,
 *   `POST .../events/watch`, `POST /calendar/v3/channels/stop`, `POST /calendar/v3/freeBusy`,
 *   with `Authorization: Bearer <token from /token>`;
 * - faults for provider `google-calendar` answer in Google's error shape (a 403 is
 *   `rateLimitExceeded` unless the fault's body names another `reason`);
 * - `/_sandbox/google-calendar/*`: the control API (not instrumented, never faulted).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { pathOf } from '../faults.ts'
import { consentPage } from '../oauth/index.ts'
import { type Instrumentation, instrument } from '../recording.ts'
import { GoogleAuthState, type IssuedToken, type Principal, TokenError } from './auth.ts'
import { faultBody, GoogleApiError, googleErrorBody } from './errors.ts'
import { GOOGLE_CALENDAR_PROVIDER, type GoogleCalendarSandbox, type ListQuery } from './state.ts'

type Params = { calendarId: string; eventId: string }
type Query = Record<string, string | string[] | undefined>

const baseUrlOf = (req: FastifyRequest) => `${req.protocol}://${req.host}`

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

function many(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined
  return Array.isArray(v) ? v : [v]
}

function bool(v: string | string[] | undefined): boolean | undefined {
  const s = one(v)
  return s === undefined ? undefined : s === 'true'
}

function int(v: string | string[] | undefined, name: string): number | undefined {
  const s = one(v)
  if (s === undefined) return undefined
  if (!/^-?\d+$/.test(s)) throw new GoogleApiError(400, 'invalid', `Invalid value for ${name}`)
  return Number(s)
}

function listQuery(q: Query): ListQuery {
  const out: ListQuery = {}
  const set = <K extends keyof ListQuery>(k: K, v: ListQuery[K] | undefined) => {
    if (v !== undefined) out[k] = v
  }
  set('maxResults', int(q.maxResults, 'maxResults'))
  set('pageToken', one(q.pageToken))
  set('syncToken', one(q.syncToken))
  set('timeMin', one(q.timeMin))
  set('timeMax', one(q.timeMax))
  set('updatedMin', one(q.updatedMin))
  set('q', one(q.q))
  set('orderBy', one(q.orderBy))
  set('iCalUID', one(q.iCalUID))
  set('showDeleted', bool(q.showDeleted))
  set('singleEvents', bool(q.singleEvents))
  set('privateExtendedProperty', many(q.privateExtendedProperty))
  set('sharedExtendedProperty', many(q.sharedExtendedProperty))
  return out
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GoogleApiError(400, 'parseError', 'Parse Error')
  }
  return body as Record<string, unknown>
}

function authorize(state: GoogleCalendarSandbox, req: FastifyRequest, write: boolean): IssuedToken {
  const header = req.headers.authorization
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null
  const token = m?.[1] ?? one((req.query as Query).access_token)
  if (!token) {
    throw new GoogleApiError(401, 'required', 'Login Required.', 'global', {
      location: 'Authorization',
      locationType: 'header',
    })
  }
  const grant = state.auth.lookup(token)
  if (!grant) {
    throw new GoogleApiError(401, 'authError', 'Invalid Credentials', 'global', {
      location: 'Authorization',
      locationType: 'header',
    })
  }
  const allowed = write ? GoogleAuthState.canWrite(grant) : GoogleAuthState.canRead(grant)
  if (!allowed) {
    throw new GoogleApiError(
      403,
      'insufficientPermissions',
      'Request had insufficient authentication scopes.',
    )
  }
  return grant
}

function sendError(err: unknown, reply: FastifyReply): FastifyReply {
  if (err instanceof GoogleApiError) return reply.code(err.status).send(err.toJSON())
  if (err instanceof TokenError)
    return reply.code(err.status).send({ error: err.error, error_description: err.message })
  const status = (err as FastifyError).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return reply.code(status === 413 ? 413 : 400).send(googleErrorBody(400, 'parseError', 'Parse Error'))
  }
  return reply.code(500).send(googleErrorBody(500, 'backendError', 'Backend Error'))
}

/** The Google Calendar provider plugin (API + token endpoint, instrumented) and its control routes. */
export function googleCalendarPlugin(state: GoogleCalendarSandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(async (api) => {
      instrument(api, GOOGLE_CALENDAR_PROVIDER, inst)
      // injected faults speak Google's error format
      api.addHook('onSend', async (req, reply, payload) => {
        if (!inst.faults.wasFaulted(req) || reply.statusCode < 400) return payload
        const rewritten = faultBody(reply.statusCode, payload, pathOf(req.url) === '/token')
        if (rewritten === undefined) return payload
        reply.type('application/json; charset=UTF-8')
        return rewritten
      })
      api.addContentTypeParser(
        'application/x-www-form-urlencoded',
        { parseAs: 'string', bodyLimit: 64 * 1024 },
        (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
      )
      api.setErrorHandler((err, _req, reply) => sendError(err, reply))

      // accounts.google.com's consent page (the shared sandbox one)
      consentPage(api, {
        path: '/o/oauth2/v2/auth',
        title: 'Google',
        knownClient: (id) => state.auth.hasClient(id),
        consent: (req, q) => state.auth.consent(req, q),
      })

      api.post('/token', async (req) => {
        const form = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<
          string,
          string
        >
        return state.auth.grant(form, req.headers.authorization, `${baseUrlOf(req)}/token`)
      })

      const events = '/calendar/v3/calendars/:calendarId/events'
      api.get<{ Params: Params; Querystring: Query }>(events, async (req) => {
        authorize(state, req, false)
        return state.list(req.params.calendarId, listQuery(req.query))
      })
      api.post<{ Params: Params }>(events, async (req, reply) => {
        const grant = authorize(state, req, true)
        const created = state.insert(
          req.params.calendarId,
          bodyObject(req.body),
          grant.principal,
          baseUrlOf(req),
        )
        return reply.code(200).send(created)
      })
      api.post<{ Params: Params }>(`${events}/watch`, async (req) => {
        authorize(state, req, false)
        const body = bodyObject(req.body)
        const { resourceId, resourceUri } = state.resourceOf(req.params.calendarId, baseUrlOf(req))
        const id = body.id
        if (typeof id !== 'string' || !/^[A-Za-z0-9\-_+/=]{1,64}$/.test(id)) {
          throw new GoogleApiError(400, 'invalid', 'Invalid channel id.')
        }
        if (body.type !== 'web_hook' && body.type !== 'webhook') {
          throw new GoogleApiError(400, 'invalid', 'Invalid value for: type')
        }
        let address: URL
        try {
          address = new URL(String(body.address ?? ''))
        } catch {
          throw new GoogleApiError(400, 'invalid', 'Invalid address.')
        }
        if (address.protocol !== 'https:' && address.protocol !== 'http:') {
          throw new GoogleApiError(400, 'invalid', 'Invalid address.')
        }
        if (state.push.has(id)) throw new GoogleApiError(400, 'channelIdNotUnique', 'Channel id not unique.')
        const expiration = body.expiration === undefined ? undefined : Number(body.expiration)
        if (expiration !== undefined && !Number.isFinite(expiration)) {
          throw new GoogleApiError(400, 'invalid', 'Invalid value for: expiration')
        }
        const spec: Parameters<typeof state.push.open>[0] = {
          id,
          calendarId: req.params.calendarId,
          resourceId,
          resourceUri,
          address: address.href,
        }
        if (typeof body.token === 'string') spec.token = body.token
        if (expiration !== undefined) spec.expiration = expiration
        const channel = state.push.open(spec)
        const out: Record<string, unknown> = {
          kind: 'api#channel',
          id: channel.id,
          resourceId: channel.resourceId,
          resourceUri: channel.resourceUri,
          expiration: String(channel.expiration),
        }
        if (channel.token !== undefined) out.token = channel.token
        return out
      })

      const eventPath = `${events}/:eventId`
      api.get<{ Params: Params }>(eventPath, async (req) => {
        authorize(state, req, false)
        return state.get(req.params.calendarId, req.params.eventId)
      })
      api.patch<{ Params: Params }>(eventPath, async (req) => {
        const grant = authorize(state, req, true)
        return state.patch(
          req.params.calendarId,
          req.params.eventId,
          bodyObject(req.body),
          ifMatch(req),
          baseUrlOf(req),
          grant.principal,
        )
      })
      api.put<{ Params: Params }>(eventPath, async (req) => {
        const grant = authorize(state, req, true)
        return state.update(
          req.params.calendarId,
          req.params.eventId,
          bodyObject(req.body),
          ifMatch(req),
          grant.principal,
        )
      })
      api.delete<{ Params: Params }>(eventPath, async (req, reply) => {
        authorize(state, req, true)
        state.delete(req.params.calendarId, req.params.eventId, ifMatch(req))
        return reply.code(204).send()
      })

      api.post('/calendar/v3/freeBusy', async (req) => {
        authorize(state, req, false)
        return state.freeBusy(bodyObject(req.body))
      })
      api.post('/calendar/v3/channels/stop', async (req, reply) => {
        authorize(state, req, false)
        const body = bodyObject(req.body)
        const id = typeof body.id === 'string' ? body.id : ''
        const resourceId = typeof body.resourceId === 'string' ? body.resourceId : ''
        if (!state.push.stop(id, resourceId)) {
          throw new GoogleApiError(
            404,
            'notFound',
            `Channel '${id.slice(0, 64)}' not found for project 'sandbox'`,
          )
        }
        return reply.code(204).send()
      })
    })

    await app.register(async (ctl) => {
      ctl.setErrorHandler((err, _req, reply) => sendError(err, reply))
      const base = '/_sandbox/google-calendar'
      ctl.get(`${base}/calendars`, async () => ({ calendars: state.calendarIds() }))
      ctl.post<{
        Body: { id: string; summary?: string; timeZone?: string; accessRole?: 'owner' | 'writer' | 'reader' }
      }>(
        `${base}/calendars`,
        {
          schema: {
            body: {
              type: 'object',
              required: ['id'],
              additionalProperties: false,
              properties: {
                id: { type: 'string', minLength: 1, maxLength: 256 },
                summary: { type: 'string', maxLength: 256 },
                timeZone: { type: 'string', maxLength: 64 },
                accessRole: { type: 'string', enum: ['owner', 'writer', 'reader'] },
              },
            },
          },
        },
        async (req, reply) => {
          if (state.hasCalendar(req.body.id) && req.body.accessRole)
            state.setAccessRole(req.body.id, req.body.accessRole)
          state.addCalendar(req.body)
          return reply.code(204).send()
        },
      )
      ctl.get<{ Params: Params; Querystring: { showDeleted?: string } }>(
        `${base}/calendars/:calendarId/events`,
        async (req, reply) => {
          if (!state.hasCalendar(req.params.calendarId))
            return reply.code(404).send({ error: 'unknown calendar' })
          return {
            events: state.events(req.params.calendarId, { showDeleted: req.query.showDeleted === 'true' }),
          }
        },
      )
      ctl.post<{ Params: Params }>(`${base}/calendars/:calendarId/events`, async (req, reply) => {
        return reply.code(201).send(state.insertByHand(req.params.calendarId, bodyObject(req.body)))
      })
      ctl.patch<{ Params: Params }>(`${base}/calendars/:calendarId/events/:eventId`, async (req) =>
        state.patchByHand(req.params.calendarId, req.params.eventId, bodyObject(req.body)),
      )
      ctl.delete<{ Params: Params }>(`${base}/calendars/:calendarId/events/:eventId`, async (req, reply) => {
        state.deleteByHand(req.params.calendarId, req.params.eventId)
        return reply.code(204).send()
      })
      ctl.post<{ Params: Params }>(`${base}/calendars/:calendarId/expire-sync-tokens`, async (req, reply) => {
        if (!state.hasCalendar(req.params.calendarId))
          return reply.code(404).send({ error: 'unknown calendar' })
        state.expireSyncTokens(req.params.calendarId)
        return reply.code(204).send()
      })
      ctl.post<{ Body: { clientEmail?: string } | undefined }>(
        `${base}/service-accounts`,
        async (req, reply) => {
          const clientEmail = typeof req.body?.clientEmail === 'string' ? req.body.clientEmail : undefined
          const sa = state.auth.createServiceAccount({
            tokenUri: `${baseUrlOf(req)}/token`,
            ...(clientEmail ? { clientEmail } : {}),
          })
          return reply.code(201).send({ clientEmail: sa.clientEmail, keyFile: sa.keyFile })
        },
      )
      ctl.post(`${base}/oauth-clients`, async (_req, reply) =>
        reply.code(201).send(state.auth.createOAuthClient()),
      )
      ctl.post(`${base}/access-tokens`, async (_req, reply) => {
        const principal: Principal = { id: 'tester@sandbox', kind: 'test' }
        return reply.code(201).send({ accessToken: state.auth.issueAccessToken(principal) })
      })
      ctl.post(`${base}/revoke-access-tokens`, async (_req, reply) => {
        state.auth.revokeAccessTokens()
        return reply.code(204).send()
      })
      ctl.get<{ Querystring: { channelId?: string } }>(`${base}/channels`, async (req) => ({
        channels: state.push.channels(),
        notifications: state.push.notifications(req.query.channelId),
      }))
    })
  }
}

function ifMatch(req: FastifyRequest): string | undefined {
  const v = req.headers['if-match']
  return Array.isArray(v) ? v[0] : v
}
