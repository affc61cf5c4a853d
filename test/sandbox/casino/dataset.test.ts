import { describe, expect, it } from 'vitest'
import { CasinoDataset } from './dataset.ts'

const make = (seed = 's1', idStyle: 'numeric' | 'prefixed' = 'prefixed') =>
  new CasinoDataset({ seed, sizes: { players: 50, transactions: 1_000_000, games: 20 }, idStyle })

describe('CasinoDataset', () => {
  it('computes the same record from the same seed and index, and different ones per seed', () => {
    expect(make().recordAt('transactions', 123_456)).toEqual(make().recordAt('transactions', 123_456))
    expect(make('s2').recordAt('players', 3)).not.toEqual(make().recordAt('players', 3))
  })

  it('serves a million records without materialising them', () => {
    const d = make()
    const before = process.memoryUsage().heapUsed
    const last = d.recordAt('transactions', 999_999)
    expect(last.id).toBe('T000999999')
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(5 * 1024 * 1024)
    expect(() => d.recordAt('transactions', 1_000_000)).toThrow(RangeError)
  })

  it('orders records by (updatedAt, id) with ties of three', () => {
    for (const style of ['numeric', 'prefixed'] as const) {
      const d = make('s1', style)
      for (let i = 1; i < 200; i++) {
        const a = d.recordAt('transactions', i - 1)
        const b = d.recordAt('transactions', i)
        const ta = Date.parse(a.updatedAt)
        const tb = Date.parse(b.updatedAt)
        expect(ta < tb || (ta === tb && d.compareIds(a.id, b.id) < 0)).toBe(true)
      }
      expect(d.updatedAtMs('players', 0)).toBe(d.updatedAtMs('players', 2))
      expect(d.updatedAtMs('players', 3)).toBeGreaterThan(d.updatedAtMs('players', 2))
    }
  })

  it('finds pages by position, splitting ties by id', () => {
    const d = make()
    const at = d.updatedAtMs('players', 4)
    expect(d.firstAfter('players', at, undefined)).toBe(3)
    expect(d.firstAfter('players', at, d.id('players', 3))).toBe(4)
    expect(d.firstAfter('players', at, d.id('players', 5))).toBe(6)
    expect(d.page('players', 0, undefined, 20)).toEqual({ start: 0, end: 20, hasMore: true })
    expect(d.page('players', at, d.id('players', 4), 100)).toEqual({ start: 5, end: 50, hasMore: false })
  })

  it('appends records after the last one and resets to the configured size', () => {
    const d = make()
    const lastBefore = d.recordAt('games', 19)
    d.append('games', 4)
    expect(d.size('games')).toBe(24)
    expect(Date.parse(d.recordAt('games', 23).updatedAt)).toBeGreaterThan(Date.parse(lastBefore.updatedAt))
    d.reset()
    expect(d.size('games')).toBe(20)
  })

  it('links transactions and sessions to existing players in the player’s currency', () => {
    const d = make()
    for (let i = 0; i < 100; i++) {
      const t = d.recordAt('transactions', i)
      const index = Number(t.playerId.slice(1))
      expect(index).toBeLessThan(50)
      expect(t.currency).toBe(d.recordAt('players', index).currency)
      expect(Number.isSafeInteger(t.amountMinor)).toBe(true)
    }
  })
})

describe('an updated record', () => {
  it('is served again with the same id, a later updatedAt and one changed field, ids ascending per updatedAt', () => {
    for (const idStyle of ['numeric', 'prefixed'] as const) {
      const d = new CasinoDataset({
        seed: 'upd',
        sizes: { players: 10, transactions: 10, games: 10 },
        idStyle,
      })
      const before = d.recordAt('players', 4)
      const at = d.update('players', 4)
      expect(at % 3).toBe(0)
      const after = d.recordAt('players', at)
      expect(after.id).toBe(before.id)
      expect(after.status).not.toBe(before.status)
      expect(Date.parse(after.updatedAt)).toBeGreaterThan(Date.parse(d.recordAt('players', at - 1).updatedAt))
      d.append('players', 2)
      // (updatedAt, id) strictly ascending over the whole stream
      for (let i = 1; i < d.size('players'); i++) {
        const a = d.recordAt('players', i - 1)
        const b = d.recordAt('players', i)
        const order = Date.parse(a.updatedAt) - Date.parse(b.updatedAt) || d.compareIds(a.id, b.id)
        expect(order, `${i}`).toBeLessThan(0)
      }
      expect(d.distinct('players')).toBe(d.size('players') - 1)
      // reading on from the position before the update serves the new version
      expect(
        d.firstAfter('players', Date.parse(d.recordAt('players', at - 1).updatedAt), d.id('players', at - 1)),
      ).toBe(at)
      d.reset()
      expect(d.size('players')).toBe(10)
      expect(d.distinct('players')).toBe(10)
    }
  })
})
