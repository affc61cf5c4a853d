import { jsonEqual } from './equal.ts'

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`: changed fields are set, removed
 * fields become null, arrays are replaced whole. Returns undefined when nothing differs, so the
 * caller can skip the write entirely.
 */
export function mergePatchDiff(from: unknown, to: unknown): unknown {
  if (jsonEqual(from, to)) return undefined
  if (!isPlainObject(from) || !isPlainObject(to)) return to === undefined ? null : to
  const patch: Record<string, unknown> = {}
  for (const key of Object.keys(from)) {
    if (from[key] !== undefined && to[key] === undefined) patch[key] = null
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue
    const sub = mergePatchDiff(from[key], value)
    if (sub !== undefined) patch[key] = sub
  }
  return Object.keys(patch).length === 0 ? undefined : patch
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
