/**
 * zod building blocks for the connectors' mapping files: field types that normalise on parse
 * (timestamps to ISO with milliseconds, ids to strings, null to absent). Messages name what is
 * expected and never echo the value.
 */
import { z } from 'zod'
import { isIsoTimestamp } from './cursor.ts'
import { decimalToMinor } from './money.ts'

/** An ISO 8601 timestamp with a zone, normalised to `YYYY-MM-DDTHH:mm:ss.sssZ`. */
export const isoTime = z
  .string()
  .refine(isIsoTimestamp, { message: 'expected an ISO 8601 timestamp with a time zone' })
  .transform((v) => new Date(v).toISOString())

/** Epoch milliseconds, normalised to ISO. */
export const epochMsTime = z
  .number()
  .int()
  .min(0)
  .max(8.64e15)
  .transform((v) => new Date(v).toISOString())

/** A record id sent as a string or a non-negative integer; always a string afterwards. */
export const recordId = z.union([
  z.string().min(1).max(256),
  z
    .number()
    .int()
    .nonnegative()
    .transform((v) => String(v)),
])

/** An optional string that may also arrive as null or ''. */
export const optionalText = z
  .string()
  .nullish()
  .transform((v) => (v === null || v === undefined || v === '' ? undefined : v))

/** ISO 4217 (or a crypto ticker), upper-cased. */
export const currencyCode = z
  .string()
  .regex(/^[A-Za-z]{3,5}$/, { message: 'expected a currency code' })
  .transform((v) => v.toUpperCase())

/** ISO 3166-1 alpha-2, upper-cased; optional. */
export const countryCode = z
  .string()
  .regex(/^[A-Za-z]{2}$/, { message: 'expected a two-letter country code' })
  .nullish()
  .transform((v) => (v ? v.toUpperCase() : undefined))

/** A non-negative integer count. */
export const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)

/** An integer amount in minor units (signed as the platform sent it). */
export const minorUnits = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)

/** A decimal amount in major units, as a string or a JSON number (converted by `toMinor`). */
export const decimalAmount = z.union([z.string().max(40), z.number()])

/**
 * Minor units of a decimal amount (signed as the platform sent it), or a zod issue at `path`
 * when the amount does not fit the currency (more decimal places than it has, not a number,
 * too large).
 */
export function toMinor(
  value: string | number,
  currency: string,
  ctx: z.RefinementCtx,
  path: (string | number)[],
): number {
  const minor = decimalToMinor(value, currency)
  if (minor === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a decimal amount in ${currency}`, path })
    return 0
  }
  return minor
}
