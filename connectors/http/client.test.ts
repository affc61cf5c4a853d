import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { buildSandbox, type Sandbox } from '../../test/sandbox/index.ts'
import { Reason, SwitchboardError } from '../errors.ts'
import { createLogger } from '../log.ts'
import { signBody } from '../softswiss/index.ts'
import { BudgetRegistry } from './budget.ts'
import { createProviderClient, type ProviderClient, type ProviderClientOptions } from './client.ts'
import { PROVIDER_REQUEST_DURATION, PROVIDER_REQUESTS_TOTAL, providerMetrics } from './metrics.ts'

const KEY = 'http-test-api-key'
const SECRET = 'http-test-api-secret'
const LIST = '/api/v1/casinos/c1/players/list'

const pageSchema = z.object({
  data: z.array(z.object({ id: z.number() }).passthrough()),
  meta: z.object({ has_more: z.boolean() }),
})

async function caught(promise: Promise<unknown>): Promise<SwitchboardError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(SwitchboardError)
  return err as SwitchboardError
}

describe('provider HTTP client', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await buildSandbox({
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials: { apiKey: KEY, apiSecret: SECRET },
            settings: { casinoId: 'c1' },
            size: { players: 5 },
          },
        ],
      },
    })
    await sb.listen()
  })
  afterAll(() => sb.close())
  beforeEach(() => sb.reset())

  const softswissAuth =
    (secret = SECRET): ProviderClientOptions['auth'] =>
    ({ body, headers }) => {
      headers.set('X-API-KEY', KEY)
      headers.set('X-REQUEST-SIGN', signBody(secret, body ?? ''))
    }

  function client(extra: Partial<ProviderClientOptions> = {}): ProviderClient {
    return createProviderClient({
      provider: 'softswiss',
      baseUrl: sb.casinoEndpoint('softswiss'),
      timeoutMs: 1000,
      auth: softswissAuth(),
      secrets: () => [KEY, SECRET],
      ...extra,
      retry: { limit: 2, backoffBaseMs: 20, ...extra.retry },
    })
  }

  const list = (c: ProviderClient, signal?: AbortSignal) =>
    c.post(LIST, {
      operation: 'players.list',
      schema: pageSchema,
      json: { limit: 2 },
      idempotent: true,
      ...(signal && { signal }),
    })

  const statuses = () => sb.requests.list('softswiss').map((r) => r.status)

  it('returns the parsed, validated body', async () => {
    const page = await list(client())
    expect(page.data).toHaveLength(2)
    expect(page.meta.has_more).toBe(true)
  })

  it('honours Retry-After: no request before it, then succeeds', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 429, retryAfterSeconds: 1 })
    const page = await list(client())
    expect(page.data).toHaveLength(2)
    const [limited, next] = sb.requests.list('softswiss')
    expect([limited?.status, next?.status]).toEqual([429, 200])
    expect((next?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(995)
  })

  it('stops at once with WaitingError(RateLimited) when Retry-After is beyond the cap', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 429, retryAfterSeconds: 120, times: 3 })
    const err = await caught(list(client({ retry: { maxRetryAfterMs: 1000 } })))
    expect(err.kind).toBe('waiting')
    expect(err.reason).toBe(Reason.RateLimited)
    expect(err.retryAfterMs).toBe(120_000)
    expect(statuses()).toEqual([429])
  })

  it('understands Retry-After as an HTTP date', async () => {
    let hits = 0
    const server = createServer((_req, res) => {
      hits++
      res.writeHead(429, {
        'retry-after': new Date(Date.now() + 120_000).toUTCString(),
        'content-type': 'application/json',
      })
      res.end('{"error":"slow down"}')
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const c = client({ baseUrl: `http://127.0.0.1:${port}`, retry: { maxRetryAfterMs: 1000 } })
      const err = await caught(list(c))
      expect(err.reason).toBe(Reason.RateLimited)
      expect(err.retryAfterMs).toBeGreaterThan(110_000)
      expect(err.retryAfterMs).toBeLessThanOrEqual(120_000)
      expect(hits).toBe(1)
    } finally {
      server.close()
    }
  })

  it('retries 5xx with backoff, then succeeds', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 503, times: 1 })
    sb.faults.inject({ provider: 'softswiss', status: 500, times: 1 })
    const registry = new Registry()
    const page = await list(client({ metrics: registry }))
    expect(page.data).toHaveLength(2)
    expect(statuses()).toEqual([503, 500, 200])
    const counts = (await registry.getSingleMetric(PROVIDER_REQUESTS_TOTAL)?.get())?.values ?? []
    const byCode = Object.fromEntries(counts.map((v) => [v.labels.code, v.value]))
    expect(byCode).toEqual({ '503': 1, '500': 1, '200': 1 })
  })

  it('gives up on 5xx after the retries: TransientError(ProviderUnavailable)', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 502, times: 5 })
    const err = await caught(list(client()))
    expect(err.kind).toBe('transient')
    expect(err.reason).toBe(Reason.ProviderUnavailable)
    expect(err.message).toContain('3 attempts')
    expect(statuses()).toEqual([502, 502, 502])
  })

  it('retries a timed-out attempt', async () => {
    sb.faults.inject({ provider: 'softswiss', delayMs: 600 })
    const registry = new Registry()
    const page = await list(client({ timeoutMs: 200, metrics: registry }))
    expect(page.data).toHaveLength(2)
    // both attempts reached the platform (the first one's response was held past the timeout)
    expect(sb.casino.stats('softswiss', 'c1').served.players).toBe(4)
    const counts = (await registry.getSingleMetric(PROVIDER_REQUESTS_TOTAL)?.get())?.values ?? []
    expect(Object.fromEntries(counts.map((v) => [v.labels.code, v.value]))).toEqual({ error: 1, '200': 1 })
  })

  it('times out for good: TransientError(Timeout)', async () => {
    sb.faults.inject({ provider: 'softswiss', delayMs: 500, times: 2 })
    const err = await caught(list(client({ timeoutMs: 150, retry: { limit: 1 } })))
    expect(err.reason).toBe(Reason.Timeout)
    expect(err.kind).toBe('transient')
  })

  it('does not retry a 400: StallingError(ProviderRejected) with the provider’s reason', async () => {
    sb.faults.inject({
      provider: 'softswiss',
      status: 400,
      body: { error: { message: 'limit out of range' } },
    })
    const err = await caught(list(client()))
    expect(err.kind).toBe('stalling')
    expect(err.reason).toBe(Reason.ProviderRejected)
    expect(err.message).toContain('limit out of range')
    expect(statuses()).toEqual([400])
  })

  it('maps a 401 to StallingError(Unauthorized) without a credential in the message', async () => {
    const err = await caught(list(client({ auth: softswissAuth('wrong-secret-value') })))
    expect(err.kind).toBe('stalling')
    expect(err.reason).toBe(Reason.Unauthorized)
    expect(err.message).not.toContain('wrong-secret-value')
    expect(err.message).not.toContain(KEY)
    expect(statuses()).toEqual([401])
  })

  it('calls onUnauthorized once and repeats the call once', async () => {
    const onUnauthorized = vi.fn()
    const err = await caught(list(client({ auth: softswissAuth('stale'), onUnauthorized })))
    expect(err.reason).toBe(Reason.Unauthorized)
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
    expect(onUnauthorized.mock.calls[0]?.[0].headers.get('x-api-key')).toBe(KEY)
    expect(statuses()).toEqual([401, 401])
  })

  it('refuses a 2xx body that is not JSON: TransientError(MalformedResponse), body not quoted', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 200, body: '{not json' })
    const err = await caught(list(client()))
    expect(err.kind).toBe('transient')
    expect(err.reason).toBe(Reason.MalformedResponse)
    expect(err.message).toMatch(/not valid JSON \(9 bytes, text\/plain\)/)
    expect(err.message).not.toContain('{not json')
  })

  it('refuses a 2xx body of the wrong shape, naming the fields', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 200, body: { data: [{ id: 'x' }], meta: {} } })
    const err = await caught(list(client()))
    expect(err.reason).toBe(Reason.MalformedResponse)
    expect(err.message).toContain('data[0].id')
    expect(err.message).toContain('meta.has_more')
  })

  it('does not repeat a POST that is not marked idempotent', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 503 })
    const err = await caught(
      client().post(LIST, { operation: 'players.list', schema: pageSchema, json: { limit: 1 } }),
    )
    expect(err.reason).toBe(Reason.ProviderUnavailable)
    expect(statuses()).toEqual([503])
  })

  it('reports an unreachable provider as TransientError(ProviderUnavailable)', async () => {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    server.close()
    await once(server, 'close')
    const err = await caught(list(client({ baseUrl: `http://127.0.0.1:${port}`, retry: { limit: 1 } })))
    expect(err.reason).toBe(Reason.ProviderUnavailable)
    expect(err.message).toContain('ECONNREFUSED')
  })

  it('stops when the caller aborts', async () => {
    sb.faults.inject({ provider: 'softswiss', delayMs: 2000 })
    const err = await caught(list(client({ timeoutMs: 5000 }), AbortSignal.timeout(100)))
    expect(err.reason).toBe(Reason.Timeout)
    expect(err.message).toContain('aborted')
  })

  it('rejects an endpoint with credentials or a query as a spec error', () => {
    expect(() => client({ baseUrl: 'https://user:pw@host.example' })).toThrow(/endpoint/)
    expect(() => client({ baseUrl: 'ftp://host.example' })).toThrow(/http or https/)
    expect(() => client({ baseUrl: 'not a url' })).toThrow(/not a valid URL/)
  })

  it('shares one request budget between two clients of one account', async () => {
    const budgets = new BudgetRegistry()
    const rate = 20
    const burst = 2
    const budget = budgets.get('softswiss', 'shared-account', { ratePerSecond: rate, burst })
    const created = performance.timeOrigin + performance.now()
    const a = client({ budget })
    const b = client({ budget: budgets.get('softswiss', 'shared-account') })
    await Promise.all([list(a), list(b), list(a), list(b), list(a), list(b), list(a), list(b)])
    expect(budget.granted).toBe(8)
    const arrivals = sb.requests
      .list('softswiss')
      .map((r) => r.at)
      .sort((x, y) => x - y)
    expect(arrivals).toHaveLength(8)
    // request k needs k+1 tokens: the burst, then one every 1/rate s (minus clock rounding)
    arrivals.forEach((at, k) => {
      const earliest = created + (Math.max(0, k + 1 - burst) / rate) * 1000
      expect(at).toBeGreaterThanOrEqual(earliest - 15)
    })
  })

  it('logs one line per attempt with no credential, header or query value', async () => {
    const lines: string[] = []
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    const logger = createLogger({ level: 'info', destination })
    sb.faults.inject({ provider: 'softswiss', status: 503 })
    await list(client({ logger }))
    await caught(
      client({ logger }).get('/unknown', {
        operation: 'probe',
        schema: z.unknown(),
        query: { token: 'query-secret-token' },
      }),
    )
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(entries.map((e) => [e.operation, e.status, e.attempt])).toEqual([
      ['players.list', 503, 1],
      ['players.list', 200, 2],
      ['probe', 404, 1],
    ])
    for (const e of entries) {
      expect(e).toMatchObject({ provider: 'softswiss' })
      expect(typeof e.latencyMs).toBe('number')
      expect(String(e.path)).not.toContain('?')
      expect(e.method).toMatch(/^(GET|POST)$/)
      expect(e).not.toHaveProperty('headers')
    }
    const text = lines.join('')
    for (const secret of [KEY, SECRET, 'query-secret-token', signBody(SECRET, '{"limit":2}')]) {
      expect(text).not.toContain(secret)
    }
  })

  it('does not repeat the provider key when the caller’s logger already carries it', async () => {
    const lines: string[] = []
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    const logger = createLogger({ destination }).child({ casino: 'ns/c1', provider: 'softswiss' })
    await list(client({ logger }))
    expect(lines).toHaveLength(1)
    expect(lines[0]?.match(/"provider":/g)).toHaveLength(1)
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ casino: 'ns/c1', operation: 'players.list' })
  })

  it('registers its metrics once per registry, with bounded labels', async () => {
    const registry = new Registry()
    expect(providerMetrics(registry)).toBe(providerMetrics(registry))
    await list(client({ metrics: registry }))
    await list(client({ metrics: registry }))
    await caught(client({ metrics: registry }).get('/x/y/z', { operation: 'probe', schema: z.unknown() }))
    const json = await registry.getMetricsAsJSON()
    const names = json.map((m) => m.name)
    expect(names).toContain(PROVIDER_REQUESTS_TOTAL)
    expect(names).toContain(PROVIDER_REQUEST_DURATION)
    const values = json.flatMap((m) => (m.values as { labels: Record<string, string | number> }[]) ?? [])
    const operations = new Set(values.map((v) => v.labels.operation).filter((v) => v !== undefined))
    expect([...operations].sort()).toEqual(['players.list', 'probe'])
    for (const v of values) {
      for (const label of Object.values(v.labels)) expect(String(label)).not.toMatch(/[/?]/)
    }
    const counter = (await registry.getSingleMetric(PROVIDER_REQUESTS_TOTAL)?.get())?.values ?? []
    expect(counter.find((v) => v.labels.operation === 'players.list')?.value).toBe(2)
    expect(counter.find((v) => v.labels.operation === 'probe')?.labels.code).toBe('404')
  })
})
