import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { checkSignature, computeSignature, signPayload, verifySignature } from './signature.ts'

const secret = 'whsec-test-signing-secret-0001'
const body = '{"batchId":"abc","records":[{"messageId":"m-1"}]}'
const t = 1_800_000_000
const now = t * 1000

describe('signPayload', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
    expect(signPayload(secret, t, body)).toBe(`t=${t},v1=${expected}`)
    expect(computeSignature(secret, t, body)).toBe(expected)
  })

  it('signs bytes and the same text alike', () => {
    expect(signPayload(secret, t, Buffer.from(body))).toBe(signPayload(secret, t, body))
  })

  it('refuses a timestamp that is not unix seconds', () => {
    expect(() => signPayload(secret, 1.5, body)).toThrow(TypeError)
    expect(() => signPayload(secret, -1, body)).toThrow(TypeError)
  })
})

describe('verifySignature', () => {
  const header = signPayload(secret, t, body)

  it('accepts a fresh signature of the exact body', () => {
    expect(verifySignature(secret, header, body, { now })).toBe(true)
    expect(verifySignature(secret, header, Buffer.from(body), { now: new Date(now + 299_000) })).toBe(true)
    expect(checkSignature(secret, header, body, { now })).toEqual({ ok: true, timestampSeconds: t })
  })

  it('rejects a body changed by one byte', () => {
    const changed = Buffer.from(body)
    changed[changed.length - 3] = (changed[changed.length - 3] as number) ^ 1
    expect(verifySignature(secret, header, changed, { now })).toBe(false)
    expect(checkSignature(secret, header, `${body} `, { now })).toEqual({ ok: false, reason: 'mismatch' })
  })

  it('rejects a wrong secret', () => {
    expect(checkSignature('another-secret', header, body, { now })).toEqual({ ok: false, reason: 'mismatch' })
  })

  it('rejects a stale or far-future timestamp, honouring toleranceSeconds', () => {
    expect(checkSignature(secret, header, body, { now: now + 301_000 })).toEqual({
      ok: false,
      reason: 'stale',
    })
    expect(checkSignature(secret, header, body, { now: now - 301_000 })).toEqual({
      ok: false,
      reason: 'stale',
    })
    expect(verifySignature(secret, header, body, { now: now + 60_000, toleranceSeconds: 30 })).toBe(false)
    expect(verifySignature(secret, header, body, { now: now + 20_000, toleranceSeconds: 30 })).toBe(true)
  })

  it('rejects a timestamp swapped into a valid header', () => {
    const forged = header.replace(`t=${t}`, `t=${t + 10}`)
    expect(checkSignature(secret, forged, body, { now })).toEqual({ ok: false, reason: 'mismatch' })
  })

  it('says missing or malformed', () => {
    expect(checkSignature(secret, undefined, body, { now })).toEqual({ ok: false, reason: 'missing' })
    expect(checkSignature(secret, '  ', body, { now })).toEqual({ ok: false, reason: 'missing' })
    for (const bad of [
      'garbage',
      `t=${t}`,
      `v1=${'a'.repeat(64)}`,
      `t=abc,v1=${'a'.repeat(64)}`,
      `t=${t},v1=xyz`,
    ]) {
      expect(checkSignature(secret, bad, body, { now })).toEqual({ ok: false, reason: 'malformed' })
    }
  })

  it('accepts any matching v1 (secret rotation) and ignores unknown schemes', () => {
    const good = computeSignature(secret, t, body)
    const rotated = `t=${t},v1=${'0'.repeat(64)},v0=whatever,v1=${good}`
    expect(verifySignature(secret, rotated, body, { now })).toBe(true)
  })
})
