import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSandbox, type Sandbox } from '../../test/sandbox/index.ts'
import type { Deliverer, DeliveryRecord } from '../delivery.ts'
import { Reason, StallingError, SwitchboardError, TransientError, WaitingError } from '../errors.ts'
import { createLogger } from '../log.ts'
import { jsonBytesBound } from './deliverer.ts'
import { createSegmentDeliverer, type SegmentDelivererOptions } from './index.ts'

const WRITE_KEY = 'wk-9f8e7d6c5b4a3210'
const WRITE_KEY_B64 = Buffer.from(`${WRITE_KEY}:`).toString('base64')

function records(n: number, prefix = 'seg'): DeliveryRecord[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2
      ? {
          messageId: `${prefix}-${i}`,
          type: 'track',
          userId: `player-${i}`,
          event: 'Bet Placed',
          properties: { stake: i },
          timestamp: '2026-03-01T10:00:00.000Z',
        }
      : {
          messageId: `${prefix}-${i}`,
          type: 'identify',
          userId: `player-${i}`,
          properties: { tier: 'gold' },
          timestamp: '2026-03-01T09:00:00.000Z',
        },
  )
}

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

describe('Segment deliverer against the sandbox', () => {
  let sb: Sandbox
  let host: string
  const open: Deliverer[] = []
  beforeAll(async () => {
    sb = await buildSandbox({ segment: { writeKeys: [WRITE_KEY] } })
    host = await sb.listen()
  })
  afterAll(async () => {
    await Promise.all(open.map((d) => d.close()))
    await sb.close()
  })
  beforeEach(() => sb.reset())

  const make = (opts: Partial<SegmentDelivererOptions> = {}) => {
    const d = createSegmentDeliverer({ writeKey: WRITE_KEY, host, closeTimeoutMs: 2_000, ...opts })
    open.push(d)
    return d
  }

  it('delivers every record once with its messageId, type and timestamp, one log line per request', async () => {
    const { logger, attempts } = capturedLogger()
    const d = make({ flushAt: 100, logger })
    const recs = records(250)
    const result = await d.deliver(recs)
    expect(result.delivered).toBe(250)
    expect(sb.segment.received(WRITE_KEY)).toBe(250)
    expect(sb.segment.duplicates(WRITE_KEY)).toBe(0)
    expect(sb.segment.messageIds(WRITE_KEY)).toEqual(new Set(recs.map((r) => r.messageId)))
    const byId = new Map(sb.segment.events(WRITE_KEY).map((e) => [e.messageId, e]))
    expect(byId.get('seg-0')).toMatchObject({
      type: 'identify',
      userId: 'player-0',
      traits: { tier: 'gold' },
      timestamp: '2026-03-01T09:00:00.000Z',
    })
    expect(byId.get('seg-1')).toMatchObject({
      type: 'track',
      event: 'Bet Placed',
      properties: { stake: 1 },
      timestamp: '2026-03-01T10:00:00.000Z',
    })
    expect(byId.get('seg-1')?.context).toMatchObject({ library: { name: '@segment/analytics-node' } })
    const lines = attempts()
    expect(lines).toHaveLength(sb.segment.requests.length)
    expect(lines.length).toBeGreaterThanOrEqual(3)
    expect(lines[0]).toMatchObject({
      method: 'POST',
      url: expect.stringMatching(/^127\.0\.0\.1:\d+\/v1\/batch$/),
      status: 200,
      attempt: 1,
    })
    expect(typeof lines[0].latencyMs).toBe('number')
  })

  it('resolves promptly, not after the SDK default flush interval', async () => {
    const d = make()
    const started = performance.now()
    await d.deliver(records(3))
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  it('serves concurrent deliveries; each resolves for its own records', async () => {
    const d = make({ flushAt: 20 })
    const results = await Promise.all([
      d.deliver(records(45, 'a')),
      d.deliver(records(30, 'b')),
      d.deliver(records(7, 'c')),
    ])
    expect(results.map((r) => r.delivered)).toEqual([45, 30, 7])
    expect(sb.segment.uniqueMessageIds(WRITE_KEY)).toBe(82)
    expect(sb.segment.duplicates(WRITE_KEY)).toBe(0)
  })

  it('a re-sent record carries the same messageId, so Segment dedupes it', async () => {
    const d = make()
    await d.deliver(records(5))
    await d.deliver(records(5))
    expect(sb.segment.uniqueMessageIds(WRITE_KEY)).toBe(5)
    expect(sb.segment.duplicates(WRITE_KEY)).toBe(5)
  })

  it('retries an injected 500 and loses nothing', async () => {
    const { logger, attempts } = capturedLogger()
    sb.faults.inject({ provider: 'segment', status: 500 })
    const d = make({ logger })
    await d.deliver(records(10))
    expect(sb.segment.uniqueMessageIds(WRITE_KEY)).toBe(10)
    expect(attempts().map((l) => [l.status, l.attempt])).toEqual([
      [500, 1],
      [200, 2],
    ])
  }, 10_000)

  it('honours Retry-After on 429: no request before it', async () => {
    sb.faults.inject({ provider: 'segment', status: 429, retryAfterSeconds: 1 })
    const d = make()
    await d.deliver(records(10))
    const [limited, next] = sb.segment.requests
    expect(limited?.status).toBe(429)
    expect(next?.status).toBe(200)
    expect((next?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1000)
    expect(sb.segment.uniqueMessageIds(WRITE_KEY)).toBe(10)
  }, 10_000)

  it('rejects a 400 with DestinationRejected after one attempt', async () => {
    sb.faults.inject({ provider: 'segment', status: 400, times: 10 })
    const err = await rejection(make().deliver(records(4)))
    expect(err).toBeInstanceOf(StallingError)
    expect(err.reason).toBe(Reason.DestinationRejected)
    expect(err.message).toContain('400')
    expect(sb.segment.requests).toHaveLength(1)
  })

  it('rejects a wrong write key with Unauthorized after one attempt', async () => {
    const d = createSegmentDeliverer({ writeKey: 'wk-wrong-0000', host })
    open.push(d)
    const err = await rejection(d.deliver(records(2)))
    expect(err).toBeInstanceOf(StallingError)
    expect(err.reason).toBe(Reason.Unauthorized)
    expect(sb.segment.requests.map((r) => r.status)).toEqual([401])
  })

  it('gives up on persistent 5xx after maxRetries with DestinationUnavailable', async () => {
    sb.faults.inject({ provider: 'segment', status: 503, times: 100 })
    const err = await rejection(make({ maxRetries: 1 }).deliver(records(2)))
    expect(err).toBeInstanceOf(TransientError)
    expect(err.reason).toBe(Reason.DestinationUnavailable)
    expect(sb.segment.requests).toHaveLength(2)
  }, 10_000)

  it('returns a persistent rate limit as WaitingError with the Retry-After', async () => {
    sb.faults.inject({ provider: 'segment', status: 429, times: 100, retryAfterSeconds: 1 })
    const err = await rejection(make({ maxRateLimitMs: 1_500 }).deliver(records(2)))
    expect(err).toBeInstanceOf(WaitingError)
    expect(err.reason).toBe(Reason.RateLimited)
    expect(err.retryAfterMs).toBe(1_000)
    expect(sb.segment.received(WRITE_KEY)).toBe(0)
  }, 10_000)

  it('refuses a record over 32 KB before sending anything', async () => {
    const big = records(3)
    big[1] = { ...(big[1] as DeliveryRecord), properties: { blob: 'x'.repeat(33 * 1024) } }
    const err = await rejection(make().deliver(big))
    expect(err.reason).toBe(Reason.DestinationRejected)
    expect(err.message).toContain('seg-1')
    expect(sb.segment.requests).toHaveLength(0)
  })

  it('measures nested and escaped properties exactly when they might be over 32 KB', async () => {
    // 6,000 control characters are 36 KB once escaped (\u0001), nested two levels down
    const escaped = records(2)
    escaped[1] = {
      ...(escaped[1] as DeliveryRecord),
      properties: { nested: { list: ['\u0001'.repeat(6_000)] } },
    }
    const err = await rejection(make().deliver(escaped))
    expect(err.reason).toBe(Reason.DestinationRejected)
    expect(err.message).toContain('seg-1')
    expect(sb.segment.requests).toHaveLength(0)
    // 20 KB of plain text: over the quick bound, under the limit once measured, so it is sent
    const large = records(2)
    large[0] = { ...(large[0] as DeliveryRecord), properties: { text: 'x'.repeat(20 * 1024) } }
    await expect(make().deliver(large)).resolves.toMatchObject({ delivered: 2 })
    expect(sb.segment.received(WRITE_KEY)).toBe(2)
  })

  it('reports an unreachable host as DestinationUnavailable', async () => {
    const gone = await buildSandbox()
    const url = await gone.listen()
    await gone.close()
    const err = await rejection(make({ host: url, maxRetries: 0 }).deliver(records(1)))
    expect(err).toBeInstanceOf(TransientError)
    expect(err.reason).toBe(Reason.DestinationUnavailable)
  })

  it('never puts the write key in errors or logs', async () => {
    const { logger, lines } = capturedLogger()
    const errors: SwitchboardError[] = []
    sb.faults.inject({ provider: 'segment', status: 400, body: { message: `bad key ${WRITE_KEY}` } })
    errors.push(await rejection(make({ logger }).deliver(records(1))))
    sb.faults.inject({ provider: 'segment', status: 401 })
    errors.push(await rejection(make({ logger }).deliver(records(1))))
    const gone = await buildSandbox()
    const url = await gone.listen()
    await gone.close()
    errors.push(await rejection(make({ host: url, maxRetries: 0, logger }).deliver(records(1))))
    await make({ logger }).deliver(records(1))
    expect(lines.length).toBeGreaterThanOrEqual(4)
    const text = [...errors.map((e) => e.message), ...lines].join('\n')
    expect(text).not.toContain(WRITE_KEY)
    expect(text).not.toContain(WRITE_KEY_B64)
  })

  it('stops waiting when aborted, and refuses deliveries after close', async () => {
    sb.faults.inject({ provider: 'segment', delayMs: 1_500 })
    const d = make()
    const controller = new AbortController()
    const pending = d.deliver(records(2), { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    const err = await rejection(pending)
    expect(err.reason).toBe(Reason.Timeout)
    await d.close()
    await expect(d.deliver(records(1))).rejects.toThrow(/closed/)
  }, 10_000)

  it('refuses invalid options', () => {
    expect(() => createSegmentDeliverer({ writeKey: '' })).toThrow(StallingError)
    expect(() => createSegmentDeliverer({ writeKey: WRITE_KEY, host: 'nope' })).toThrow(StallingError)
    expect(() => createSegmentDeliverer({ writeKey: WRITE_KEY, flushAt: 5000 })).toThrow(StallingError)
  })
})

describe('jsonBytesBound', () => {
  it('is never below the bytes of JSON.stringify (seeded fuzz)', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000)
    let state = seed
    const rand = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31
      return state / 2 ** 31
    }
    const chars = ['a', 'é', '\u0001', '"', '\\', '\n', '😀', '\u2028', '中']
    const text = () =>
      Array.from({ length: Math.floor(rand() * 40) }, () => chars[Math.floor(rand() * chars.length)]).join('')
    const value = (depth: number): unknown => {
      const pick = Math.floor(rand() * (depth > 3 ? 5 : 7))
      if (pick === 0) return text()
      if (pick === 1) return (rand() - 0.5) * 10 ** Math.floor(rand() * 30)
      if (pick === 2) return rand() < 0.5
      if (pick === 3) return null
      if (pick === 4) return undefined
      if (pick === 5) return Array.from({ length: Math.floor(rand() * 5) }, () => value(depth + 1))
      return Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 5) }, () => [text(), value(depth + 1)]),
      )
    }
    for (let i = 0; i < 2_000; i++) {
      const v = { properties: value(0) }
      const exact = Buffer.byteLength(JSON.stringify(v))
      expect(jsonBytesBound(v, Number.POSITIVE_INFINITY), `seed ${seed}, case ${i}`).toBeGreaterThanOrEqual(
        exact,
      )
    }
  })

  it('leaves anything that is not plain data to be measured exactly', () => {
    expect(jsonBytesBound({ at: new Date() }, 1e9)).toBe(Number.POSITIVE_INFINITY)
    expect(jsonBytesBound({ v: { toJSON: () => 'x'.repeat(100) } }, 1e9)).toBe(Number.POSITIVE_INFINITY)
    expect(jsonBytesBound({ n: 1n }, 1e9)).toBe(Number.POSITIVE_INFINITY)
    expect(jsonBytesBound({ m: new Map([[1, 2]]) }, 1e9)).toBe(Number.POSITIVE_INFINITY)
  })
})
