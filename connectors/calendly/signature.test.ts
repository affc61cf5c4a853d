import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { calendlySignature } from './index.ts'

const KEY = 'calendly-signing-key-5d1f'
const BODY =
  '{"event":"invitee.created","created_at":"2030-01-01T10:00:00.000000Z","payload":{"email":"a@b.c"}}'
const T = 1_893_492_000 // 2030-01-01T10:00:00Z
const NOW = T * 1000 + 30_000

// computed here with node:crypto alone, not with the code under test
const expectedHex = createHmac('sha256', KEY).update(`${T}.${BODY}`).digest('hex')
const header = `t=${T},v1=${expectedHex}`

describe('Calendly webhook signatures', () => {
  it('signs as Calendly does: t=<s>,v1=hex HMAC-SHA256 of "t.body"', () => {
    expect(calendlySignature.sign(KEY, BODY, T)).toBe(header)
    expect(calendlySignature.sign(KEY, Buffer.from(BODY), T)).toBe(header)
  })

  it('accepts a valid signature (string or raw bytes)', () => {
    expect(calendlySignature.check(KEY, header, BODY, { now: NOW })).toEqual({
      ok: true,
      timestampSeconds: T,
    })
    expect(calendlySignature.verify(KEY, header, Buffer.from(BODY), { now: new Date(NOW) })).toBe(true)
    // spaces after commas and upper-case hex are tolerated; unknown schemes are ignored
    expect(
      calendlySignature.verify(KEY, `t=${T}, v0=abc, v1=${expectedHex.toUpperCase()}`, BODY, { now: NOW }),
    ).toBe(true)
  })

  it('refuses a body with one byte changed', () => {
    const changed = BODY.replace('a@b.c', 'a@b.d')
    expect(calendlySignature.check(KEY, header, changed, { now: NOW })).toEqual({
      ok: false,
      reason: 'mismatch',
    })
    const bytes = Buffer.from(BODY)
    bytes[bytes.length - 2] = 0x20
    expect(calendlySignature.check(KEY, header, bytes, { now: NOW })).toEqual({
      ok: false,
      reason: 'mismatch',
    })
  })

  it('refuses another key', () => {
    expect(calendlySignature.check('other-key', header, BODY, { now: NOW })).toEqual({
      ok: false,
      reason: 'mismatch',
    })
  })

  it('refuses a stale or far-future timestamp (3 minutes)', () => {
    expect(calendlySignature.check(KEY, header, BODY, { now: T * 1000 + 181_000 })).toEqual({
      ok: false,
      reason: 'stale',
    })
    expect(calendlySignature.check(KEY, header, BODY, { now: T * 1000 - 181_000 })).toEqual({
      ok: false,
      reason: 'stale',
    })
    expect(calendlySignature.check(KEY, header, BODY, { now: T * 1000 + 179_000 }).ok).toBe(true)
  })

  it('refuses a missing or malformed header', () => {
    expect(calendlySignature.check(KEY, undefined, BODY, { now: NOW })).toEqual({
      ok: false,
      reason: 'missing',
    })
    expect(calendlySignature.check(KEY, '  ', BODY, { now: NOW })).toEqual({ ok: false, reason: 'missing' })
    for (const bad of [
      `v1=${expectedHex}`,
      `t=${T}`,
      `t=abc,v1=${expectedHex}`,
      `t=${T},v1=zz`,
      'garbage',
      `t=${T},t=${T},v1=${expectedHex}`,
    ]) {
      expect(calendlySignature.check(KEY, bad, BODY, { now: NOW })).toEqual({
        ok: false,
        reason: 'malformed',
      })
    }
  })
})
