import { describe, expect, it } from 'vitest'
import { nowIso, type WebhookContext } from './pipeline.ts'

const at = (ms: number) => ({ now: () => ms }) as unknown as WebhookContext

describe('nowIso', () => {
  it('follows the clock to the millisecond, whatever the order of the calls', () => {
    const times = [0, 0, 1, 1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 1, 253_402_300_799_999]
    for (const ms of times) expect(nowIso(at(ms))).toBe(new Date(ms).toISOString())
  })

  it('refuses a clock that is not a time, every time, as Date does', () => {
    expect(() => nowIso(at(Number.NaN))).toThrow(RangeError)
    expect(() => nowIso(at(Number.NaN))).toThrow(RangeError)
    expect(nowIso(at(5))).toBe('1970-01-01T00:00:00.005Z')
  })
})
