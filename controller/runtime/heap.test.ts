import { describe, expect, it } from 'vitest'
import { HeapSettler } from './heap.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('HeapSettler', () => {
  it('collects once after a burst, when the work has been quiet for a while', async () => {
    let gcs = 0
    const s = new HeapSettler({ gc: () => gcs++, quietMs: 60, minWork: 5 })
    for (let i = 0; i < 4; i++) s.worked(true)
    await sleep(100)
    expect(gcs).toBe(0) // too little work to be a burst
    s.worked(true) // the fifth: the queue is empty, the timer starts
    await sleep(30)
    s.worked(false) // work again before the quiet time is up: it waits longer
    await sleep(45)
    expect(gcs).toBe(0)
    await sleep(60)
    expect(gcs).toBe(1)
    await sleep(100)
    expect(gcs).toBe(1) // once per burst
    s.stop()
  })

  it('does nothing where the process has no gc', async () => {
    const s = new HeapSettler({ gc: undefined, quietMs: 10, minWork: 1 })
    s.worked(true)
    await sleep(30)
    expect(s.collections).toBe(0)
  })
})
