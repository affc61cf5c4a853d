import { describe, expect, it } from 'vitest'
import { Reason, StallingError } from '../errors.ts'
import { compareIds, comparePositions, decodeCursor, encodeCursor } from './cursor.ts'

describe('cursors', () => {
  const pos = { updatedAt: '2024-03-01T10:00:00.000Z', id: 'T000000042' }

  it('round-trips a position and stays opaque and short', () => {
    const cursor = encodeCursor('altenar', 'transactions', pos)
    expect(cursor).toMatch(/^c1\.[A-Za-z0-9_-]+$/)
    expect(cursor.length).toBeLessThan(200)
    expect(decodeCursor('altenar', 'transactions', cursor)).toEqual(pos)
  })

  it.each([
    ['another stream', encodeCursor('altenar', 'players', pos), /another stream \(players\)/],
    ['another provider', encodeCursor('softswiss', 'transactions', pos), /another provider \(softswiss\)/],
    ['garbage', 'hello', /not a Switchboard cursor/],
    ['bad base64', 'c1.@@@', /not a Switchboard cursor/],
    ['bad JSON', `c1.${Buffer.from('{nope').toString('base64url')}`, /corrupt/],
    [
      'bad timestamp',
      `c1.${Buffer.from(JSON.stringify({ p: 'altenar', s: 'transactions', u: 'yesterday', i: 'x' })).toString('base64url')}`,
      /no valid timestamp/,
    ],
    [
      'empty id',
      `c1.${Buffer.from(JSON.stringify({ p: 'altenar', s: 'transactions', u: pos.updatedAt, i: '' })).toString('base64url')}`,
      /no valid record id/,
    ],
  ])('refuses %s: InvalidCursor stall naming the stream', (_what, cursor, message) => {
    let err: unknown
    try {
      decodeCursor('altenar', 'transactions', cursor)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(StallingError)
    expect((err as StallingError).reason).toBe(Reason.InvalidCursor)
    expect((err as StallingError).message).toMatch(/^altenar transactions: the saved cursor/)
    expect((err as StallingError).message).toMatch(message)
    expect((err as StallingError).field).toBe('status.streams.transactions.cursor')
  })

  it('orders all-digit ids numerically and others by code unit', () => {
    expect(compareIds('9', '10')).toBeLessThan(0)
    expect(compareIds('0010', '9')).toBeGreaterThan(0)
    expect(compareIds('007', '7')).toBe(0)
    expect(compareIds('P10', 'P9')).toBeLessThan(0)
    expect(comparePositions({ updatedAt: '2024-01-01T00:00:00Z', id: 'b' }, pos)).toBeLessThan(0)
    expect(comparePositions({ updatedAt: pos.updatedAt, id: 'T000000043' }, pos)).toBeGreaterThan(0)
  })
})
