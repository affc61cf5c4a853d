import { describe, expect, it } from 'vitest'
import { DeliveryDedupe } from './dedupe.ts'

describe('DeliveryDedupe', () => {
  it('remembers an id for the TTL', () => {
    let now = 1000
    const d = new DeliveryDedupe({ ttlMs: 100, now: () => now })
    expect(d.add('a')).toBe(true)
    expect(d.add('a')).toBe(false)
    expect(d.has('a')).toBe(true)
    now += 100
    expect(d.has('a')).toBe(false)
    expect(d.add('a')).toBe(true)
  })

  it('keeps at most maxEntries, forgetting the oldest first', () => {
    const d = new DeliveryDedupe({ maxEntries: 3 })
    for (const id of ['a', 'b', 'c', 'd']) d.add(id)
    expect(d.size).toBe(3)
    expect(d.has('a')).toBe(false)
    expect(d.has('d')).toBe(true)
    for (let i = 0; i < 10_000; i++) d.add(`x${i}`)
    expect(d.size).toBe(3)
    expect(['x9997', 'x9998', 'x9999'].map((id) => d.has(id))).toEqual([true, true, true])
    expect(d.has('x9996')).toBe(false)
    expect(d.add('x9999')).toBe(false)
    expect(d.add('x9996')).toBe(true)
  })

  it('drops expired ids as new ones arrive', () => {
    let now = 0
    const d = new DeliveryDedupe({ ttlMs: 10, now: () => now })
    for (let i = 0; i < 100; i++) d.add(`old${i}`)
    now = 50
    d.add('new')
    expect(d.size).toBe(1)
  })
})
