import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSandbox, type Sandbox } from './index.ts'

const KEY = 'wk-sandbox-test'
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`

function event(i: number, extra: Record<string, unknown> = {}) {
  return {
    type: 'track',
    event: 'Bet Placed',
    userId: `u-${i}`,
    messageId: `m-${i}`,
    properties: { i },
    ...extra,
  }
}

describe('segment sandbox', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await buildSandbox({ segment: { writeKeys: [KEY], maxStoredEvents: 5 } })
  })
  afterAll(() => sb.close())
  beforeEach(() => sb.reset())

  const batch = (payload: unknown, headers: Record<string, string> = { authorization: basic(KEY) }) =>
    sb.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(payload),
    })

  it('accepts a batch with Basic auth and records its events by write key', async () => {
    const res = await batch({
      batch: [event(1), event(2), { ...event(3), type: 'identify', traits: { vip: true } }],
    })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ success: true })
    expect(sb.segment.received(KEY)).toBe(3)
    expect(sb.segment.uniqueMessageIds(KEY)).toBe(3)
    expect([...sb.segment.messageIds(KEY)]).toEqual(['m-1', 'm-2', 'm-3'])
    expect(sb.segment.events(KEY)[2]).toMatchObject({ type: 'identify', traits: { vip: true } })
    expect(sb.segment.batches(KEY)).toBe(1)
    expect(sb.segment.received('other')).toBe(0)
  })

  it('accepts the write key in the body', async () => {
    const res = await batch({ writeKey: KEY, batch: [event(1)] }, {})
    expect(res.statusCode).toBe(200)
    expect(sb.segment.received(KEY)).toBe(1)
  })

  it('dedupes by messageId and counts duplicates', async () => {
    await batch({ batch: [event(1), event(2)] })
    await batch({ batch: [event(2), event(3), event(3)] })
    expect(sb.segment.received(KEY)).toBe(5)
    expect(sb.segment.uniqueMessageIds(KEY)).toBe(3)
    expect(sb.segment.duplicates(KEY)).toBe(2)
  })

  it('answers 401 for an unknown or missing write key', async () => {
    expect((await batch({ batch: [event(1)] }, { authorization: basic('wrong') })).statusCode).toBe(401)
    expect((await batch({ writeKey: 'wrong', batch: [event(1)] }, {})).statusCode).toBe(401)
    expect((await batch({ batch: [event(1)] }, {})).statusCode).toBe(401)
    expect((await batch({ batch: [event(1)] }, { authorization: 'Bearer abc' })).statusCode).toBe(401)
    expect(sb.segment.received('wrong')).toBe(0)
  })

  it('accepts any write key when none is configured, and keys added at run time', async () => {
    const open = await buildSandbox()
    try {
      const res = await open.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic('anything'), 'content-type': 'application/json' },
        payload: JSON.stringify({ batch: [event(1)] }),
      })
      expect(res.statusCode).toBe(200)
      expect(open.segment.received('anything')).toBe(1)
      open.segment.addWriteKey('only-this')
      expect(open.segment.accepts('anything')).toBe(false)
      expect(open.segment.accepts('only-this')).toBe(true)
    } finally {
      await open.close()
    }
  })

  it('answers 400 for invalid JSON, an empty body and a batch that is not an array', async () => {
    const bad = await sb.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEY), 'content-type': 'application/json' },
      payload: '{"batch": [',
    })
    expect(bad.statusCode).toBe(400)
    expect((await batch({ batch: 'nope' })).statusCode).toBe(400)
    const empty = await sb.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: basic(KEY) },
    })
    expect(empty.statusCode).toBe(400)
  })

  it('answers 400 for a batch over 500 KB or over 2500 events', async () => {
    const big = Array.from({ length: 20 }, (_, i) => event(i, { properties: { pad: 'x'.repeat(30 * 1024) } }))
    expect((await batch({ batch: big })).statusCode).toBe(400)
    const many = Array.from({ length: 2501 }, (_, i) => ({
      type: 'track',
      event: 'e',
      userId: 'u',
      messageId: `${i}`,
    }))
    expect((await batch({ batch: many })).statusCode).toBe(400)
    expect(sb.segment.received(KEY)).toBe(0)
    const ok = Array.from({ length: 2500 }, (_, i) => ({
      type: 'track',
      event: 'e',
      userId: 'u',
      messageId: `${i}`,
    }))
    expect((await batch({ batch: ok })).statusCode).toBe(200)
    expect(sb.segment.uniqueMessageIds(KEY)).toBe(2500)
  })

  it('drops an event over 32 KB (and invalid events) silently', async () => {
    const res = await batch({
      batch: [
        event(1, { properties: { pad: 'x'.repeat(33 * 1024) } }),
        event(2),
        { type: 'track', event: 'no user', messageId: 'm-3' },
        { type: 'bogus', userId: 'u', messageId: 'm-4' },
      ],
    })
    expect(res.statusCode).toBe(200)
    expect([...sb.segment.messageIds(KEY)]).toEqual(['m-2'])
    expect(sb.segment.dropped(KEY)).toBe(3)
  })

  it('serves the single-event endpoints', async () => {
    const res = await sb.app.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { authorization: basic(KEY), 'content-type': 'application/json' },
      payload: JSON.stringify({ userId: 'u-9', messageId: 'm-9', traits: { name: 'N' } }),
    })
    expect(res.statusCode).toBe(200)
    const track = await sb.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ writeKey: KEY, userId: 'u-9', event: 'Login', messageId: 'm-10' }),
    })
    expect(track.statusCode).toBe(200)
    expect(sb.segment.events(KEY).map((e) => e.type)).toEqual(['identify', 'track'])
    expect(sb.segment.events(KEY)[1]).not.toHaveProperty('writeKey')
  })

  it('keeps event bodies up to the cap but counts every id', async () => {
    await batch({ batch: Array.from({ length: 12 }, (_, i) => event(i)) })
    expect(sb.segment.events(KEY)).toHaveLength(5)
    expect(sb.segment.uniqueMessageIds(KEY)).toBe(12)
    expect(sb.segment.snapshot(KEY)).toMatchObject({ storedEvents: 5, truncated: true, received: 12 })
  })

  it('logs every request with its status', async () => {
    await batch({ batch: [event(1)] })
    await batch({ batch: [event(1)] }, { authorization: basic('wrong') })
    expect(sb.segment.requests.map((r) => [r.path, r.status, r.fault])).toEqual([
      ['/v1/batch', 200, false],
      ['/v1/batch', 401, false],
    ])
  })
})
