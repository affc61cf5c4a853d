import { describe, expect, it } from 'vitest'
import { DedupeStores, DeliveryDedupe, dedupeKey } from './dedupe.ts'

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

  it('is bounded by bytes as well as entries', () => {
    const d = new DeliveryDedupe({ maxBytes: 10_000 })
    for (let i = 0; i < 1000; i++) d.add(`${i}-${'x'.repeat(500)}`)
    expect(d.bytes).toBeLessThanOrEqual(10_000)
    expect(d.size).toBeGreaterThan(0)
    expect(d.has(`999-${'x'.repeat(500)}`)).toBe(true)
    expect(d.has(`0-${'x'.repeat(500)}`)).toBe(false)
  })
})

describe('DedupeStores', () => {
  it('keeps one store per provider: a flood of one cannot push out the ids of another', () => {
    const stores = new DedupeStores({ maxEntries: 100 })
    expect(stores.of('twilio').add(dedupeKey('/hooks/twilio/t', 'SM1:delivered'))).toBe(true)
    for (let i = 0; i < 10_000; i++) stores.of('softswiss').add(dedupeKey('/hooks/softswiss/t', `d-${i}`))
    expect(stores.of('twilio').add(dedupeKey('/hooks/twilio/t', 'SM1:delivered'))).toBe(false)
    expect(stores.sizes()).toEqual({ twilio: 1, softswiss: 100 })
  })

  it('stores a fixed-length digest whatever the id, and keeps resources apart', () => {
    const long = dedupeKey('/hooks/calendly/t', `invitee.created|2030|${'u'.repeat(500_000)}`)
    expect(long).toHaveLength(43)
    expect(dedupeKey('/hooks/x/a', 'id')).not.toBe(dedupeKey('/hooks/x/b', 'id'))
  })
})
