/**
 * Twilio's Messages API (2010-04-01) as the published OpenAPI description has it, under
 * `/twilio` (a client's endpoint is `<sandbox>/twilio`, as it would be `https://api.twilio.com`):
 *
 * - Basic auth: the Account SID and Auth Token, or an API key SID and secret; else 401
 *   `{code: 20003, message, more_info, status}`. The account in the path must be the one
 *   authenticated (else 404 20404).
 * - `GET /2010-04-01/Accounts/{Sid}.json` → the account (`status` active | suspended | closed).
 * - `POST .../Messages.json` (form: To, From | MessagingServiceSid, Body | ContentSid with
 *   ContentVariables, MediaUrl repeated, StatusCallback) → 201 with the message resource, status
 *   `queued`; then `sent` → `delivered` (or `undelivered` 30003, or `read` on WhatsApp), each
 *   POSTed to StatusCallback with `X-Twilio-Signature`. A freeform WhatsApp body to a user without
 *   an open session ends `failed` with 63016, as on Twilio. Errors: 21211 invalid To, 21610
 *   unsubscribed recipient, 21602 no body, 21604 no To, 21606 bad From, 20429 for 429 faults.
 * - `GET .../Messages/{Sid}.json` → the message as it is now (404 20404 if there is none).
 * - `GET .../Messages.json?To=&From=&DateSent=&DateSent<=&DateSent>=&PageSize=&Page=&PageToken=`:
 *   newest first, dates at day precision, paged with `next_page_uri`.
 * - Faults for provider `twilio` (429 with Retry-After, 5xx, delays) answer in Twilio's error
 *   shape; `loseResponses` and `acceptThenFail` store a message and then drop the connection or
 *   answer 5xx: "accepted but the response was lost".
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { type Instrumentation, instrument } from '../recording.ts'
import {
  messageResource,
  type StoredMessage,
  TWILIO_API_VERSION,
  TWILIO_PROVIDER,
  type TwilioSandbox,
} from './state.ts'

export const TWILIO_PATH_PREFIX = '/twilio'

const E164 = /^\+[1-9][0-9]{6,14}$/

function errorBody(status: number, code: number, message: string) {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }
}

function fail(reply: FastifyReply, status: number, code: number, message: string) {
  return reply.code(status).send(errorBody(status, code, message))
}

type Form = Record<string, string[]>

function parseForm(raw: string): Form {
  const out: Form = Object.create(null)
  for (const [k, v] of new URLSearchParams(raw)) {
    const list = out[k]
    if (list) list.push(v)
    else out[k] = [v]
  }
  return out
}

const first = (f: Form, k: string) => f[k]?.[0]

function basicAuth(req: FastifyRequest): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  if (!m?.[1]) return undefined
  const text = Buffer.from(m[1], 'base64').toString('utf8')
  const i = text.indexOf(':')
  return i < 0 ? undefined : { user: text.slice(0, i), password: text.slice(i + 1) }
}

/** `YYYY-MM-DD` of a date filter (Twilio compares at day precision; the SDK sends a full time). */
function dayOf(value: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(value)
  return m?.[1]
}

const utcDay = (d: Date) => d.toISOString().slice(0, 10)

/** Injected faults get Twilio's error shape unless the test wrote a body of its own. */
function rewriteFault(status: number, payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined
  try {
    const p = JSON.parse(payload) as Record<string, unknown>
    if (p.error !== 'injected fault') return undefined
  } catch {
    return undefined
  }
  const code = status === 429 ? 20429 : status >= 500 ? 20500 : 20001
  const message =
    status === 429 ? 'Too Many Requests' : status >= 500 ? 'An internal server error occurred' : 'Bad request'
  return JSON.stringify(errorBody(status, code, message))
}

export function twilioPlugin(state: TwilioSandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(
      async (api) => {
        instrument(api, TWILIO_PROVIDER, inst)
        api.removeAllContentTypeParsers()
        api.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string', bodyLimit: 256 * 1024 },
          (_req, body, done) => done(null, parseForm(body as string)),
        )
        api.addHook('onSend', async (req, reply, payload) => {
          if (!inst.faults.wasFaulted(req) || reply.statusCode < 400) return payload
          return rewriteFault(reply.statusCode, payload) ?? payload
        })
        api.addHook<{ Params: { account?: string } }>('preHandler', async (req, reply) => {
          const auth = basicAuth(req)
          const account = /^\/twilio\/2010-04-01\/Accounts\/([^/.]+)/.exec(req.url)?.[1] ?? ''
          if (!auth || !state.authenticates(account, auth.user, auth.password)) {
            return fail(reply, 401, 20003, 'Authenticate')
          }
          const status = state.accounts.get(account)?.status
          if (status !== 'active' && req.method === 'POST') {
            return fail(reply, 401, 20003, `Account is ${status}`)
          }
          return undefined
        })

        api.get<{ Params: { account: string } }>(
          `/${TWILIO_API_VERSION}/Accounts/:account`,
          async (req, reply) => {
            const sid = req.params.account.replace(/\.json$/, '')
            const a = state.accounts.get(sid)
            if (!a || !req.params.account.endsWith('.json'))
              return fail(reply, 404, 20404, 'The requested resource was not found')
            return {
              auth_token: '[redacted]',
              date_created: 'Mon, 01 Jan 2024 00:00:00 +0000',
              date_updated: 'Mon, 01 Jan 2024 00:00:00 +0000',
              friendly_name: a.friendlyName ?? 'Sandbox account',
              owner_account_sid: a.sid,
              sid: a.sid,
              status: a.status ?? 'active',
              subresource_uris: { messages: `/${TWILIO_API_VERSION}/Accounts/${a.sid}/Messages.json` },
              type: 'Full',
              uri: `/${TWILIO_API_VERSION}/Accounts/${a.sid}.json`,
            }
          },
        )

        api.post<{ Params: { account: string }; Body: Form }>(
          `/${TWILIO_API_VERSION}/Accounts/:account/Messages.json`,
          async (req, reply) => {
            const form = req.body ?? {}
            const accountSid = req.params.account
            const to = first(form, 'To')
            const from = first(form, 'From') ?? null
            const mss = first(form, 'MessagingServiceSid') ?? null
            const body = first(form, 'Body') ?? ''
            const contentSid = first(form, 'ContentSid') ?? null
            const mediaUrls = form.MediaUrl ?? []
            if (!to) return fail(reply, 400, 21604, "A 'To' phone number is required.")
            if (!from && !mss) return fail(reply, 400, 21603, "A 'From' phone number is required.")
            if (!body && !contentSid && mediaUrls.length === 0) {
              return fail(reply, 400, 21602, 'Message body is required.')
            }
            if (body.length > 1600)
              return fail(
                reply,
                400,
                21617,
                'The concatenated message body exceeds the 1600 character limit.',
              )
            if (mediaUrls.length > 10)
              return fail(reply, 400, 21623, 'Number of media files exceeds allowed limit.')
            const whatsapp = to.startsWith('whatsapp:')
            const address = to.replace(/^whatsapp:/, '')
            if (!E164.test(address) || state.invalidNumbers.has(address))
              return fail(reply, 400, 21211, `The 'To' number ${to} is not a valid phone number.`)
            if (
              from &&
              (!E164.test(from.replace(/^whatsapp:/, '')) || from.startsWith('whatsapp:') !== whatsapp)
            ) {
              return fail(
                reply,
                400,
                21606,
                `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`,
              )
            }
            if (state.optedOut.has(address)) {
              return fail(reply, 400, 21610, 'Attempt to send to unsubscribed recipient')
            }
            const msg: StoredMessage = state.store({
              accountSid,
              to,
              from: from ?? (mss ? null : null),
              messagingServiceSid: mss,
              body,
              contentSid,
              contentVariables: first(form, 'ContentVariables') ?? null,
              mediaUrls,
              status: mss && !from ? 'accepted' : 'queued',
              errorCode: null,
              statusCallback: first(form, 'StatusCallback') ?? null,
            })
            state.onAccepted?.(msg)
            state.progress(msg)
            if (state.loseResponses > 0) {
              state.loseResponses--
              req.raw.socket.destroy()
              return reply.hijack()
            }
            if (state.acceptThenFail.times > 0) {
              state.acceptThenFail.times--
              const status = state.acceptThenFail.status
              return fail(reply, status, 20500, 'An internal server error occurred')
            }
            return reply.code(201).send(messageResource(msg))
          },
        )

        api.get<{ Params: { account: string; sid: string } }>(
          `/${TWILIO_API_VERSION}/Accounts/:account/Messages/:sid`,
          async (req, reply) => {
            const sid = req.params.sid.replace(/\.json$/, '')
            const m = state.bySid.get(sid)
            if (!m || m.accountSid !== req.params.account || !req.params.sid.endsWith('.json'))
              return fail(reply, 404, 20404, `The requested resource ${req.url} was not found`)
            return messageResource(m)
          },
        )

        api.get<{ Params: { account: string }; Querystring: Record<string, string | undefined> }>(
          `/${TWILIO_API_VERSION}/Accounts/:account/Messages.json`,
          async (req, reply) => {
            const q = req.query
            const accountSid = req.params.account
            const pageSize = q.PageSize === undefined ? 50 : Number(q.PageSize)
            if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
              return fail(reply, 400, 20001, 'PageSize must be between 1 and 1000')
            }
            const page = q.Page === undefined ? 0 : Number(q.Page)
            if (!Number.isInteger(page) || page < 0) return fail(reply, 400, 20001, 'Page is invalid')
            const on = q.DateSent === undefined ? undefined : dayOf(q.DateSent)
            const before = q['DateSent<'] === undefined ? undefined : dayOf(q['DateSent<'])
            const after = q['DateSent>'] === undefined ? undefined : dayOf(q['DateSent>'])
            if ((q.DateSent && !on) || (q['DateSent<'] && !before) || (q['DateSent>'] && !after)) {
              return fail(reply, 400, 20001, 'DateSent must be a date (YYYY-MM-DD)')
            }
            const all = state.messages
              .filter((m) => m.accountSid === accountSid)
              .filter((m) => q.To === undefined || m.to === q.To)
              .filter((m) => q.From === undefined || m.from === q.From)
              .filter((m) => {
                if (on === undefined && before === undefined && after === undefined) return true
                if (!m.dateSent) return false
                const d = utcDay(m.dateSent)
                return (
                  (on === undefined || d === on) &&
                  (before === undefined || d <= before) &&
                  (after === undefined || d >= after)
                )
              })
              .reverse()
            const start = page * pageSize
            const slice = all.slice(start, start + pageSize)
            const base = `/${TWILIO_API_VERSION}/Accounts/${accountSid}/Messages.json`
            const params = new URLSearchParams()
            for (const k of ['To', 'From', 'DateSent', 'DateSent<', 'DateSent>']) {
              const v = q[k]
              if (v !== undefined) params.set(k, v)
            }
            params.set('PageSize', String(pageSize))
            const uriFor = (p: number) => {
              const u = new URLSearchParams(params)
              u.set('Page', String(p))
              return `${base}?${u.toString()}`
            }
            return {
              end: start + slice.length - 1,
              first_page_uri: uriFor(0),
              messages: slice.map(messageResource),
              next_page_uri: start + pageSize < all.length ? uriFor(page + 1) : null,
              page,
              page_size: pageSize,
              previous_page_uri: page > 0 ? uriFor(page - 1) : null,
              start,
              uri: uriFor(page),
            }
          },
        )
      },
      { prefix: TWILIO_PATH_PREFIX },
    )
  }
}
