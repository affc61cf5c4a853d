import { describe, expect, it, vi } from 'vitest'
import { SessionCache } from './session.ts'

describe('SessionCache', () => {
  function setup(lifetimeMs = 600_000) {
    let now = 1_000_000
    let n = 0
    const obtain = vi.fn(async () => ({ value: `token-${++n}`, expiresInMs: lifetimeMs }))
    const cache = new SessionCache({ obtain, now: () => now })
    return { cache, obtain, advance: (ms: number) => (now += ms) }
  }

  it('obtains once and reuses the value', async () => {
    const { cache, obtain } = setup()
    expect(await cache.get()).toBe('token-1')
    expect(await cache.get()).toBe('token-1')
    expect(obtain).toHaveBeenCalledTimes(1)
    expect(cache.obtained).toBe(1)
  })

  it('shares one renewal between concurrent callers', async () => {
    const { cache, obtain } = setup()
    const values = await Promise.all([cache.get(), cache.get(), cache.get()])
    expect(values).toEqual(['token-1', 'token-1', 'token-1'])
    expect(obtain).toHaveBeenCalledTimes(1)
  })

  it('renews shortly before expiry: a fifth of the lifetime, at most 60 s', async () => {
    const short = setup(10_000)
    await short.cache.get()
    short.advance(7_999)
    expect(await short.cache.get()).toBe('token-1')
    short.advance(2)
    expect(await short.cache.get()).toBe('token-2')

    const long = setup(3_600_000)
    await long.cache.get()
    long.advance(3_539_999)
    expect(await long.cache.get()).toBe('token-1')
    long.advance(2)
    expect(await long.cache.get()).toBe('token-2')
  })

  it('drops only a stale value on invalidate', async () => {
    const { cache } = setup()
    await cache.get()
    cache.invalidate('some-older-token')
    expect(await cache.get()).toBe('token-1')
    cache.invalidate('token-1')
    expect(await cache.get()).toBe('token-2')
    cache.invalidate()
    expect(await cache.get()).toBe('token-3')
  })

  it('passes a failed renewal on and tries again next time', async () => {
    let fail = true
    const cache = new SessionCache({
      obtain: async () => {
        if (fail) throw new Error('login refused')
        return { value: 'ok', expiresInMs: 1000 }
      },
    })
    await expect(cache.get()).rejects.toThrow('login refused')
    fail = false
    expect(await cache.get()).toBe('ok')
  })
})
