/**
 * Twilio Messaging through the official `twilio` SDK. The SDK has no base-URL option, so a
 * `RequestClient` subclass rewrites each request's origin to `endpoint` (a proxy, or the
 * Switchboard sandbox), as Twilio documents for custom HTTP clients. The SDK's own retry stays off:
 * a `messages.create` retried blindly could message someone twice.
 *
 * The SDK (several MiB of code) is loaded at a client's first call, so a controller with no
 * Twilio objects never loads it.
 *
 * Outcomes of a send, which the campaign's at-most-once bookkeeping relies on:
 *
 * | what happened                                  | outcome     |
 * | ---------------------------------------------- | ----------- |
 * | 201                                            | `accepted`  |
 * | 4xx with a Twilio error code (21211, 21610...) | `rejected`  |
 * | 401 / 403                                      | thrown (Unauthorized, stalls the campaign) |
 * | 429, 5xx, timeout, connection lost             | `uncertain` (Twilio may have accepted it)  |
 */
import type twilio from 'twilio'
import type RequestClient from 'twilio/lib/base/RequestClient.js'
import { Reason, StallingError, sanitizeMessage, TransientError } from '../errors.ts'

export const TWILIO_DEFAULT_ENDPOINT = 'https://api.twilio.com'

export interface TwilioCredentials {
  accountSid: string
  authToken?: string | undefined
  apiKeySid?: string | undefined
  apiKeySecret?: string | undefined
}

export interface TwilioClientOptions {
  credentials: TwilioCredentials
  /** Base URL instead of https://api.twilio.com. */
  endpoint?: string | undefined
  /** Per-request timeout (ms). Default 15000. */
  timeoutMs?: number
}

export interface SendRequest {
  to: string
  from?: string | undefined
  messagingServiceSid?: string | undefined
  body?: string | undefined
  contentSid?: string | undefined
  contentVariables?: string | undefined
  mediaUrls?: readonly string[] | undefined
  statusCallback?: string | undefined
}

export type SendOutcome =
  | { outcome: 'accepted'; sid: string; status: string }
  | { outcome: 'rejected'; code: number | undefined; httpStatus: number }
  | { outcome: 'uncertain'; why: string; retryAfterMs?: number | undefined }

export interface SentMessage {
  sid: string
  to: string
  from: string | null
  messagingServiceSid: string | null
  status: string
  dateCreated: Date
}

export interface TwilioClient {
  /** The account's status (`active`, `suspended`, `closed`); 401 throws Unauthorized. */
  accountStatus(): Promise<string>
  send(req: SendRequest): Promise<SendOutcome>
  /**
   * Messages to `to` created at or after `since`, newest first, from `from` (or the messaging
   * service). Reads pages until the messages are older than `since`.
   */
  sentSince(
    to: string,
    since: Date,
    sender: { from?: string | undefined; messagingServiceSid?: string | undefined },
  ): Promise<SentMessage[]>
  /**
   * One message's status as Twilio has it now (`messages(sid).fetch`), for a message whose status
   * callback may have been lost; `undefined` if Twilio has no such message (404).
   */
  messageStatus(sid: string): Promise<{ status: string; errorCode: number | undefined } | undefined>
}

type RequestClientClass = typeof RequestClient

/** A `RequestClient` that points every SDK request at `endpoint` instead of Twilio's hosts. */
function endpointClient(Base: RequestClientClass, endpoint: string, timeoutMs: number): RequestClient {
  const origin = endpoint.replace(/\/+$/, '')
  class EndpointClient extends Base {
    override request<T>(opts: RequestClient.RequestOptions<T>) {
      const u = new URL(opts.uri)
      return super.request({ ...opts, uri: `${origin}${u.pathname}${u.search}`, timeout: timeoutMs })
    }
  }
  return new EndpointClient({ timeout: timeoutMs, keepAlive: true, autoRetry: false })
}

let sdk: Promise<{ twilio: typeof twilio; RequestClient: RequestClientClass }> | undefined

/** The SDK, imported once, at the first call of any client. */
function loadSdk() {
  sdk ??= Promise.all([import('twilio'), import('twilio/lib/base/RequestClient.js')]).then(([t, r]) => ({
    twilio: t.default,
    RequestClient: r.default,
  }))
  return sdk
}

interface RestError {
  status?: number
  code?: number | string
  message?: string
}

function restError(err: unknown): RestError | undefined {
  if (err && typeof err === 'object' && typeof (err as RestError).status === 'number') return err as RestError
  return undefined
}

function retryAfterOf(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, string> } | undefined)?.headers
  const v = headers?.['retry-after']
  const s = v === undefined ? Number.NaN : Number(v)
  return Number.isFinite(s) ? s * 1000 : undefined
}

function unauthorized(err: RestError): StallingError {
  return new StallingError(
    Reason.Unauthorized,
    `Twilio refused the credentials (HTTP ${err.status}${err.code ? `, code ${err.code}` : ''})`,
  )
}

/**
 * The official SDK's client as every Switchboard Twilio client uses it: pointed at `endpoint`
 * through its `httpClient` (keep-alive connections, the request timeout), the SDK's retry off.
 * The benchmarks' floor uses it too, so it sends exactly as the controller does.
 */
export async function createTwilioSdkClient(opts: TwilioClientOptions): Promise<ReturnType<typeof twilio>> {
  const { credentials } = opts
  const timeoutMs = opts.timeoutMs ?? 15_000
  const [user, password] =
    credentials.apiKeySid && credentials.apiKeySecret
      ? [credentials.apiKeySid, credentials.apiKeySecret]
      : [credentials.accountSid, credentials.authToken ?? '']
  const { twilio, RequestClient } = await loadSdk()
  return twilio(user, password, {
    accountSid: credentials.accountSid,
    httpClient: endpointClient(RequestClient, opts.endpoint ?? TWILIO_DEFAULT_ENDPOINT, timeoutMs),
    autoRetry: false,
  })
}

export function createTwilioClient(opts: TwilioClientOptions): TwilioClient {
  const { credentials } = opts
  let made: Promise<ReturnType<typeof twilio>> | undefined
  const sdkClient = () => {
    made ??= createTwilioSdkClient(opts)
    return made
  }

  const transient = (err: unknown, what: string) => {
    const r = restError(err)
    if (r && (r.status === 401 || r.status === 403)) return unauthorized(r)
    if (r?.status === 429) return new TransientError(Reason.RateLimited, `Twilio is rate limiting ${what}`)
    const message = r
      ? `HTTP ${r.status}${r.code ? `, code ${r.code}` : ''}`
      : err instanceof Error
        ? err.message
        : String(err)
    return new TransientError(
      Reason.ProviderUnavailable,
      sanitizeMessage(`Twilio ${what} failed: ${message}`),
    )
  }

  return {
    async accountStatus() {
      const client = await sdkClient()
      try {
        const a = await client.api.v2010.accounts(credentials.accountSid).fetch()
        return a.status
      } catch (err) {
        throw transient(err, 'account check')
      }
    },

    async send(req) {
      const client = await sdkClient()
      try {
        const m = await client.messages.create({
          to: req.to,
          ...(req.from ? { from: req.from } : {}),
          ...(req.messagingServiceSid ? { messagingServiceSid: req.messagingServiceSid } : {}),
          ...(req.body !== undefined ? { body: req.body } : {}),
          ...(req.contentSid ? { contentSid: req.contentSid } : {}),
          ...(req.contentVariables ? { contentVariables: req.contentVariables } : {}),
          ...(req.mediaUrls && req.mediaUrls.length > 0 ? { mediaUrl: [...req.mediaUrls] } : {}),
          ...(req.statusCallback ? { statusCallback: req.statusCallback } : {}),
        })
        return { outcome: 'accepted', sid: m.sid, status: m.status }
      } catch (err) {
        const r = restError(err)
        if (r && (r.status === 401 || r.status === 403)) throw unauthorized(r)
        if (
          r &&
          r.status !== undefined &&
          r.status >= 400 &&
          r.status < 500 &&
          r.status !== 429 &&
          r.status !== 408
        ) {
          const code = typeof r.code === 'number' ? r.code : Number(r.code)
          return { outcome: 'rejected', code: Number.isFinite(code) ? code : undefined, httpStatus: r.status }
        }
        const why = r ? `HTTP ${r.status}` : 'no response'
        return { outcome: 'uncertain', why, retryAfterMs: r?.status === 429 ? retryAfterOf(err) : undefined }
      }
    },

    async messageStatus(sid) {
      const client = await sdkClient()
      try {
        const m = await client.messages(sid).fetch()
        return { status: m.status, errorCode: typeof m.errorCode === 'number' ? m.errorCode : undefined }
      } catch (err) {
        if (restError(err)?.status === 404) return undefined
        throw transient(err, 'message read')
      }
    },

    async sentSince(to, since, sender) {
      const client = await sdkClient()
      const out: SentMessage[] = []
      try {
        let page = await client.messages.page({
          to,
          ...(sender.from ? { from: sender.from } : {}),
          pageSize: 50,
        })
        for (;;) {
          let older = false
          for (const m of page.instances) {
            if (m.dateCreated < since) {
              older = true
              continue
            }
            if (
              sender.messagingServiceSid &&
              !sender.from &&
              m.messagingServiceSid !== sender.messagingServiceSid
            )
              continue
            out.push({
              sid: m.sid,
              to: m.to,
              from: m.from,
              messagingServiceSid: m.messagingServiceSid,
              status: m.status,
              dateCreated: m.dateCreated,
            })
          }
          if (older || !page.nextPageUrl) break
          const next = await page.nextPage()
          if (!next) break
          page = next as typeof page
        }
      } catch (err) {
        throw transient(err, 'message list')
      }
      return out
    },
  }
}
