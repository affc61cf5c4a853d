import { describe, expect, it } from 'vitest'
import { compareInstants, instant, toMillisIso } from './order.ts'

describe('compareInstants', () => {
  it('compares across precisions as instants, to the nanosecond', () => {
    // as strings, the whole second sorts after the half second that follows it ('Z' > '.')
    expect('2030-01-01T10:00:00Z' > '2030-01-01T10:00:00.5Z').toBe(true)
    expect(compareInstants('2030-01-01T10:00:00Z', '2030-01-01T10:00:00.5Z')).toBeLessThan(0)
    expect(compareInstants('2030-01-01T10:00:00.999999999Z', '2030-01-01T10:00:01Z')).toBeLessThan(0)
    expect(
      compareInstants('2030-01-01T10:00:00.000000002Z', '2030-01-01T10:00:00.000000001Z'),
    ).toBeGreaterThan(0)
    expect(compareInstants('2030-01-01T10:00:00.5Z', '2030-01-01T10:00:00.500000000Z')).toBe(0)
    // Date.parse alone cannot tell these apart
    expect(Date.parse('2030-01-01T10:00:00.1234561Z')).toBe(Date.parse('2030-01-01T10:00:00.1234569Z'))
    expect(compareInstants('2030-01-01T10:00:00.1234561Z', '2030-01-01T10:00:00.1234569Z')).toBeLessThan(0)
  })

  it('reads offsets as the same instant', () => {
    expect(compareInstants('2030-01-01T12:00:00.25+02:00', '2030-01-01T10:00:00.250Z')).toBe(0)
  })

  it('puts what it cannot read first, and undefined first', () => {
    expect(compareInstants('yesterday', '2030-01-01T10:00:00Z')).toBeLessThan(0)
    expect(compareInstants(undefined, '1970-01-01T00:00:00Z')).toBeLessThan(0)
    expect(instant('2030-01-01T10:00:00.1234567890Z')[0]).toBe(Number.NEGATIVE_INFINITY)
  })

  it('orders a seeded shuffle of mixed precisions the same as the instants', () => {
    let seed = 12345
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    const base = Date.parse('2030-01-01T00:00:00Z')
    const times = Array.from({ length: 200 }, (_, i) => {
      const ns = BigInt(base) * 1_000_000n + BigInt(i) * 333_333_337n
      const ms = Number(ns / 1_000_000n)
      const frac = (ns % 1_000_000_000n).toString().padStart(9, '0')
      const whole = new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)
      const digits = 1 + Math.floor(rand() * 9)
      return { ns, text: `${whole}.${frac.slice(0, digits)}Z`, digits }
    })
    const truncated = (t: { ns: bigint; digits: number }) => {
      const unit = 10n ** BigInt(9 - t.digits)
      return (t.ns / unit) * unit
    }
    const shuffled = [...times].sort(() => rand() - 0.5)
    const sorted = [...shuffled].sort((a, b) => compareInstants(a.text, b.text))
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]
      const b = sorted[i]
      if (!a || !b) continue
      expect(truncated(a) <= truncated(b), `seed 12345: ${a.text} before ${b.text}`).toBe(true)
    }
  })
})

describe('toMillisIso', () => {
  it('keeps milliseconds and drops the rest', () => {
    expect(toMillisIso('2030-01-01T10:00:00.123456789Z', new Date(0))).toBe('2030-01-01T10:00:00.123Z')
    expect(toMillisIso('nonsense', new Date(0))).toBe('1970-01-01T00:00:00.000Z')
  })
})
