import { describe, expect, it } from 'vitest'
import { BURST_MS, pacer } from './pace.ts'

/** Takes n tokens one by one, returning when each was had (ms since the start). */
async function take(rate: number, n: number): Promise<number[]> {
  const bucket = pacer(rate)
  const start = performance.now()
  const at: number[] = []
  for (let i = 0; i < n; i++) {
    await bucket.removeTokens(1)
    at.push(performance.now() - start)
  }
  return at
}

describe('campaign pacing', () => {
  it('never faster than the rate: n sends take at least (n - burst) / rate', async () => {
    for (const [rate, n] of [
      [1000, 600],
      [50, 30],
    ] as const) {
      const at = await take(rate, n)
      const burst = Math.max(1, Math.floor((rate * BURST_MS) / 1000))
      expect(at.at(-1)).toBeGreaterThanOrEqual(((n - burst) * 1000) / rate - 2)
    }
  })

  it('starts empty and holds at most 20 ms of sends after a pause', async () => {
    const bucket = pacer(1000)
    expect(bucket.tryRemoveTokens(1)).toBe(false)
    await new Promise((r) => setTimeout(r, 200))
    let got = 0
    while (bucket.tryRemoveTokens(1)) got++
    expect(got).toBe(20)
  })

  it('a low rate is one message at a time, evenly spaced', async () => {
    const bucket = pacer(4)
    await new Promise((r) => setTimeout(r, 600))
    expect(bucket.tryRemoveTokens(1)).toBe(true)
    expect(bucket.tryRemoveTokens(1)).toBe(false)
    const at = await take(4, 3)
    expect(at[2] ?? 0).toBeGreaterThanOrEqual(500 - 2)
  })
})
