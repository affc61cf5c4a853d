import { describe, expect, it } from 'vitest'
import { currencyExponent, decimalToMinor, minorToDecimal } from './money.ts'

describe('money', () => {
  it('knows the minor unit of common and crypto currencies', () => {
    expect(currencyExponent('EUR')).toBe(2)
    expect(currencyExponent('jpy')).toBe(0)
    expect(currencyExponent('KWD')).toBe(3)
    expect(currencyExponent('BTC')).toBe(8)
  })

  it.each([
    ['12.50', 'EUR', 1250],
    [12.5, 'EUR', 1250],
    ['12', 'EUR', 1200],
    [0.1, 'EUR', 10],
    [19.99, 'USD', 1999],
    ['1500', 'JPY', 1500],
    ['1.234', 'KWD', 1234],
    [0.00123456, 'BTC', 123456],
    [1e-7, 'BTC', 10],
    ['-3.10', 'EUR', -310],
    ['12.500', 'EUR', 1250],
  ])('%s %s → %s minor units', (value, currency, minor) => {
    expect(decimalToMinor(value, currency)).toBe(minor)
  })

  it.each([
    ['12.505', 'EUR'],
    ['1.5', 'JPY'],
    ['abc', 'EUR'],
    ['1e3', 'EUR'],
    [Number.NaN, 'EUR'],
    ['99999999999999999', 'EUR'],
  ])('refuses %s %s (never rounds)', (value, currency) => {
    expect(decimalToMinor(value, currency)).toBeUndefined()
  })

  it('formats minor units back to decimals', () => {
    expect(minorToDecimal(1250, 'EUR')).toBe('12.50')
    expect(minorToDecimal(5, 'EUR')).toBe('0.05')
    expect(minorToDecimal(-310, 'EUR')).toBe('-3.10')
    expect(minorToDecimal(1500, 'JPY')).toBe('1500')
    expect(minorToDecimal(123456, 'BTC')).toBe('0.00123456')
    for (const minor of [0, 1, 99, 100, 123_456_789]) {
      for (const currency of ['EUR', 'JPY', 'KWD', 'BTC']) {
        expect(decimalToMinor(minorToDecimal(minor, currency), currency)).toBe(minor)
        expect(decimalToMinor(Number(minorToDecimal(minor, currency)), currency)).toBe(minor)
      }
    }
  })
})
