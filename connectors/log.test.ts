import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger, SECRET_FIELD_NAMES } from './log.ts'

function capture() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk))
      cb()
    },
  })
  return { logger: createLogger({ destination, level: 'debug' }), text: () => lines.join('') }
}

describe('log redaction', () => {
  const names = [
    'webhookSecret',
    'webhookSigningKey',
    'eventsubSecret',
    'appSecret',
    'verifyToken',
    'channelToken',
    'refreshToken',
    'private_key',
    'licenseKey',
    'x-api-key',
  ]

  it('censors every credential field name at any depth and in any case', () => {
    const { logger, text } = capture()
    const planted = names.map((n, i) => [n, `planted-${i}-${n.length}-value`] as const)
    const deep = Object.fromEntries(planted)
    logger.info(
      {
        top: deep,
        a: { b: { c: { d: deep } } },
        list: [{ nested: [deep] }],
        headers: { 'X-API-KEY': 'planted-upper-header', Authorization: 'Bearer planted-bearer' },
        WebhookSecret: 'planted-mixed-case',
        fine: 'visible-value',
      },
      'with secrets',
    )
    const out = text()
    for (const [, value] of planted) expect(out).not.toContain(value)
    for (const v of ['planted-upper-header', 'planted-bearer', 'planted-mixed-case'])
      expect(out).not.toContain(v)
    expect(out).toContain('visible-value')
    expect(out).toContain('[REDACTED]')
  })

  it('covers the keys the providers declare, and leaves objects without credentials untouched', () => {
    for (const key of ['apiSecret', 'hashKey', 'pageAccessToken', 'authToken', 'signingSecret'])
      expect(SECRET_FIELD_NAMES.has(key.toLowerCase()), key).toBe(true)
    const { logger, text } = capture()
    const err = new Error('boom')
    logger.warn({ err, object: 'ns/name', count: 3 }, 'plain')
    expect(text()).toContain('"object":"ns/name"')
    expect(text()).toContain('boom')
  })
})
