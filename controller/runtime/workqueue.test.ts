import { describe, expect, it } from 'vitest'
import { ItemBackoff, WorkQueue } from './workqueue.ts'

describe('WorkQueue', () => {
  it('holds a key once however often it is added', async () => {
    const q = new WorkQueue()
    q.add('a')
    q.add('a')
    q.add('b')
    expect(q.length).toBe(2)
    expect(await q.get()).toBe('a')
    expect(await q.get()).toBe('b')
    expect(q.length).toBe(0)
  })

  it('never hands a key in progress to a second worker, and re-queues it after done', async () => {
    const q = new WorkQueue()
    q.add('a')
    const first = await q.get()
    q.add('a') // arrives while 'a' is processed
    expect(q.length).toBe(0)
    let second: string | undefined
    void q.get().then((k) => {
      second = k
    })
    await new Promise((r) => setTimeout(r, 10))
    expect(second).toBeUndefined()
    q.done(first as string)
    await new Promise((r) => setTimeout(r, 0))
    expect(second).toBe('a')
  })

  it('keeps the earliest deadline of delayed adds', async () => {
    const q = new WorkQueue()
    q.addAfter('a', 10_000)
    q.addAfter('a', 20)
    const started = Date.now()
    expect(await q.get()).toBe('a')
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('hands out delayed keys in the order of their deadlines, each once', async () => {
    const q = new WorkQueue()
    // a seeded shuffle of 200 deadlines between 5 and 205 ms, some keys moved earlier afterwards
    let seed = 7
    const rand = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed / 2 ** 31
    }
    const due = new Map<string, number>()
    for (let i = 0; i < 200; i++) {
      const key = `k${i}`
      const ms = 5 + Math.floor(rand() * 200)
      q.addAfter(key, ms)
      due.set(key, ms)
    }
    for (let i = 0; i < 200; i += 10) {
      q.addAfter(`k${i}`, 2) // earlier: wins
      q.addAfter(`k${i + 1}`, 10_000) // later: ignored
      due.set(`k${i}`, 2)
    }
    const got: string[] = []
    for (let i = 0; i < 200; i++) {
      const key = (await q.get()) as string
      got.push(key)
      q.done(key)
    }
    expect(new Set(got).size).toBe(200)
    const order = got.map((k) => due.get(k) as number)
    // deadlines differ by at least 1 ms, so the order is theirs except for ties and timer grain
    for (let i = 1; i < order.length; i++)
      expect(order[i]).toBeGreaterThanOrEqual((order[i - 1] as number) - 2)
    await new Promise((r) => setTimeout(r, 30))
    expect(q.length).toBe(0)
  })

  it('hands out keys asked for before the rest, each once; a queued key asked for moves ahead', async () => {
    const q = new WorkQueue()
    for (const k of ['r1', 'r2', 'r3', 'r4']) q.add(k) // resyncs and retries
    q.add('hook', { urgent: true })
    q.add('r3', { urgent: true }) // queued already: moves ahead, not in twice
    q.add('hook', { urgent: true })
    expect(q.length).toBe(5)
    const order: string[] = []
    while (q.length > 0) order.push((await q.get()) as string)
    expect(order).toEqual(['hook', 'r3', 'r1', 'r2', 'r4'])
  })

  it('a key asked for while it runs is handed out after done, before the rest', async () => {
    const q = new WorkQueue()
    q.add('a')
    const a = (await q.get()) as string
    q.add('r1')
    q.add('a', { urgent: true })
    q.add('r2')
    q.done(a)
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['a', 'r1', 'r2'])
  })

  it('a delayed key asked for is urgent when due; a plain delayed one is not', async () => {
    const q = new WorkQueue()
    q.add('r1')
    q.addAfter('soon', 20, { urgent: true })
    q.addAfter('later', 20)
    await new Promise((r) => setTimeout(r, 60))
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['soon', 'r1', 'later'])
  })

  it('drops delayed keys on shutdown', async () => {
    const q = new WorkQueue()
    q.addAfter('late', 20)
    await q.shutdown(0)
    await new Promise((r) => setTimeout(r, 40))
    expect(q.length).toBe(0)
    expect(await q.get()).toBeUndefined()
  })

  it('shutdown wakes waiting workers and drops queued keys', async () => {
    const q = new WorkQueue()
    const waiting = q.get()
    q.add('x')
    expect(await waiting).toBe('x')
    q.add('y')
    const shut = q.shutdown(1_000)
    q.done('x')
    await shut
    expect(await q.get()).toBeUndefined()
  })
})

describe('ItemBackoff', () => {
  it('doubles per failure up to the cap and resets on forget', () => {
    const b = new ItemBackoff({ baseDelayMs: 100, maxDelayMs: 1_000 })
    expect([b.when('k'), b.when('k'), b.when('k'), b.when('k'), b.when('k')]).toEqual([
      100, 200, 400, 800, 1_000,
    ])
    expect(b.when('other')).toBe(100)
    b.forget('k')
    expect(b.when('k')).toBe(100)
  })
})
