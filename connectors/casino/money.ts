/**
 * Amounts: platforms send decimals in major units ("12.50", 12.5) or integers in minor units;
 * Switchboard carries integers in minor units. The exponent of a currency is its ISO 4217 minor
 * unit (2 unless listed), plus the usual precision of a few cryptocurrencies casinos accept.
 * A decimal with more places than its currency has, or beyond 2^53, is refused, never rounded.
 */

const EXPONENTS: Readonly<Record<string, number>> = Object.fromEntries([
  ...'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'.split(' ').map((c) => [c, 0]),
  ...'BHD IQD JOD KWD LYD OMR TND'.split(' ').map((c) => [c, 3]),
  ...'CLF UYW'.split(' ').map((c) => [c, 4]),
  ...'USDT USDC'.split(' ').map((c) => [c, 6]),
  ...'BTC BCH LTC DOGE'.split(' ').map((c) => [c, 8]),
])

/** Decimal places of a currency's minor unit. */
export function currencyExponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? 2
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/

/**
 * Minor units of a decimal amount (`"12.50"` or `12.5` in EUR → 1250). Returns undefined when
 * the value is not a plain decimal, has more places than the currency, or is not a safe integer
 * in minor units.
 */
export function decimalToMinor(value: string | number, currency: string): number | undefined {
  const exp = currencyExponent(currency)
  let text: string
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined
    // shortest round-trip form; toFixed only for exponent notation
    text = String(value)
    if (/e/i.test(text)) text = value.toFixed(Math.min(20, exp + 2))
  } else {
    text = value.trim()
  }
  const m = DECIMAL.exec(text)
  if (!m) return undefined
  const [, sign, whole = '0', fraction = ''] = m
  const extra = fraction.slice(exp)
  if (/[^0]/.test(extra)) return undefined
  const digits = `${whole}${fraction.slice(0, exp).padEnd(exp, '0')}`
  const minor = Number(digits.replace(/^0+(?=\d)/, ''))
  if (!Number.isSafeInteger(minor)) return undefined
  return sign ? -minor : minor
}

/** The decimal string of an amount in minor units (1250 in EUR → "12.50"). */
export function minorToDecimal(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError('minor must be a safe integer')
  const exp = currencyExponent(currency)
  const sign = minor < 0 ? '-' : ''
  const digits = String(Math.abs(minor)).padStart(exp + 1, '0')
  if (exp === 0) return `${sign}${digits}`
  return `${sign}${digits.slice(0, -exp)}.${digits.slice(-exp)}`
}
