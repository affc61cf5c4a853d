import { describe, expect, it } from 'vitest'
import { readAhead } from './read-ahead.ts'

/** A source of pages 1..n that records what was asked of it; each read waits for `release`. */
function pages(n: number, opts: { failAt?: number } = {}) {
  const log: string[] = []
  const gates: Array<() => void> = []
  let reads = 0
  let closed = false
  async function* source(): AsyncGenerator<number> {
    try {
      for (let i = 1; i <= n; i++) {
        reads++
        log.push(`read ${i}`)
        await new Promise<void>((r) => gates.push(r))
        if (i === opts.failAt) throw new Error(`page ${i} failed`)
        log.push(`got ${i}`)
        yield i
      }
    } finally {
      closed = true
      log.push('closed')
    }
  }
  return {
    source,
    log,
    get reads() {
      return reads
    },
    get closed() {
      return closed
    },
    /** Lets the read in flight answer. */
    release: async () => {
      for (let i = 0; i < 50 && gates.length === 0; i++) await Promise.resolve()
      gates.shift()?.()
    },
  }
}

const tick = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

describe('readAhead', () => {
  it('asks for the next item as soon as the current one is handed over, never more than one ahead', async () => {
    const src = pages(4)
    const it = readAhead(src.source())
    const first = it.next()
    await src.release()
    expect((await first).value).toBe(1)
    await tick()
    // page 2 is being read while the consumer handles page 1 ...
    expect(src.log).toEqual(['read 1', 'got 1', 'read 2'])
    await src.release()
    await tick()
    // ... and once it arrived, nothing more is read until the consumer takes it
    expect(src.log).toEqual(['read 1', 'got 1', 'read 2', 'got 2'])
    expect(src.reads).toBe(2)
    expect((await it.next()).value).toBe(2)
    await tick()
    expect(src.reads).toBe(3)
    const rest: number[] = []
    const drain = (async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value)
    })()
    await src.release()
    await src.release()
    await drain
    expect(rest).toEqual([3, 4])
    expect(src.closed).toBe(true)
  })

  it('a consumer that stops drops the item read ahead unseen, cancels the read and closes the source', async () => {
    const src = pages(10)
    let cancelled = 0
    const seen: number[] = []
    const consume = (async () => {
      for await (const page of readAhead(src.source(), { cancel: () => cancelled++ })) {
        seen.push(page)
        // the delivery of page 2 fails while page 3 is being read
        if (page === 2) throw new Error('delivery failed')
      }
    })()
    await src.release()
    await src.release()
    await tick()
    expect(src.log.at(-1)).toBe('read 3')
    // the read in flight answers only after the consumer stopped: its page is never handed over
    const outcome = consume.catch((e: Error) => e.message)
    await tick()
    expect(cancelled).toBe(1)
    await src.release()
    expect(await outcome).toBe('delivery failed')
    expect(seen).toEqual([1, 2])
    expect(src.closed).toBe(true)
    expect(src.reads).toBe(3)
  })

  it('a read ahead that fails is reported when the consumer asks for that item, after the current one', async () => {
    const src = pages(5, { failAt: 3 })
    const seen: number[] = []
    let error: unknown
    const consume = (async () => {
      try {
        for await (const page of readAhead(src.source())) {
          // page 3's read fails while page 2 is being handled: page 2 is still handled in full
          if (page === 2) await src.release()
          await tick()
          seen.push(page)
        }
      } catch (err) {
        error = err
      }
    })()
    await src.release()
    await src.release()
    await consume
    expect(seen).toEqual([1, 2])
    expect((error as Error).message).toBe('page 3 failed')
    expect(src.closed).toBe(true)
  })

  it('without a cancel, a stop waits for the read in flight and still closes the source', async () => {
    const src = pages(3)
    const consume = (async () => {
      for await (const page of readAhead(src.source())) if (page === 1) break
    })()
    await src.release()
    await tick()
    let stopped = false
    void consume.then(() => {
      stopped = true
    })
    await tick()
    // page 2 is in flight: the stop waits for it
    expect(stopped).toBe(false)
    await src.release()
    await consume
    expect(src.closed).toBe(true)
    expect(src.log).toEqual(['read 1', 'got 1', 'read 2', 'got 2', 'closed'])
  })

  it('an empty source ends at once', async () => {
    async function* none(): AsyncGenerator<number> {}
    const seen: number[] = []
    for await (const x of readAhead(none())) seen.push(x)
    expect(seen).toEqual([])
  })
})
