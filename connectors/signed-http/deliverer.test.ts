import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSandbox, type Sandbox } from '../../test/sandbox/index.ts'
import type { DeliveryRecord } from '../delivery.ts'
import { Reason, StallingError, SwitchboardError, TransientError, WaitingError } from '../errors.ts'
import { createLogger } from '../log.ts'
import { batchIdFor, createHttpDeliverer, type HttpDelivererOptions } from './index.ts'

const SECRET = 'sig-secret-7f3a9c2e1b'
const OTHER_SECRET = 'other-secret-5d8e2a'

function records(n: number, prefix = 'rec'): DeliveryRecord[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2
      ? {
          messageId: `${prefix}-${i}`,
          type: 'track',
          userId: `player-${i}`,
          event: 'Deposit Made',
          properties: { amount: i },
          timestamp: '2026-03-01T10:00:00.000Z',
        }
      : {
          messageId: `${prefix}-${i}`,
          type: 'identify',
          userId: `player-${i}`,
          properties: { tier: 'gold' },
          timestamp: '2026-03-01T10:00:00.000Z',
        },
  )
}

/** A pino logger whose output is kept in `lines`. */
function capturedLogger() {
  const lines: string[] = []
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } })
  return {
    logger,
    lines,
    attempts: () => lines.map((l) => JSON.parse(l)).filter((l) => l.msg?.startsWith('destination request')),
  }
}

async function rejection(p: Promise<unknown>): Promise<SwitchboardError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(SwitchboardError)
    return err as SwitchboardError
  }
  throw new Error('expected the delivery to be rejected')
}

describe('signed HTTP deliverer against the sandbox', () => {
  let sb: Sandbox
  let base: string
  beforeAll(async () => {
    sb = await buildSandbox({
      http: {
        receivers: {
          shop: { signingSecret: SECRET },
          locked: { signingSecret: OTHER_SECRET },
          strict: { signingSecret: SECRET, toleranceSeconds: 1 },
        },
      },
    })
    base = await sb.listen()
  })
  afterAll(() => sb.close())
  beforeEach(() => sb.reset())

  const make = (opts: Partial<HttpDelivererOptions> = {}) =>
    createHttpDeliverer({ url: `${base}/http/shop`, signingSecret: SECRET, retryDelayMs: 20, ...opts })

  it('delivers every record once, in signed chunks with stable ids, one log line per attempt', async () => {
    const { logger, attempts } = capturedLogger()
    const d = make({ batchSize: 100, logger })
    const recs = records(250)
    const result = await d.deliver(recs)
    expect(result.delivered).toBe(250)
    expect(result.durationMs).toBeGreaterThanOrEqual(0)
    expect(sb.http.received('shop')).toBe(250)
    expect(sb.http.messageIds('shop')).toEqual(new Set(recs.map((r) => r.messageId)))
    expect(sb.http.duplicates('shop')).toBe(0)
    expect(sb.http.batches('shop')).toBe(3)
    expect(sb.http.records('shop')[1]).toEqual(recs[1])
    const lines = attempts()
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatchObject({
      method: 'POST',
      url: expect.stringMatching(/^127\.0\.0\.1:\d+\/http\/shop$/),
      status: 200,
      batchId: batchIdFor(recs.slice(0, 100)),
    })
    expect(typeof lines[0].latencyMs).toBe('number')
    await d.close()
  })

  it('re-sends a chunk with the same batchId, so the receiver sees the duplicate', async () => {
    const d = make()
    const recs = records(10)
    await d.deliver(recs)
    await d.deliver(recs)
    expect(sb.http.batches('shop')).toBe(1)
    expect(sb.http.duplicateBatches('shop')).toBe(1)
    expect(sb.http.uniqueMessageIds('shop')).toBe(10)
  })

  it('retries injected 500s and still delivers everything', async () => {
    const { logger, attempts } = capturedLogger()
    sb.faults.inject({ provider: 'http', status: 500, times: 2 })
    const d = make({ logger })
    await d.deliver(records(30))
    expect(sb.http.uniqueMessageIds('shop')).toBe(30)
    expect(attempts().map((l) => l.status)).toEqual([500, 500, 200])
    expect(sb.http.requests.map((r) => r.status)).toEqual([500, 500, 200])
  })

  it('honours Retry-After on 429: no request before it', async () => {
    sb.faults.inject({ provider: 'http', status: 429, retryAfterSeconds: 1 })
    const d = make()
    await d.deliver(records(5))
    const [limited, next] = sb.http.requests
    expect(limited?.status).toBe(429)
    expect(next?.status).toBe(200)
    expect((next?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1000)
    expect(sb.http.uniqueMessageIds('shop')).toBe(5)
  })

  it('signs every retry afresh, so a long wait never leaves a stale timestamp', async () => {
    sb.faults.inject({ provider: 'http', status: 429, retryAfterSeconds: 3 })
    await make({ url: `${base}/http/strict` }).deliver(records(2))
    expect(sb.http.requests.map((r) => r.status)).toEqual([429, 200])
    expect(sb.http.uniqueMessageIds('strict')).toBe(2)
  }, 10_000)

  it('rejects a 400 with DestinationRejected, without retrying', async () => {
    sb.faults.inject({ provider: 'http', status: 400, times: 10, body: { message: 'record schema invalid' } })
    const err = await rejection(make().deliver(records(5)))
    expect(err).toBeInstanceOf(StallingError)
    expect(err.reason).toBe(Reason.DestinationRejected)
    expect(err.retryable).toBe(false)
    expect(err.message).toContain('400')
    expect(err.message).toContain('record schema invalid')
    expect(sb.http.requests).toHaveLength(1)
  })

  it('rejects a wrong signing secret with Unauthorized, without retrying', async () => {
    const err = await rejection(make({ url: `${base}/http/locked` }).deliver(records(3)))
    expect(err).toBeInstanceOf(StallingError)
    expect(err.reason).toBe(Reason.Unauthorized)
    expect(sb.http.requests).toHaveLength(1)
    expect(sb.http.rejected('locked').mismatch).toBe(1)
  })

  it('gives up on persistent 5xx after maxRetries with DestinationUnavailable', async () => {
    sb.faults.inject({ provider: 'http', status: 503, times: 100 })
    const err = await rejection(make({ maxRetries: 2 }).deliver(records(3)))
    expect(err).toBeInstanceOf(TransientError)
    expect(err.reason).toBe(Reason.DestinationUnavailable)
    expect(sb.http.requests).toHaveLength(3)
  })

  it('returns a persistent rate limit as WaitingError with the Retry-After', async () => {
    sb.faults.inject({ provider: 'http', status: 429, times: 100, retryAfterSeconds: 120 })
    const err = await rejection(make({ maxRetryAfterMs: 5_000 }).deliver(records(3)))
    expect(err).toBeInstanceOf(WaitingError)
    expect(err.reason).toBe(Reason.RateLimited)
    expect(err.retryAfterMs).toBe(120_000)
    // a Retry-After longer than we wait ends the retries at once
    expect(sb.http.requests).toHaveLength(1)
  })

  it('retries a timed-out attempt; the receiver dedupes the late copy', async () => {
    sb.faults.inject({ provider: 'http', delayMs: 400 })
    const d = make({ timeoutMs: 150 })
    await d.deliver(records(4))
    // the first attempt was processed but answered too late: the retry carries the same batchId
    expect(sb.http.uniqueMessageIds('shop')).toBe(4)
    expect(sb.http.batches('shop')).toBe(1)
    expect(sb.http.duplicateBatches('shop')).toBe(1)
  })

  it('reports an unreachable receiver as DestinationUnavailable', async () => {
    const closed = await buildSandbox()
    const url = await closed.listen()
    await closed.close()
    const err = await rejection(make({ url: `${url}/http/shop`, maxRetries: 1 }).deliver(records(2)))
    expect(err).toBeInstanceOf(TransientError)
    expect(err.reason).toBe(Reason.DestinationUnavailable)
  })

  it('never puts the secret, or a token in the URL query, in errors or logs', async () => {
    const { logger, lines } = capturedLogger()
    const d = make({ url: `${base}/http/locked?token=url-token-value-123`, logger, maxRetries: 1 })
    const unauthorized = await rejection(d.deliver(records(2)))
    sb.faults.inject({ provider: 'http', status: 500, times: 2, body: `secret echo: ${SECRET}` })
    const failing = make({ logger, maxRetries: 1 })
    const unavailable = await rejection(failing.deliver(records(2)))
    sb.faults.inject({ provider: 'http', status: 400, body: { message: `bad signingSecret=${SECRET}` } })
    const rejected = await rejection(failing.deliver(records(2)))
    const everything = [unauthorized, unavailable, rejected]
      .map((e) => `${e.message} ${String(e.cause)}`)
      .join('\n')
    expect(rejected.message).toContain('400')
    expect(lines.length).toBeGreaterThanOrEqual(4)
    for (const text of [everything, lines.join('')]) {
      expect(text).not.toContain(SECRET)
      expect(text).not.toContain('url-token-value-123')
    }
  })

  it('rejects malformed records before sending anything', async () => {
    const bad = [
      ...records(2),
      {
        messageId: 'x'.repeat(120),
        type: 'track',
        userId: 'u',
        event: 'e',
        properties: {},
        timestamp: '2026-01-01T00:00:00Z',
      } as DeliveryRecord,
    ]
    const err = await rejection(make().deliver(bad))
    expect(err.reason).toBe(Reason.DestinationRejected)
    expect(sb.http.requests).toHaveLength(0)
  })

  it('serves concurrent deliveries and stops waiting when aborted', async () => {
    const d = make({ batchSize: 10 })
    const results = await Promise.all([
      d.deliver(records(25, 'a')),
      d.deliver(records(25, 'b')),
      d.deliver(records(25, 'c')),
    ])
    expect(results.map((r) => r.delivered)).toEqual([25, 25, 25])
    expect(sb.http.uniqueMessageIds('shop')).toBe(75)

    sb.faults.inject({ provider: 'http', delayMs: 2_000 })
    const controller = new AbortController()
    const pending = d.deliver(records(2, 'z'), { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    const err = await rejection(pending)
    expect(err.reason).toBe(Reason.Timeout)
    await d.close()
    await expect(d.deliver(records(1))).rejects.toThrow(/closed/)
  })

  it('refuses invalid options', () => {
    expect(() => createHttpDeliverer({ url: 'not a url', signingSecret: SECRET })).toThrow(StallingError)
    expect(() => createHttpDeliverer({ url: 'ftp://x/y', signingSecret: SECRET })).toThrow(StallingError)
    expect(() => createHttpDeliverer({ url: `${base}/http/shop`, signingSecret: '' })).toThrow(StallingError)
    expect(() =>
      createHttpDeliverer({ url: `${base}/http/shop`, signingSecret: SECRET, batchSize: 0 }),
    ).toThrow(StallingError)
  })
})
