import { describe, expect, it } from 'vitest'
import { decodeEntry, type Entry, encodeEntry } from './progress.ts'
import { recheckPlan } from './reconciler.ts'

describe('progress entries as lines', () => {
  const cases: Array<[string, Entry]> = [
    ['r1', { state: 'q', intentMs: 1_764_000_000_123 }],
    ['r2', { state: 's', sid: 'SM0123', delivery: 'sent', sentMs: 1_764_000_001_000 }],
    ['r3', { state: 's', sid: 'SM0124', delivery: 'undelivered', code: 30003, sentMs: 1_764_000_002_000 }],
    ['r4', { state: 'x', reason: 'optedOut', code: 21610 }],
  ]
  it.each(cases)('%s survives a write and a read', (id, e) => {
    expect(decodeEntry(encodeEntry(id, e))).toEqual([id, e])
  })

  it('keeps the send time to the second, in base 36', () => {
    const line = encodeEntry('r5', { state: 's', sid: 'SM1', delivery: 'queued', sentMs: 1_764_000_000_999 })
    expect(line).toBe(`r5 s SM1 queued @${(1_764_000_000).toString(36)}`)
    expect(decodeEntry(line)?.[1]).toMatchObject({ sentMs: 1_764_000_000_000 })
  })

  it('reads lines written before the send time was kept', () => {
    expect(decodeEntry('r6 s SM9 delivered')).toEqual([
      'r6',
      { state: 's', sid: 'SM9', delivery: 'delivered' },
    ])
    expect(decodeEntry('r7 s SM9 failed 30008')).toEqual([
      'r7',
      { state: 's', sid: 'SM9', delivery: 'failed', code: 30008 },
    ])
  })

  it('refuses lines it cannot read, and a malformed send time is dropped, not read as 0', () => {
    expect(decodeEntry('r8')).toBeUndefined()
    expect(decodeEntry('r8 s SM1')).toBeUndefined()
    expect(decodeEntry('r8 z a b')).toBeUndefined()
    expect(decodeEntry('r8 s SM1 sent @')).toEqual(['r8', { state: 's', sid: 'SM1', delivery: 'sent' }])
  })
})

describe('status reads after a restart', () => {
  const T = 10 * 60_000
  const sent = 1_764_000_000_000

  it('a message seen right after its send is first read after the interval', () => {
    expect(recheckPlan(sent, sent + 1_000, T)).toEqual({ due: sent + T, tries: 0 })
  })

  it('a process started later keeps the schedule: the reads whose time passed are skipped but one', () => {
    // reads fall at 1, 3, 7, 15, 31 and 63 intervals after the send
    expect(recheckPlan(sent, sent + 2 * T, T)).toEqual({ due: sent + T, tries: 0 })
    expect(recheckPlan(sent, sent + 3 * T, T)).toEqual({ due: sent + 3 * T, tries: 1 })
    expect(recheckPlan(sent, sent + 20 * T, T)).toEqual({ due: sent + 15 * T, tries: 3 })
  })

  it('long after the last read, one read is left, never more than six in all', () => {
    expect(recheckPlan(sent, sent + 1000 * T, T)).toEqual({ due: sent + 63 * T, tries: 5 })
  })
})
