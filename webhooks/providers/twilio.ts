/**
 * Twilio: `X-Twilio-Signature` is a base64 HMAC-SHA1 (key: the Auth Token) over the full URL
 * Twilio called followed by the POST parameters sorted by name. Verified with the official SDK
 * (`getExpectedTwilioSignature` for the URL as given, then `validateRequest` with every other
 * spelling of it; constant-time), against the *public* URL: `--public-url` (or the origin of
 * the resource's `status.webhook.url`) followed by the path and query that arrived, so a
 * TLS-terminating Ingress in front of the server does not break signatures.
 *
 * Status callbacks (`MessageStatus` present) are callback-only data and go to the sink, keyed by
 * `MessageSid`; anything else (an incoming message) asks for a reconcile. The answer is an empty
 * TwiML document, which Twilio accepts for both.
 */

import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks.js'
import type { CallbackEvent } from '../callbacks.ts'
import {
  accept,
  ENTITY_KEY,
  header,
  hexSignatureMatches,
  mediaType,
  nowIso,
  type ProviderPluginOptions,
  parseJsonObject,
  rawBody,
  reject,
  routeConfig,
  syncRoute,
  targetHook,
  targetOf,
  useRawBody,
  type WebhookContext,
  withSecret,
} from '../pipeline.ts'

export const TWILIO_SIGNATURE_HEADER = 'X-Twilio-Signature'
/** Sent by Twilio on webhook requests; the same on a retry. */
export const TWILIO_IDEMPOTENCY_HEADER = 'I-Twilio-Idempotency-Token'
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

type FormParams = Record<string, string | string[]>

/**
 * A message's statuses in the order they happen: callbacks can arrive out of order (a late `sent`
 * after `delivered`), and the later state wins whatever the arrival. Terminal states share a rank.
 */
export const TWILIO_STATUS_RANK: Readonly<Record<string, number>> = {
  accepted: 1,
  scheduled: 1,
  queued: 2,
  sending: 3,
  sent: 4,
  receiving: 4,
  partially_delivered: 5,
  delivered: 6,
  undelivered: 6,
  failed: 6,
  canceled: 6,
  received: 6,
  read: 7,
}

/** Form parameters as the SDK expects them (a repeated name becomes an array). */
export function formParams(raw: Buffer): FormParams {
  const out: FormParams = Object.create(null)
  for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) {
    const prev = out[k]
    if (prev === undefined) out[k] = v
    else if (Array.isArray(prev)) prev.push(v)
    else out[k] = [prev, v]
  }
  return out
}

/** The URLs Twilio may have signed: the configured public URL first, then the one in status. */
export function signedUrlCandidates(ctx: WebhookContext, request: FastifyRequest): string[] {
  const target = targetOf(request)
  const urls: string[] = []
  if (ctx.publicUrl) urls.push(`${ctx.publicUrl.replace(/\/+$/, '')}${request.url}`)
  if (target.url?.endsWith(target.path)) {
    urls.push(`${target.url.slice(0, target.url.length - target.path.length)}${request.url}`)
  }
  // no public URL anywhere: the URL as this server saw it (no proxy in front)
  if (urls.length === 0) urls.push(`${request.protocol}://${request.host}${request.url}`)
  return [...new Set(urls)]
}

/**
 * The SDK's `validateRequest`, with its most likely case first: the SDK's signature for `url`
 * exactly as given (the URL Switchboard publishes is the one Twilio calls and signs), compared in
 * constant time. `validateRequest` always tries that spelling among its first two (the URL with
 * its port removed, then with the default port added: one of them is the URL itself), so a match
 * here is one it would accept; on a mismatch it runs in full and tries every spelling it knows
 * (port added or removed, normalized, legacy query encoding). Same answers, one HMAC and no URL
 * parsing for a genuine request.
 */
export function twilioSignatureMatches(
  authToken: string,
  signature: string,
  url: string,
  params: FormParams,
): boolean {
  const given = Buffer.from(signature)
  const expected = Buffer.from(getExpectedTwilioSignature(authToken, url, params))
  // the length of a base64 HMAC-SHA1 is fixed by the algorithm, not secret
  if (given.length === expected.length && timingSafeEqual(given, expected)) return true
  return validateRequest(authToken, signature, url, params)
}

function verify(
  authToken: string,
  signature: string,
  url: string,
  raw: Buffer,
  params?: FormParams,
): boolean {
  try {
    if (params) return twilioSignatureMatches(authToken, signature, url, params)
    // A JSON callback signs its URL, which carries `bodySHA256`: the hash of the bytes that were
    // sent. Hash those bytes (the SDK's helper hashes decoded text, which maps every invalid
    // UTF-8 sequence to U+FFFD, so different bodies would share a hash).
    const given = new URL(url).searchParams.get('bodySHA256') ?? ''
    if (!hexSignatureMatches(given, createHash('sha256').update(raw).digest())) return false
    return twilioSignatureMatches(authToken, signature, url, {})
  } catch {
    // a URL the SDK cannot parse was not signed by Twilio
    return false
  }
}

export const twilioPlugin: FastifyPluginAsync<ProviderPluginOptions> = async (app, { ctx }) => {
  useRawBody(app, ctx.bodyLimit)
  app.addHook('onRequest', targetHook(ctx, 'twilio'))
  app.post(
    '/:token',
    routeConfig(ctx, 'twilio'),
    syncRoute((request, reply) => {
      const signature = header(request, 'x-twilio-signature')
      if (!signature) return reject(request, reply, 'missing_signature')
      const type = mediaType(request)
      const form = type === 'application/x-www-form-urlencoded'
      if (!form && type !== 'application/json') return reject(request, reply, 'unsupported_media_type')
      return withSecret(request, reply, 'authToken', (authToken) =>
        verified(request, reply, authToken, signature, form),
      )
    }),
  )

  function verified(
    request: FastifyRequest,
    reply: FastifyReply,
    authToken: string,
    signature: string,
    form: boolean,
  ): FastifyReply {
    const raw = rawBody(request)
    const params = form ? formParams(raw) : undefined
    const urls = signedUrlCandidates(ctx, request)
    if (!urls.some((url) => verify(authToken, signature, url, raw, params))) {
      return reject(request, reply, 'bad_signature')
    }
    const twiml = { status: 200, contentType: 'text/xml; charset=utf-8', body: EMPTY_TWIML }
    // Dedupe on what is signed: I-Twilio-Idempotency-Token is not, so a replay with a new one
    // would pass. The signature covers the URL (with bodySHA256) and every parameter.
    if (!params) {
      if (!parseJsonObject(raw)) return reject(request, reply, 'malformed')
      return accept(ctx, request, reply, { dedupeId: signature, reconcile: true, ...twiml })
    }
    const sid = one(params.MessageSid) ?? one(params.SmsSid)
    // status callbacks carry MessageStatus; incoming messages only SmsStatus=received
    const status = one(params.MessageStatus)
    if (status !== undefined) {
      if (!sid || !ENTITY_KEY.test(sid) || !/^[a-z_-]{1,32}$/.test(status)) {
        return reject(request, reply, 'malformed')
      }
      const errorCode = one(params.ErrorCode)
      const event: CallbackEvent = {
        provider: 'twilio',
        type: 'message-status',
        key: sid,
        deliveryId: `${sid}:${status}`,
        occurredAt: nowIso(ctx),
        data: { status, errorCode: errorCode && /^\d{1,6}$/.test(errorCode) ? Number(errorCode) : null },
        rank: TWILIO_STATUS_RANK[status] ?? 0,
      }
      return accept(ctx, request, reply, {
        dedupeId: event.deliveryId,
        reconcile: false,
        callbacks: [event],
        ...twiml,
      })
    }
    return accept(ctx, request, reply, {
      dedupeId: sid ? `${sid}:inbound` : signature,
      reconcile: true,
      ...twiml,
    })
  }
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
