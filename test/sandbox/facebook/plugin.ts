/**
 * Facebook Graph API, the part Switchboard uses, under `/facebook` (a client's base URL is
 * `<sandbox>/facebook`, as it would be `https://graph.facebook.com`):
 *
 * - `GET /v{N}.0/{id}?fields=id,name`, `GET /v{N}.0/{id}/feed?fields=&limit=&after=` (newest
 *   first, `paging.cursors.after` and `paging.next` while older posts remain), and
 *   `POST /v{N}.0/{id}/feed` with `message` and/or `link` (form, JSON or query) → `{id}`.
 * - The access token may come as `Authorization: Bearer|OAuth`, `access_token` in the query or
 *   the form. A target's own token only; `appsecret_proof` when the target requires it.
 * - Errors are Graph's: `{error:{message, type, code, error_subcode?, is_transient?, fbtrace_id}}`
 *   (104 no token, 190 bad token, 200 permission, 100 bad parameter or unknown object,
 *   506 duplicate message). Faults for provider `facebook` answer in this shape: by status
 *   (400 → 100, 401 → 190, 403 and 429 → 4, 5xx → 2), or `body: { code: 32 }` for a code.
 * - `/_sandbox/facebook/*`: pages, posts, and a post "by hand".
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { appSecretProof } from '../../../connectors/facebook/index.ts'
import { type Instrumentation, instrument } from '../recording.ts'
import {
  DuplicateMessage,
  FACEBOOK_PATH_PREFIX,
  FACEBOOK_PROVIDER,
  type FacebookSandbox,
  type FacebookTargetConfig,
} from './state.ts'

const MESSAGES: Record<number, [string, string]> = {
  1: ['An unknown error occurred', 'OAuthException'],
  2: ['An unexpected error has occurred. Please retry your request later.', 'OAuthException'],
  4: ['(#4) Application request limit reached', 'OAuthException'],
  17: ['(#17) User request limit reached', 'OAuthException'],
  32: ['(#32) Page request limit reached', 'OAuthException'],
  100: ['(#100) Invalid parameter', 'OAuthException'],
  104: ['An access token is required to request this resource.', 'OAuthException'],
  190: ['Invalid OAuth access token - Cannot parse access token', 'OAuthException'],
  200: ["(#200) The user hasn't authorized the application to perform this action", 'OAuthException'],
  368: ['The action attempted has been deemed abusive or is otherwise disallowed', 'OAuthException'],
  506: ['Duplicate status message', 'OAuthException'],
  613: ['(#613) Calls to this api have exceeded the rate limit.', 'OAuthException'],
}
const TRANSIENT = new Set([1, 2, 4, 17, 32, 613])

export function graphErrorBody(code: number, message?: string, subcode?: number, type?: string) {
  const [defaultMessage, defaultType] = MESSAGES[code] ?? ['(#100) Invalid parameter', 'OAuthException']
  const error: Record<string, unknown> = {
    message: message ?? defaultMessage,
    type: type ?? defaultType,
    code,
    fbtrace_id: `A${randomBytes(8).toString('base64url')}`,
  }
  if (subcode !== undefined) error.error_subcode = subcode
  if (TRANSIENT.has(code)) error.is_transient = true
  return { error }
}

function fail(
  reply: FastifyReply,
  status: number,
  code: number,
  message?: string,
  subcode?: number,
  type?: string,
) {
  return reply.code(status).send(graphErrorBody(code, message, subcode, type))
}

const STATUS_CODE: Record<number, number> = { 400: 100, 401: 190, 403: 4, 429: 4 }

/** An injected fault's body in Graph's shape (unless the test wrote a body of its own). */
function rewriteFault(status: number, payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined
  try {
    const p = JSON.parse(payload) as Record<string, unknown>
    if (p.error === 'injected fault') {
      return JSON.stringify(graphErrorBody(STATUS_CODE[status] ?? (status >= 500 ? 2 : 100)))
    }
    const keys = Object.keys(p)
    if (
      typeof p.code === 'number' &&
      keys.every((k) => k === 'code' || k === 'message' || k === 'error_subcode')
    ) {
      return JSON.stringify(
        graphErrorBody(
          p.code,
          typeof p.message === 'string' ? p.message : undefined,
          typeof p.error_subcode === 'number' ? p.error_subcode : undefined,
        ),
      )
    }
  } catch {
    // not JSON: leave it
  }
  return undefined
}

type Params = { version: string; id: string }
type Fields = Record<string, string | undefined>

function fieldsOf(req: FastifyRequest): Fields {
  const out: Fields = {}
  for (const [k, v] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v
  }
  if (typeof req.body === 'object' && req.body !== null) {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) {
      if (typeof v === 'string') out[k] = v
    }
  }
  return out
}

function tokenOf(req: FastifyRequest, fields: Fields): string | undefined {
  const m = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  return m?.[1] ?? fields.access_token
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Checks token and proof for a target; answers the Graph error and returns undefined if wrong. */
function authorize(
  state: FacebookSandbox,
  req: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
  fields: Fields,
): FacebookTargetConfig | undefined {
  const token = tokenOf(req, fields)
  if (!token) {
    fail(reply, 400, 104)
    return undefined
  }
  const target = state.target(req.params.id)
  if (!target) {
    if (!state.knowsToken(token)) {
      fail(reply, 400, 190)
      return undefined
    }
    fail(
      reply,
      400,
      100,
      `Unsupported request. Object with ID '${req.params.id.slice(0, 64)}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
      33,
      'GraphMethodException',
    )
    return undefined
  }
  if (!sameText(token, target.accessToken)) {
    if (state.knowsToken(token)) fail(reply, 403, 200)
    else fail(reply, 400, 190)
    return undefined
  }
  if (target.requireAppSecretProof && target.appSecret) {
    const proof = fields.appsecret_proof
    if (!proof) {
      fail(
        reply,
        400,
        100,
        'API calls from the server require an appsecret_proof argument',
        undefined,
        'GraphMethodException',
      )
      return undefined
    }
    if (!sameText(proof, appSecretProof(token, target.appSecret))) {
      fail(
        reply,
        400,
        100,
        'Invalid appsecret_proof provided in the API argument',
        undefined,
        'GraphMethodException',
      )
      return undefined
    }
  }
  return target
}

const VERSION = '^v\\d{1,2}\\.\\d$'

export function facebookPlugin(state: FacebookSandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(
      async (api) => {
        instrument(api, FACEBOOK_PROVIDER, inst)
        api.addHook('onSend', async (req, reply, payload) => {
          if (!inst.faults.wasFaulted(req) || reply.statusCode < 400) return payload
          return rewriteFault(reply.statusCode, payload) ?? payload
        })
        api.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: 256 * 1024 },
          (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
        )
        api.setErrorHandler((err, _req, reply) => {
          const status = (err as { statusCode?: number }).statusCode
          return fail(
            reply,
            typeof status === 'number' && status < 500 ? 400 : 500,
            status && status < 500 ? 100 : 2,
          )
        })

        api.get<{ Params: Params }>(`/:version(${VERSION})/:id`, async (req, reply) => {
          const fields = fieldsOf(req)
          const target = authorize(state, req, reply, fields)
          if (!target) return reply
          const wanted = (fields.fields ?? 'id,name').split(',').map((f) => f.trim())
          const all: Record<string, string> = {
            id: target.id,
            name: target.name ?? target.id,
            link: `https://www.facebook.com/${target.id}`,
          }
          const out: Record<string, string> = { id: target.id }
          for (const f of wanted) if (all[f] !== undefined) out[f] = all[f]
          return out
        })

        api.get<{ Params: Params }>(`/:version(${VERSION})/:id/feed`, async (req, reply) => {
          const fields = fieldsOf(req)
          const target = authorize(state, req, reply, fields)
          if (!target) return reply
          const limit = fields.limit === undefined ? 25 : Number(fields.limit)
          if (!Number.isInteger(limit) || limit < 1 || limit > 100)
            return fail(reply, 400, 100, '(#100) The parameter limit must be 1..100')
          let before: number | undefined
          if (fields.after !== undefined) {
            before = Number(Buffer.from(fields.after, 'base64url').toString('utf8'))
            if (!Number.isInteger(before)) return fail(reply, 400, 100, '(#100) Invalid cursor')
          }
          const wanted = (fields.fields ?? 'id,message,created_time').split(',').map((f) => f.trim())
          const { items, more } = state.feedPage(target.id, limit, before)
          const data = items.map((p) => {
            const out: Record<string, string> = { id: p.id }
            for (const f of wanted) {
              const v = (p as unknown as Record<string, unknown>)[f]
              if (f !== 'id' && typeof v === 'string') out[f] = v
            }
            return out
          })
          const first = items[0]
          const last = items.at(-1)
          const cursor = (seq: number) => Buffer.from(String(seq)).toString('base64url')
          const body: Record<string, unknown> = { data }
          if (first && last) {
            const paging: Record<string, unknown> = {
              cursors: { before: cursor(first.seq), after: cursor(last.seq) },
            }
            if (more) {
              const u = new URL(`${req.protocol}://${req.host}${req.url.split('?')[0]}`)
              u.searchParams.set('fields', wanted.join(','))
              u.searchParams.set('limit', String(limit))
              u.searchParams.set('after', cursor(last.seq))
              paging.next = u.href
            }
            body.paging = paging
          }
          return body
        })

        api.post<{ Params: Params }>(`/:version(${VERSION})/:id/feed`, async (req, reply) => {
          const fields = fieldsOf(req)
          const target = authorize(state, req, reply, fields)
          if (!target) return reply
          const message = fields.message
          const link = fields.link
          if (!message && !link) return fail(reply, 400, 100, '(#100) Missing message or attachment')
          if (link !== undefined && !/^https?:\/\/\S+$/.test(link)) {
            return fail(reply, 400, 100, '(#100) The parameter link must be a valid URL')
          }
          try {
            const post = state.publish(
              target.id,
              { ...(message ? { message } : {}), ...(link ? { link } : {}) },
              true,
            )
            return { id: post.id }
          } catch (err) {
            if (err instanceof DuplicateMessage) return fail(reply, 400, 506, undefined, 1455006)
            throw err
          }
        })
      },
      { prefix: FACEBOOK_PATH_PREFIX },
    )

    await app.register(async (ctl) => {
      const base = '/_sandbox/facebook'
      ctl.post<{ Body: { name?: string; appSecret?: boolean } | undefined }>(
        `${base}/pages`,
        async (req, reply) => {
          const opts = req.body?.appSecret ? { appSecret: true } : {}
          return reply.code(201).send(state.createPage(req.body?.name ?? 'Sandbox Page', opts))
        },
      )
      ctl.get<{ Params: { id: string } }>(`${base}/pages/:id/posts`, async (req, reply) => {
        if (!state.target(req.params.id)) return reply.code(404).send({ error: 'unknown page' })
        return { count: state.postCount(req.params.id), posts: state.posts(req.params.id) }
      })
      ctl.post<{ Params: { id: string }; Body: { message: string } }>(
        `${base}/pages/:id/posts`,
        {
          schema: {
            body: {
              type: 'object',
              required: ['message'],
              additionalProperties: false,
              properties: { message: { type: 'string', minLength: 1, maxLength: 63_206 } },
            },
          },
        },
        async (req, reply) => {
          if (!state.target(req.params.id)) return reply.code(404).send({ error: 'unknown page' })
          return reply.code(201).send(state.postByHand(req.params.id, req.body.message))
        },
      )
    })
  }
}
