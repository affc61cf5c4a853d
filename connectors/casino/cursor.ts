/**
 * Stream cursors. A cursor records the last (updatedAt, id) a page ended with, for one provider
 * and one stream: `c1.` + base64url(JSON `{p, s, u, i}`). Reading from it asks the platform for
 * the records strictly after that position in (updatedAt, id) order. Cursors are validated on
 * read: a corrupt one, or one written for another provider or stream, is an `InvalidCursor`
 * stall naming the stream (the fix is a full resync, never a silent restart).
 */
import { Reason, StallingError } from '../errors.ts'
import type { CasinoProvider, StreamName } from './types.ts'

export interface CursorPosition {
  /** ISO 8601 of the last record's updatedAt. */
  updatedAt: string
  /** The last record's id. */
  id: string
}

const PREFIX = 'c1.'
const MAX_CURSOR_LENGTH = 2048

export function encodeCursor(provider: CasinoProvider, stream: StreamName, pos: CursorPosition): string {
  const json = JSON.stringify({ p: provider, s: stream, u: pos.updatedAt, i: pos.id })
  return PREFIX + Buffer.from(json, 'utf8').toString('base64url')
}

export function decodeCursor(provider: CasinoProvider, stream: StreamName, cursor: string): CursorPosition {
  const fail = (why: string) =>
    new StallingError(
      Reason.InvalidCursor,
      `${provider} ${stream}: the saved cursor ${why}; request a full resync of the stream to start over`,
      { field: `status.streams.${stream}.cursor` },
    )
  if (typeof cursor !== 'string' || !cursor.startsWith(PREFIX) || cursor.length > MAX_CURSOR_LENGTH) {
    throw fail('is not a Switchboard cursor')
  }
  const body = cursor.slice(PREFIX.length)
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw fail('is not a Switchboard cursor')
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    throw fail('is corrupt')
  }
  if (typeof parsed !== 'object' || parsed === null) throw fail('is corrupt')
  const { p, s, u, i } = parsed as Record<string, unknown>
  if (p !== provider) throw fail(`was written for another provider (${String(p).slice(0, 32)})`)
  if (s !== stream) throw fail(`belongs to another stream (${String(s).slice(0, 32)})`)
  if (typeof u !== 'string' || !isIsoTimestamp(u)) throw fail('has no valid timestamp')
  if (typeof i !== 'string' || i.length === 0 || i.length > 256) throw fail('has no valid record id')
  return { updatedAt: u, id: i }
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/

export function isIsoTimestamp(value: string): boolean {
  return ISO.test(value) && !Number.isNaN(Date.parse(value))
}

/**
 * Orders record ids the way the platforms are assumed to: two all-digit ids numerically, anything
 * else by UTF-16 code units.
 */
export function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '')
    const y = b.replace(/^0+(?=\d)/, '')
    if (x.length !== y.length) return x.length < y.length ? -1 : 1
    return x < y ? -1 : x > y ? 1 : 0
  }
  return a < b ? -1 : a > b ? 1 : 0
}

/** Orders (updatedAt, id) positions; updatedAt compared as instants. */
export function comparePositions(a: CursorPosition, b: CursorPosition): number {
  const ta = Date.parse(a.updatedAt)
  const tb = Date.parse(b.updatedAt)
  if (ta !== tb) return ta < tb ? -1 : 1
  return compareIds(a.id, b.id)
}
