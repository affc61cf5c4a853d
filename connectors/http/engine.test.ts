import { describe, expect, it, vi } from 'vitest'
import { Reason, StallingError, TransientError, WaitingError } from '../errors.ts'
import { BudgetRegistry } from './budget.ts'
import {
  type AttemptContext,
  backoffDelay,
  createProviderEngine,
  type Failure,
  resolveRetryPolicy,
} from './engine.ts'

const transient = (): Failure => ({
  error: new TransientError(Reason.ProviderUnavailable, 'down'),
  retryable: true,
})

function engine(extra: Parameters<typeof createProviderEngine>[0]['retry'] = {}) {
  return createProviderEngine({
    provider: 'test',
    retry: { limit: 2, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false, ...extra },
  })
}

describe('provider engine: run()', () => {
  it('retries a retryable failure of any attempt, then resolves', async () => {
    const attempt = vi
      .fn<(ctx: AttemptContext) => Promise<string>>()
      .mockRejectedValueOnce(new Error('a'))
      .mockRejectedValueOnce(new Error('b'))
      .mockResolvedValue('ok')
    const result = await engine().run({
      operation: 'op',
      where: 'test op',
      retry: true,
      attempt,
      classify: transient,
    })
    expect(result).toBe('ok')
    expect(attempt.mock.calls.map(([ctx]) => ctx.attempt)).toEqual([1, 2, 3])
  })

  it('gives up after retry.limit retries with the classified error', async () => {
    const attempt = vi.fn(() => Promise.reject(new Error('x')))
    const err = await engine()
      .run({ operation: 'op', where: 'test op', retry: true, attempt, classify: transient })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    expect(attempt).toHaveBeenCalledTimes(3)
  })

  it('does not repeat a call that may not be repeated, nor a failure that is not retryable', async () => {
    const once = vi.fn(() => Promise.reject(new Error('x')))
    await expect(
      engine().run({ operation: 'op', where: 'w', retry: false, attempt: once, classify: transient }),
    ).rejects.toBeInstanceOf(TransientError)
    expect(once).toHaveBeenCalledTimes(1)
    const stall = vi.fn(() => Promise.reject(new Error('x')))
    await expect(
      engine().run({
        operation: 'op',
        where: 'w',
        retry: true,
        attempt: stall,
        classify: () => ({ error: new StallingError(Reason.ProviderRejected, 'no') }),
      }),
    ).rejects.toBeInstanceOf(StallingError)
    expect(stall).toHaveBeenCalledTimes(1)
  })

  it('ends at once on a Retry-After beyond maxRetryAfterMs, and pauses the budget when told', async () => {
    const budget = new BudgetRegistry().get('test', 'acct')
    const e = createProviderEngine({ provider: 'test', budget, retry: { maxRetryAfterMs: 1000 } })
    const attempt = vi.fn(() => Promise.reject(new Error('429')))
    const err = await e
      .run({
        operation: 'op',
        where: 'w',
        retry: true,
        attempt,
        classify: () => ({
          error: new WaitingError(Reason.RateLimited, 'slow down', 120_000),
          retryable: true,
          retryAfterMs: 120_000,
          pauseBudgetMs: 120_000,
        }),
      })
      .catch((x: unknown) => x)
    expect((err as WaitingError).retryAfterMs).toBe(120_000)
    expect(attempt).toHaveBeenCalledTimes(1)
    expect(budget.pausedForMs).toBeGreaterThan(110_000)
  })

  it('calls onUnauthorized once and repeats once', async () => {
    const onUnauthorized = vi.fn()
    const attempt = vi.fn(() => Promise.reject(new Error('401')))
    const err = await engine()
      .run({
        operation: 'op',
        where: 'w',
        retry: true,
        attempt,
        onUnauthorized,
        classify: () => ({ error: new StallingError(Reason.Unauthorized, 'refused'), unauthorized: true }),
      })
      .catch((x: unknown) => x)
    expect((err as StallingError).reason).toBe(Reason.Unauthorized)
    expect(onUnauthorized).toHaveBeenCalledTimes(1)
    expect(attempt).toHaveBeenCalledTimes(2)
  })

  it('stops waiting between attempts when the signal aborts', async () => {
    const ac = new AbortController()
    const started = Date.now()
    setTimeout(() => ac.abort(), 50)
    const err = await engine({ backoffBaseMs: 5000, backoffLimitMs: 5000 })
      .run({
        operation: 'op',
        where: 'test op',
        retry: true,
        signal: ac.signal,
        attempt: () => Promise.reject(new Error('x')),
        classify: transient,
      })
      .catch((x: unknown) => x)
    expect(Date.now() - started).toBeLessThan(2000)
    expect((err as TransientError).reason).toBe(Reason.Timeout)
    expect((err as Error).message).toBe('test op: aborted')
  })
})

describe('retry policy', () => {
  it('fills defaults, and backs off exponentially up to the limit', () => {
    const p = resolveRetryPolicy({ backoffBaseMs: 100, backoffLimitMs: 350, limit: undefined }, 'test')
    expect(p.limit).toBe(3)
    expect([1, 2, 3, 4].map((n) => backoffDelay(p, n))).toEqual([100, 200, 350, 350])
    const jittered = p.jitter(1000)
    expect(jittered).toBeGreaterThanOrEqual(500)
    expect(jittered).toBeLessThanOrEqual(1000)
    expect(() => resolveRetryPolicy({ limit: -1 }, 'test')).toThrow(RangeError)
  })
})

describe('provider engine: fetch()', () => {
  it('counts and logs a request Switchboard called off as aborted, not as a provider failure', async () => {
    const { createServer } = await import('node:http')
    const { Writable } = await import('node:stream')
    const { pino } = await import('pino')
    const { Registry } = await import('prom-client')
    // answers /ok at once and never answers /hang
    const server = createServer((req, res) => {
      if (req.url === '/ok') res.end('ok')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const { port } = server.address() as { port: number }
    const lines: { level: number; msg: string; code?: string }[] = []
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)))
          done()
        },
      }),
    )
    const registry = new Registry()
    const e = createProviderEngine({ provider: 'test', logger, metrics: registry })
    try {
      await e.fetch(`http://127.0.0.1:${port}/ok`, undefined, { operation: 'read' })
      const stop = new AbortController()
      const hanging = e.fetch(`http://127.0.0.1:${port}/hang`, { signal: stop.signal }, { operation: 'read' })
      setTimeout(() => stop.abort(), 50)
      await expect(hanging).rejects.toThrow()
      const counted = (await registry.getSingleMetric('switchboard_provider_requests_total')?.get())?.values
      expect(counted?.map((v) => [v.labels.code, v.value]).sort()).toEqual([
        ['200', 1],
        ['aborted', 1],
      ])
      expect(lines.filter((l) => l.level >= 40)).toEqual([])
      expect(lines.map((l) => l.msg)).toEqual(['provider request', 'provider request cancelled'])
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
