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
