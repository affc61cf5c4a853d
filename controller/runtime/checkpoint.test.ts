import { describe, expect, it } from 'vitest'
import { Checkpointer } from './checkpoint.ts'

describe('Checkpointer', () => {
  it('writes after everyPages pages, or at the first page after everyMs, and flushes the rest', async () => {
    let now = 0
    const writes: number[] = []
    let page = 0
    const cp = new Checkpointer(
      async () => void writes.push(page),
      { everyPages: 3, everyMs: 1_000 },
      () => now,
    )
    for (page = 1; page <= 7; page++) await cp.page()
    // pages 3 and 6 reached the page limit
    expect(writes).toEqual([3, 6])
    expect(cp.pending).toBe(1)
    now = 1_500
    page = 8
    await cp.page()
    // the time limit: written at the next page, not on a timer
    expect(writes).toEqual([3, 6, 8])
    await cp.flush()
    expect(writes).toEqual([3, 6, 8])
    page = 9
    await cp.page()
    await cp.flush()
    expect(writes).toEqual([3, 6, 8, 9])
    expect(cp.writes).toBe(4)
  })

  it('keeps the pages pending when a write fails, so the next one includes them', async () => {
    let fail = true
    let written = 0
    const cp = new Checkpointer(
      async () => {
        if (fail) throw new Error('API server unavailable')
        written++
      },
      { everyPages: 1, everyMs: 60_000 },
    )
    await expect(cp.page()).rejects.toThrow('unavailable')
    expect(cp.pending).toBe(1)
    fail = false
    await cp.flush()
    expect(written).toBe(1)
    expect(cp.pending).toBe(0)
  })

  it('refuses a policy that would never write', () => {
    expect(() => new Checkpointer(async () => {}, { everyPages: 0 })).toThrow('at least 1')
  })
})
