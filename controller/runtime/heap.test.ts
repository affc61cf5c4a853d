import { execFileSync } from 'node:child_process'
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

  it('with the process gc, gives the empty pages of the heap back, not only the garbage', () => {
    // a child with --expose-gc, as the image runs: garbage with a few survivors on every page
    const script = `
      import { HeapSettler } from ${JSON.stringify(new URL('./heap.ts', import.meta.url).href)}
      let garbage = []
      const live = []
      for (let i = 0; i < 300000; i++) {
        const o = { a: 'x' + i, b: [i, i + 1], c: { d: String(i).repeat(3) } }
        garbage.push(o)
        if (i % 20 === 0) live.push(o)
      }
      garbage = null
      const before = process.memoryUsage().heapTotal
      const s = new HeapSettler({ quietMs: 10, minWork: 1 })
      s.worked(true)
      setTimeout(() => {
        console.log(JSON.stringify({ before, after: process.memoryUsage().heapTotal, runs: s.collections, live: live.length }))
      }, 200)
    `
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    })
    const r = JSON.parse(out) as { before: number; after: number; runs: number; live: number }
    expect(r.runs).toBe(1)
    expect(r.live).toBe(15_000)
    // a plain gc() frees the objects and keeps about as many pages committed
    expect(r.after).toBeLessThan(r.before / 4)
  })

  it('during long work: collects each time the heap grew by the bound since the last collection', () => {
    const MiB = 1024 * 1024
    let heap = 100 * MiB
    let gcs = 0
    const s = new HeapSettler({
      gc: () => {
        gcs++
        heap = 60 * MiB // what the compacting collection leaves
      },
      growthBytes: 48 * MiB,
      heapBytes: () => heap,
    })
    s.during() // the first reading is the reference
    heap = 147 * MiB
    s.during()
    expect(gcs).toBe(0) // 47 MiB more: under the bound
    heap = 148 * MiB
    s.during()
    expect(gcs).toBe(1)
    // the reference is now what the collection left (60), not where it started (100)
    heap = 100 * MiB
    s.during()
    expect(gcs).toBe(1)
    heap = 108 * MiB
    s.during()
    expect(gcs).toBe(2)
    // a heap that V8 shrank by itself lowers the reference
    heap = 40 * MiB
    s.during()
    heap = 80 * MiB
    s.during()
    expect(gcs).toBe(2)
    heap = 88 * MiB
    s.during()
    expect(gcs).toBe(3)
    expect(s.collections).toBe(3)
  })

  it('during long work: never collects with no bound, or where the process has no gc', () => {
    let gcs = 0
    let heap = 0
    const off = new HeapSettler({ gc: () => gcs++, growthBytes: 0, heapBytes: () => heap })
    const noGc = new HeapSettler({ gc: undefined, growthBytes: 1, heapBytes: () => heap })
    for (heap = 0; heap < 10 ** 9; heap += 10 ** 7) {
      off.during()
      noGc.during()
    }
    expect(gcs).toBe(0)
    expect(noGc.collections).toBe(0)
  })
})
