import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { Reason, SwitchboardError, WaitingError } from '../errors.ts'
import { accountKeyFor, BudgetRegistry, DEFAULT_BUDGET_LIMITS, RequestBudget } from './budget.ts'

/** Resolves the promises that can resolve now (no timers run). */
const settle = () => vi.advanceTimersByTimeAsync(0)

function track(p: Promise<unknown>) {
  const state = { done: false, error: undefined as unknown }
  p.then(
    () => {
      state.done = true
    },
    (e: unknown) => {
      state.error = e
    },
  )
  return state
}

describe('RequestBudget', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('lets a burst through at once, then one request per 1/rate', async () => {
    const budget = new RequestBudget('p:a', { ratePerSecond: 10, burst: 3 })
    const takes = Array.from({ length: 5 }, () => track(budget.take()))
    await settle()
    expect(takes.map((t) => t.done)).toEqual([true, true, true, false, false])
    await vi.advanceTimersByTimeAsync(99)
    expect(takes[3]?.done).toBe(false)
    await vi.advanceTimersByTimeAsync(2)
    expect(takes[3]?.done).toBe(true)
    expect(takes[4]?.done).toBe(false)
    await vi.advanceTimersByTimeAsync(100)
    expect(takes[4]?.done).toBe(true)
    expect(budget.granted).toBe(5)
  })

  it('holds every caller during a pause, and a shorter pause never shortens it', async () => {
    const budget = new RequestBudget('p:a', { ratePerSecond: 100, burst: 10 })
    budget.pause(2000)
    budget.pause(500)
    const t = track(budget.take())
    await vi.advanceTimersByTimeAsync(1990)
    expect(t.done).toBe(false)
    await vi.advanceTimersByTimeAsync(20)
    expect(t.done).toBe(true)
  })

  it('refuses at once with WaitingError(RateLimited) when the wait exceeds maxWaitMs', async () => {
    const budget = new RequestBudget('p:a', { ratePerSecond: 1, burst: 1 })
    budget.pause(60_000)
    const err = await budget.take({ maxWaitMs: 30_000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WaitingError)
    expect((err as WaitingError).reason).toBe(Reason.RateLimited)
    expect((err as WaitingError).retryAfterMs).toBeGreaterThan(59_000)
    expect((err as WaitingError).message).not.toMatch(/undefined/)
  })

  it('counts the queue ahead in the estimated wait', async () => {
    const budget = new RequestBudget('p:a', { ratePerSecond: 2, burst: 1 })
    await budget.take()
    const queued = [track(budget.take()), track(budget.take()), track(budget.take())]
    await settle()
    expect(budget.waiting).toBe(3)
    // three ahead at 2/s: about 2 s before a fourth could go
    expect(budget.estimateWaitMs()).toBeGreaterThanOrEqual(1500)
    const err = await budget.take({ maxWaitMs: 1000 }).catch((e: unknown) => e)
    expect((err as SwitchboardError).reason).toBe(Reason.RateLimited)
    await vi.advanceTimersByTimeAsync(2000)
    expect(queued.every((q) => q.done)).toBe(true)
  })

  it('stops waiting when the signal aborts', async () => {
    const budget = new RequestBudget('p:a', { ratePerSecond: 1, burst: 1 })
    await budget.take()
    const controller = new AbortController()
    const t = track(budget.take({ signal: controller.signal }))
    await settle()
    controller.abort()
    await settle()
    expect(t.error).toBeInstanceOf(SwitchboardError)
    expect((t.error as SwitchboardError).reason).toBe(Reason.Timeout)
    const reason = new WaitingError(Reason.RateLimited, 'shutting down', 1000)
    const aborted = AbortSignal.abort(reason)
    await expect(budget.take({ signal: aborted })).rejects.toBe(reason)
  })

  it('validates its limits', () => {
    expect(() => new RequestBudget('p:a', { ratePerSecond: 0, burst: 1 })).toThrow(/ratePerSecond/)
    expect(() => new RequestBudget('p:a', { ratePerSecond: 1, burst: 0.5 })).toThrow(/burst/)
  })
})

describe('BudgetRegistry', () => {
  it('shares one budget per provider account', () => {
    const budgets = new BudgetRegistry()
    const a = budgets.get('softswiss', 'acct-1')
    expect(budgets.get('softswiss', 'acct-1')).toBe(a)
    expect(budgets.get('softswiss', 'acct-2')).not.toBe(a)
    expect(budgets.get('altenar', 'acct-1')).not.toBe(a)
    expect(a.key).toBe('softswiss:acct-1')
    expect(budgets.size).toBe(3)
    expect(budgets.delete('softswiss', 'acct-1')).toBe(true)
    expect(budgets.get('softswiss', 'acct-1')).not.toBe(a)
  })

  it('takes limits set on the registry over the connector’s defaults over the fallback', () => {
    const budgets = new BudgetRegistry({ limits: { altenar: { ratePerSecond: 1, burst: 2 } } })
    expect(budgets.get('altenar', 'x', { ratePerSecond: 5, burst: 10 }).limits).toEqual({
      ratePerSecond: 1,
      burst: 2,
    })
    expect(budgets.get('softswiss', 'x', { ratePerSecond: 5, burst: 10 }).limits).toEqual({
      ratePerSecond: 5,
      burst: 10,
    })
    expect(budgets.get('other', 'x').limits).toEqual(DEFAULT_BUDGET_LIMITS)
    expect(() => budgets.setLimits('x', { ratePerSecond: -1, burst: 1 })).toThrow()
  })
})

describe('accountKeyFor', () => {
  it('is a stable 16-hex-char hash that does not contain its parts', () => {
    const key = accountKeyFor('https://api.example', 'api-key-value')
    expect(key).toMatch(/^[0-9a-f]{16}$/)
    expect(accountKeyFor('https://api.example', 'api-key-value')).toBe(key)
    expect(accountKeyFor('https://api.example', 'other')).not.toBe(key)
    // parts are separated: ('ab','c') differs from ('a','bc')
    expect(accountKeyFor('ab', 'c')).not.toBe(accountKeyFor('a', 'bc'))
    expect(key).not.toContain('api-key')
  })
})
