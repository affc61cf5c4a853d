import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { newWebhookToken } from '../controller/api/index.ts'
import { casinoRequest } from '../test/sandbox/webhooks/index.ts'
import { harness } from '../test/webhooks/index.ts'
import { WebhookMetrics } from './metrics.ts'

const secrets = { signingSecret: 'casino-signing-secret-01' }
const delivery = (url: string, n: number, body: unknown = { n }) =>
  casinoRequest({ url, secret: secrets.signingSecret, body, deliveryId: `d-${n}` })

describe('webhook server', () => {
  it('serves /healthz, and /readyz once the resolver is ready', async () => {
    const h = harness()
    expect((await h.app.inject({ url: '/healthz' })).statusCode).toBe(200)
    expect((await h.app.inject({ url: '/readyz' })).statusCode).toBe(200)
    const notReady = harness({ resolver: { resolve: () => undefined, ready: () => false } })
    expect((await notReady.app.inject({ url: '/readyz' })).statusCode).toBe(503)
  })

  it('answers 413 for a body over the limit, before reading it, and records an event on the resource', async () => {
    const h = harness({ bodyLimit: 1024 })
    const { url, target } = h.addTarget('softswiss', secrets)
    const res = await h.send(delivery(url, 1, { pad: 'x'.repeat(2000) }))
    expect(res.statusCode).toBe(413)
    expect(JSON.parse(res.body)).toEqual({ error: 'body_too_large' })
    expect(h.requester.requests).toHaveLength(0)
    expect(
      await h.count('switchboard_webhook_requests_total', {
        provider: 'softswiss',
        reason: 'body_too_large',
      }),
    ).toBe(1)
    expect(h.events.events).toEqual([
      expect.objectContaining({ name: `ns/${target.name}`, reason: 'WebhookRejected' }),
    ])
    expect(h.events.events[0]?.message).toContain('HTTP 413')
    // just under the limit is fine
    expect((await h.send(delivery(url, 2, { pad: 'x'.repeat(900) }))).statusCode).toBe(204)
  })

  it('rate-limits per path with 429 and Retry-After; other paths keep their budget', async () => {
    const h = harness({ rateLimit: { max: 3, timeWindowMs: 60_000 } })
    const a = h.addTarget('softswiss', secrets)
    const b = h.addTarget('softswiss', secrets)
    const codes: number[] = []
    for (let i = 0; i < 5; i++) codes.push((await h.send(delivery(a.url, i))).statusCode)
    expect(codes).toEqual([204, 204, 204, 429, 429])
    const limited = await h.send(delivery(a.url, 9))
    expect(limited.headers['retry-after']).toBeDefined()
    expect(JSON.parse(limited.body)).toEqual({ error: 'rate_limited' })
    expect((await h.send(delivery(b.url, 10))).statusCode).toBe(204)
    expect(h.requester.names()).toEqual([...Array(3).fill(`ns/${a.target.name}`), `ns/${b.target.name}`])
    expect(await h.count('switchboard_webhook_requests_total', { reason: 'rate_limited' })).toBe(3)
  })

  it('refuses percent-encoded spellings of a path, so they neither route nor get a budget of their own', async () => {
    const h = harness({ rateLimit: { max: 3, timeWindowMs: 60_000 } })
    const a = h.addTarget('softswiss', secrets)
    const token = a.path.split('/').pop() ?? ''
    const hex = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`
    const variants = [
      a.path.replace('softswiss', `soft${hex('s')}wiss`),
      a.path.replace('/hooks/', `/${hex('h')}ooks/`),
      a.path.replace(token, `${hex(token[0] ?? 'A')}${token.slice(1)}`),
      a.path.replace(token, `${token.slice(0, -1)}${hex(token.at(-1) ?? 'A').toLowerCase()}`),
    ]
    for (const [i, path] of variants.entries()) {
      const res = await h.send(delivery(`https://hooks.example.com${path}`, 100 + i))
      expect(res.statusCode, path).toBe(404)
    }
    expect(h.requester.requests).toHaveLength(0)
    // the exact path still has its whole budget, and only that
    const codes: number[] = []
    for (let i = 0; i < 4; i++) codes.push((await h.send(delivery(a.url, i))).statusCode)
    expect(codes).toEqual([204, 204, 204, 429])
  })

  it('counts unknown paths as not_found under a bounded provider label', async () => {
    const h = harness()
    expect((await h.app.inject({ method: 'POST', url: '/nope', payload: 'x' })).statusCode).toBe(404)
    expect(
      (await h.app.inject({ method: 'POST', url: `/hooks/unknown/${newWebhookToken()}` })).statusCode,
    ).toBe(404)
    expect(
      (await h.app.inject({ method: 'POST', url: `/hooks/twitch/${newWebhookToken()}` })).statusCode,
    ).toBe(404)
    expect(
      (await h.app.inject({ method: 'DELETE', url: `/hooks/twitch/${newWebhookToken()}` })).statusCode,
    ).toBe(404)
    expect(
      await h.count('switchboard_webhook_requests_total', { provider: 'unknown', reason: 'not_found' }),
    ).toBe(2)
    expect(
      await h.count('switchboard_webhook_requests_total', { provider: 'twitch', reason: 'not_found' }),
    ).toBe(2)
    expect(h.events.events).toHaveLength(0)
  })

  it('answers 415 for a malformed content type and 400 for a malformed JSON body', async () => {
    const h = harness()
    const { url } = h.addTarget('softswiss', secrets)
    const req = delivery(url, 1)
    const bad = await h.send({ ...req, headers: { ...req.headers, 'content-type': '%%%/;;' } })
    expect(bad.statusCode).toBe(415)
    const notJson = casinoRequest({ url, secret: secrets.signingSecret, body: '{"a":', deliveryId: 'x' })
    expect((await h.send(notJson)).statusCode).toBe(400)
    expect(h.requester.requests).toHaveLength(0)
  })

  it('records at most one event per resource and reason in the window, however many rejects', async () => {
    const h = harness()
    const { url, target } = h.addTarget('softswiss', secrets)
    for (let i = 0; i < 50; i++) {
      const req = delivery(url, i)
      await h.send({ ...req, headers: { ...req.headers, 'x-request-sign': 'ab'.repeat(32) } })
    }
    const noSig = delivery(url, 99)
    const headers = { ...noSig.headers }
    delete headers['x-request-sign']
    await h.send({ ...noSig, headers })
    expect(h.events.events.map((e) => [e.name, e.message.match(/\((\w+)\)/)?.[1]])).toEqual([
      [`ns/${target.name}`, 'bad_signature'],
      [`ns/${target.name}`, 'missing_signature'],
    ])
    expect(await h.count('switchboard_webhook_requests_total', { reason: 'bad_signature' })).toBe(50)
    expect(await h.count('switchboard_webhook_reject_events_total', { result: 'suppressed' })).toBe(49)
  })

  it('exports the webhook metrics with bounded labels, and promtool accepts the scrape', async () => {
    const h = harness({ metrics: new WebhookMetrics() })
    const { url, path } = h.addTarget('softswiss', secrets)
    await h.send(delivery(url, 1))
    await h.send(delivery(url, 1))
    await h.send({ ...delivery(url, 2), headers: { ...delivery(url, 2).headers, 'x-request-sign': '00' } })
    const res = await h.app.inject({ url: '/metrics' })
    expect(res.statusCode).toBe(200)
    const text = res.body
    for (const name of [
      'switchboard_webhook_requests_total',
      'switchboard_webhook_request_duration_seconds_bucket',
      'switchboard_webhook_dedupe_hits_total',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'))
    }
    expect(text).toMatch(
      /^switchboard_webhook_requests_total\{provider="softswiss",result="accepted",reason="none"\} 1$/m,
    )
    expect(text).toMatch(/^switchboard_webhook_dedupe_hits_total\{provider="softswiss"\} 1$/m)
    expect(text).not.toContain(path.split('/').pop() ?? '')
    expect(text).not.toMatch(/^nodejs_active_(handles|requests|resources)_total/m)
    const dir = mkdtempSync(join(tmpdir(), 'sb-webhook-metrics-'))
    try {
      const file = join(dir, 'scrape.prom')
      writeFileSync(file, text)
      const out = execFileSync('sh', ['-c', `promtool check metrics < ${file}`], { encoding: 'utf8' })
      expect(out).toBe('')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
