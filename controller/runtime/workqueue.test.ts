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
