import { ApiException } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CoalescingRequester } from './reconcile.ts'
import type { TargetRef } from './targets.ts'

const ref = (name: string): TargetRef => ({
  apiVersion: 'switchboard.dev/v1alpha1',
  kind: 'TwitchIntegration',
  plural: 'twitchintegrations',
  namespace: 'ns',
  name,
})

describe('CoalescingRequester', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('patches at once, then at most once per interval, with a trailing patch for the last request', async () => {
    const patches: Array<{ name: string; value: string; at: number }> = []
    const r = new CoalescingRequester({
      minIntervalMs: 1000,
      patch: async (t, value) => {
        patches.push({ name: t.name, value, at: Date.now() })
      },
    })
    const start = Date.now()
    let lastRequestAt = 0
    // 500 requests over 2.5 s
    for (let i = 0; i < 500; i++) {
      lastRequestAt = Date.now()
      r.request(ref('a'))
      await vi.advanceTimersByTimeAsync(5)
    }
    await vi.advanceTimersByTimeAsync(2000)
    expect(patches.length).toBeGreaterThanOrEqual(3)
    expect(patches.length).toBeLessThanOrEqual(4)
    for (let i = 1; i < patches.length; i++) {
      expect((patches[i]?.at ?? 0) - (patches[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(1000)
    }
    // the first patch goes out right away, the last one carries the time of the last request
    expect((patches[0]?.at ?? 0) - start).toBeLessThan(10)
    const last = patches.at(-1)
    expect(Date.parse(last?.value ?? '')).toBeGreaterThanOrEqual(lastRequestAt)
    // values always increase, so every patch is a change the controller sees
    const values = patches.map((p) => Date.parse(p.value))
    expect([...values].sort((x, y) => x - y)).toEqual(values)
    expect(new Set(values).size).toBe(values.length)
    // and the resource is forgotten once quiet
    expect(r.active).toBe(0)
  })

  it('coalesces per resource', async () => {
    const names: string[] = []
    const r = new CoalescingRequester({ patch: async (t) => void names.push(t.name) })
    // requests in the same tick share the first patch
    for (let i = 0; i < 10; i++) {
      r.request(ref('a'))
      r.request(ref('b'))
    }
    await vi.advanceTimersByTimeAsync(100)
    expect(names.sort()).toEqual(['a', 'b'])
    // later ones wait for the interval, then go out together
    for (let i = 0; i < 10; i++) {
      r.request(ref('a'))
      r.request(ref('b'))
      await vi.advanceTimersByTimeAsync(10)
    }
    await vi.advanceTimersByTimeAsync(3000)
    expect(names.sort()).toEqual(['a', 'a', 'b', 'b'])
  })

  it('retries a failed patch a bounded number of times, and drops a request for a deleted resource', async () => {
    let calls = 0
    const results: string[] = []
    const r = new CoalescingRequester({
      maxAttempts: 3,
      patch: async () => {
        calls++
        throw new Error('connection refused')
      },
      onPatch: (res) => results.push(res),
    })
    r.request(ref('a'))
    await vi.advanceTimersByTimeAsync(60_000)
    expect(calls).toBe(3)
    expect(results).toEqual(['failed', 'failed', 'failed'])
    expect(r.active).toBe(0)

    const gone = new CoalescingRequester({
      patch: async () => {
        throw new ApiException(404, 'not found', {}, {})
      },
      onPatch: (res) => results.push(res),
    })
    gone.request(ref('b'))
    await vi.advanceTimersByTimeAsync(10_000)
    expect(results.at(-1)).toBe('gone')
    expect(gone.active).toBe(0)
  })

  it('sends the pending trailing patch at once on close', async () => {
    const values: string[] = []
    const r = new CoalescingRequester({ minIntervalMs: 60_000, patch: async (_t, v) => void values.push(v) })
    r.request(ref('a'))
    await vi.advanceTimersByTimeAsync(10)
    r.request(ref('a'))
    expect(values).toHaveLength(1)
    const closing = r.close({ timeoutMs: 1000 })
    await vi.advanceTimersByTimeAsync(50)
    await closing
    expect(values).toHaveLength(2)
  })
})
