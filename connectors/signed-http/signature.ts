/**
 * Signatures of Switchboard's signed HTTP deliveries. The header value is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${rawBody}`)>`; several `v1=` entries may
 * appear (a receiver accepts any that matches, which allows rotating a secret). Receivers and the
 * provider sandbox verify with `verifySignature` / `checkSignature` from here, on the raw bytes
 * that arrived.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export type SignedBody = string | Uint8Array

/** Default accepted clock difference between signer and receiver. */
export const DEFAULT_TOLERANCE_SECONDS = 300

/** Hex HMAC-SHA256 of `${timestampSeconds}.` followed by the body's bytes. */
export function computeSignature(secret: string, timestampSeconds: number, body: SignedBody): string {
  const hmac = createHmac('sha256', secret)
  hmac.update(`${timestampSeconds}.`)
  hmac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
  return hmac.digest('hex')
}

/** The signature header value for `body` signed at `timestampSeconds`: `t=...,v1=...`. */
export function signPayload(secret: string, timestampSeconds: number, body: SignedBody): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new TypeError('timestampSeconds must be a non-negative integer (unix seconds)')
  }
  return `t=${timestampSeconds},v1=${computeSignature(secret, timestampSeconds, body)}`
}

export interface VerifyOptions {
  /** Largest accepted difference between `t` and now, either way. Default 300. */
  toleranceSeconds?: number
  /** The current time, as a Date or epoch milliseconds (like `Date.now()`). Default: now. */
  now?: Date | number
}

/** Why a signature was refused; a bounded set, fit for a metric label. */
export type SignatureFailure = 'missing' | 'malformed' | 'stale' | 'mismatch'

export type SignatureCheck = { ok: true; timestampSeconds: number } | { ok: false; reason: SignatureFailure }

const HEX_SHA256 = /^[0-9a-f]{64}$/i

/** Verifies a signature header against the raw body; says why when it fails. */
export function checkSignature(
  secret: string,
  header: string | null | undefined,
  body: SignedBody,
  opts: VerifyOptions = {},
): SignatureCheck {
  if (header == null || header.trim() === '') return { ok: false, reason: 'missing' }
  let t: number | undefined
  const candidates: string[] = []
  for (const part of header.split(',')) {
    const eq = part.indexOf('=')
    if (eq < 0) return { ok: false, reason: 'malformed' }
    const key = part.slice(0, eq).trim()
    const value = part.slice(eq + 1).trim()
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || t !== undefined) return { ok: false, reason: 'malformed' }
      t = Number(value)
    } else if (key === 'v1') {
      if (!HEX_SHA256.test(value)) return { ok: false, reason: 'malformed' }
      candidates.push(value)
    }
    // unknown keys (future schemes) are ignored
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' }

  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS
  const nowMs =
    opts.now === undefined ? Date.now() : typeof opts.now === 'number' ? opts.now : opts.now.getTime()
  if (Math.abs(nowMs / 1000 - t) > tolerance) return { ok: false, reason: 'stale' }

  const expected = Buffer.from(computeSignature(secret, t, body), 'hex')
  let matched = false
  for (const candidate of candidates) {
    const given = Buffer.from(candidate, 'hex')
    // both are 32 bytes (checked by the pattern); compare every candidate in constant time
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true
  }
  return matched ? { ok: true, timestampSeconds: t } : { ok: false, reason: 'mismatch' }
}

/** True when `header` is a valid, fresh signature of `body` with `secret`. */
export function verifySignature(
  secret: string,
  header: string | null | undefined,
  body: SignedBody,
  opts: VerifyOptions = {},
): boolean {
  return checkSignature(secret, header, body, opts).ok
}

/** One provider's use of this scheme: the header it travels in and the clock difference it accepts. */
export interface SignatureScheme {
  readonly header: string
  readonly toleranceSeconds: number
  /** The header value for `body` signed at `timestampSeconds` (default: now). */
  sign(secret: string, body: SignedBody, timestampSeconds?: number): string
  /** `checkSignature` with the scheme's tolerance (an explicit `toleranceSeconds` wins). */
  check(
    secret: string,
    header: string | null | undefined,
    body: SignedBody,
    opts?: VerifyOptions,
  ): SignatureCheck
  verify(secret: string, header: string | null | undefined, body: SignedBody, opts?: VerifyOptions): boolean
}

/** The `t=...,v1=...` scheme under another header name and tolerance (Calendly's webhooks use it). */
export function signatureScheme(opts: { header: string; toleranceSeconds?: number }): SignatureScheme {
  const toleranceSeconds = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS
  const check = (
    secret: string,
    header: string | null | undefined,
    body: SignedBody,
    o: VerifyOptions = {},
  ) => checkSignature(secret, header, body, { toleranceSeconds, ...o })
  return Object.freeze({
    header: opts.header,
    toleranceSeconds,
    sign: (secret: string, body: SignedBody, timestampSeconds = Math.floor(Date.now() / 1000)) =>
      signPayload(secret, timestampSeconds, body),
    check,
    verify: (secret: string, header: string | null | undefined, body: SignedBody, o: VerifyOptions = {}) =>
      check(secret, header, body, o).ok,
  })
}
