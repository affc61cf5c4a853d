/**
 * Calendly webhook signatures: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where
 * v1 is the HMAC-SHA256, keyed with the subscription's signing key, of `${t}.${rawBody}`.
 * A signature whose `t` is more than 3 minutes from now (either way) is refused, so a captured
 * delivery cannot be replayed later. Verification runs on the raw bytes that arrived and
 * compares in constant time. Pure functions; the webhook server and the provider sandbox use
 * these two.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const CALENDLY_SIGNATURE_HEADER = 'Calendly-Webhook-Signature'
/** Largest accepted distance between `t` and now. */
export const CALENDLY_TOLERANCE_SECONDS = 180

/** Why a signature was refused: a bounded set, fit for a metric label. */
export type CalendlySignatureFailure = 'missing' | 'malformed' | 'stale' | 'mismatch'

export type CalendlySignatureCheck =
  | { ok: true; timestampSeconds: number }
  | { ok: false; reason: CalendlySignatureFailure }

export interface CalendlyVerifyOptions {
  /** Default 180. */
  toleranceSeconds?: number
  /** Now, as a Date or epoch ms. Default `Date.now()`. */
  now?: Date | number
}

type Body = string | Uint8Array

function hmacHex(key: string, t: number, body: Body): string {
  return createHmac('sha256', key)
    .update(`${t}.`)
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('hex')
}

/** The header value Calendly sends for `rawBody` signed at `timestampSeconds`. */
export function signCalendlyWebhook(
  signingKey: string,
  rawBody: Body,
  timestampSeconds = Math.floor(Date.now() / 1000),
): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new TypeError('timestampSeconds must be a non-negative integer')
  }
  return `t=${timestampSeconds},v1=${hmacHex(signingKey, timestampSeconds, rawBody)}`
}

/** Checks a `Calendly-Webhook-Signature` header against the raw body; says why it fails. */
export function checkCalendlySignature(
  signingKey: string,
  header: string | null | undefined,
  rawBody: Body,
  opts: CalendlyVerifyOptions = {},
): CalendlySignatureCheck {
  if (header == null || header.trim() === '') return { ok: false, reason: 'missing' }
  let t: number | undefined
  const given: string[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) return { ok: false, reason: 'malformed' }
    const name = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (name === 't') {
      if (t !== undefined || !/^\d{1,12}$/.test(value)) return { ok: false, reason: 'malformed' }
      t = Number(value)
    } else if (name === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return { ok: false, reason: 'malformed' }
      given.push(value.toLowerCase())
    }
  }
  if (t === undefined || given.length === 0) return { ok: false, reason: 'malformed' }
  const nowMs =
    opts.now === undefined ? Date.now() : typeof opts.now === 'number' ? opts.now : opts.now.getTime()
  const tolerance = opts.toleranceSeconds ?? CALENDLY_TOLERANCE_SECONDS
  if (Math.abs(nowMs / 1000 - t) > tolerance) return { ok: false, reason: 'stale' }
  const expected = Buffer.from(hmacHex(signingKey, t, rawBody), 'hex')
  let matched = false
  for (const v of given) {
    // every candidate is compared, in constant time
    if (timingSafeEqual(Buffer.from(v, 'hex'), expected)) matched = true
  }
  return matched ? { ok: true, timestampSeconds: t } : { ok: false, reason: 'mismatch' }
}

/** True when the header is a valid, fresh signature of the body. */
export function verifyCalendlySignature(
  signingKey: string,
  header: string | null | undefined,
  rawBody: Body,
  opts: CalendlyVerifyOptions = {},
): boolean {
  return checkCalendlySignature(signingKey, header, rawBody, opts).ok
}
