import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSandbox, FaultInjector, RequestLog, type Sandbox } from './index.ts'

const KEY = 'wk-faults'
const auth = {
  authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`,
  'content-type': 'application/json',
}
const payload = (id: string) =>
  JSON.stringify({ batch: [{ type: 'track', event: 'e', userId: 'u', messageId: id }] })

describe('fault injection', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await buildSandbox({
      segment: { writeKeys: [KEY] },
      http: { receivers: { r: { signingSecret: 's3cret-value' } } },
    })
  })
  afterAll(() => sb.close())
  beforeEach(() => sb.reset())

  const send = (id: string) =>
    sb.app.inject({ method: 'POST', url: '/v1/batch', headers: auth, payload: payload(id) })

  it('fails the next N matching requests, then lets requests through', async () => {
    sb.faults.inject({ provider: 'segment', status: 500, times: 2 })
    expect((await send('a')).statusCode).toBe(500)
    expect((await send('a')).statusCode).toBe(500)
    expect((await send('a')).statusCode).toBe(200)
    expect(sb.segment.received(KEY)).toBe(1)
    expect(sb.faults.list()).toEqual([])
    expect(sb.faults.served).toBe(2)
    expect(sb.requests.list('segment').map((r) => [r.status, r.fault])).toEqual([
      [500, true],
      [500, true],
      [200, false],
    ])
  })

  it('sends Retry-After and a custom body', async () => {
    sb.faults.inject({
      provider: 'segment',
      status: 429,
      retryAfterSeconds: 3,
      body: { message: 'slow down' },
    })
    const res = await send('a')
    expect(res.statusCode).toBe(429)
    expect(res.headers['retry-after']).toBe('3')
    expect(res.json()).toEqual({ message: 'slow down' })
    sb.faults.inject({ provider: 'segment', status: 503, body: 'unavailable' })
    const text = await send('a')
    expect(text.body).toBe('unavailable')
  })

  it('only hits its provider and path', async () => {
    sb.faults.inject({ provider: 'http', status: 500 })
    sb.faults.inject({ provider: 'segment', status: 502, path: '/v1/track' })
    expect((await send('a')).statusCode).toBe(200)
    const track = await sb.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: auth,
      payload: JSON.stringify({ userId: 'u', event: 'e', messageId: 'b' }),
    })
    expect(track.statusCode).toBe(502)
    const http = await sb.app.inject({ method: 'POST', url: '/http/r', payload: '{}' })
    expect(http.statusCode).toBe(500)
    expect(sb.faults.list()).toEqual([])
  })

  it('without a status, processes the request and holds its response', async () => {
    sb.faults.inject({ provider: 'segment', delayMs: 150 })
    const started = performance.now()
    const res = await send('late')
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
    expect(res.statusCode).toBe(200)
    expect(sb.segment.received(KEY)).toBe(1)
    expect(sb.requests.list('segment')[0]).toMatchObject({ status: 200, fault: true })
  })

  it('with a status, waits and then fails without processing', async () => {
    sb.faults.inject({ provider: 'segment', status: 504, delayMs: 100 })
    const started = performance.now()
    const res = await send('never')
    expect(performance.now() - started).toBeGreaterThanOrEqual(90)
    expect(res.statusCode).toBe(504)
    expect(sb.segment.received(KEY)).toBe(0)
  })

  it('validates faults', () => {
    const f = new FaultInjector()
    expect(() => f.inject({ provider: 'segment', status: 99 })).toThrow(TypeError)
    expect(() => f.inject({ provider: 'segment', status: 500, times: 0 })).toThrow(TypeError)
    expect(() => f.inject({ provider: 'segment' })).toThrow(TypeError)
    expect(f.inject({ provider: 'x', status: 500 })).toMatchObject({ times: 1, remaining: 1 })
  })

  it('is driven over HTTP: inject, list, clear', async () => {
    const created = await sb.app.inject({
      method: 'POST',
      url: '/_sandbox/faults',
      payload: { provider: 'segment', status: 503, times: 5, retryAfterSeconds: 1 },
    })
    expect(created.statusCode).toBe(201)
    expect(created.json().fault).toMatchObject({ provider: 'segment', status: 503, remaining: 5 })
    expect((await send('a')).statusCode).toBe(503)
    const listed = await sb.app.inject({ method: 'GET', url: '/_sandbox/faults' })
    expect(listed.json()).toMatchObject({ faults: [{ remaining: 4 }], served: 1 })
    expect((await sb.app.inject({ method: 'DELETE', url: '/_sandbox/faults' })).statusCode).toBe(204)
    expect((await send('a')).statusCode).toBe(200)
    const bad = await sb.app.inject({
      method: 'POST',
      url: '/_sandbox/faults',
      payload: { provider: 'segment', status: 42 },
    })
    expect(bad.statusCode).toBe(400)
    const unknownField = await sb.app.inject({
      method: 'POST',
      url: '/_sandbox/faults',
      payload: { provider: 'segment', status: 500, bogus: 1 },
    })
    expect(unknownField.statusCode).toBe(400)
  })

  it('reports arrivals over HTTP and resets everything', async () => {
    await send('a')
    await send('a')
    const events = await sb.app.inject({ method: 'GET', url: `/_sandbox/segment/events?writeKey=${KEY}` })
    expect(events.json()).toMatchObject({
      received: 2,
      uniqueMessageIds: 1,
      duplicates: 1,
      events: [{ messageId: 'a' }],
    })
    expect((await sb.app.inject({ method: 'GET', url: '/_sandbox/segment/events' })).statusCode).toBe(400)
    const requests = await sb.app.inject({ method: 'GET', url: '/_sandbox/requests?provider=segment' })
    expect(requests.json().total).toBe(2)
    sb.faults.inject({ provider: 'segment', status: 500, times: 3 })
    expect((await sb.app.inject({ method: 'POST', url: '/_sandbox/reset' })).statusCode).toBe(204)
    expect(sb.segment.received(KEY)).toBe(0)
    expect(sb.requests.total).toBe(0)
    expect(sb.faults.list()).toEqual([])
    // configuration survives a reset
    expect((await send('b')).statusCode).toBe(200)
  })
})

describe('RequestLog', () => {
  it('keeps the last `cap` requests, oldest first, and counts all', () => {
    const log = new RequestLog(3)
    for (let i = 0; i < 5; i++) {
      log.record({
        at: i,
        provider: i % 2 ? 'a' : 'b',
        method: 'POST',
        path: '/',
        status: 200,
        durationMs: 1,
        fault: false,
      })
    }
    expect(log.list().map((r) => r.at)).toEqual([2, 3, 4])
    expect(log.list('a').map((r) => r.at)).toEqual([3])
    expect(log.total).toBe(5)
  })
})
