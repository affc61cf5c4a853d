/**
 * Field types for providers' settings and credentials. Every constraint here is one the API server
 * can check (pattern, length, enum), so what the CRD accepts is exactly what the connector accepts.
 */
import { z } from 'zod'

/** Account identifiers (casino, operator, brand, partner, site): the same everywhere. */
const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9._-]+$/
const ACCOUNT_ID_MAX_LENGTH = 64

/**
 * An account identifier a platform issued. The connectors put these in request paths and bodies;
 * the API server enforces the same rule, so a value it stores is one the connector can use.
 */
export function accountId(description: string) {
  return z
    .string()
    .min(1, { message: 'must not be empty' })
    .max(ACCOUNT_ID_MAX_LENGTH, { message: `must be at most ${ACCOUNT_ID_MAX_LENGTH} characters` })
    .regex(ACCOUNT_ID_PATTERN, { message: 'must be letters, digits, ".", "_" or "-"' })
    .describe(description)
}

/** A Secret key the connector needs; its message names the key, never the value. */
export function secretKey(name: string) {
  return z.string().min(1, { message: `${name} is empty` })
}
