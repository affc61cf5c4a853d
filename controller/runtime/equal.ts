/** Structural equality for JSON values (key order does not matter; `undefined` fields are absent). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]))
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined)
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined)
  return ak.length === bk.length && ak.every((k) => jsonEqual(ao[k], bo[k]))
}

/**
 * A deep copy of JSON data (objects and arrays are copied; strings, numbers, booleans, null and
 * anything else are shared). For the objects of the cache and the statuses of a reconcile, which
 * are parsed JSON, it is `structuredClone` at a fraction of the cost.
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    const out = new Array(value.length)
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i])
    return out as T
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    return structuredClone(value)
  }
  const out: Record<string, unknown> = {}
  for (const key in value) {
    if (Object.hasOwn(value, key)) out[key] = cloneJson((value as Record<string, unknown>)[key])
  }
  return out as T
}
