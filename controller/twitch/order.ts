/**
 * Ordering of stream events. Twitch writes notification timestamps with nanoseconds
 * (`2030-01-01T10:00:00.123456789Z`), Helix with whole seconds, Kubernetes with seconds or
 * microseconds: they are compared as instants, to the nanosecond (Date.parse keeps milliseconds
 * only, and strings do not sort as times across precisions or offsets).
 */

/** Negative, zero or positive as `a` is before, at or after `b`; an unparseable time sorts first. */
export function compareInstants(a: string | undefined, b: string | undefined): number {
  const ia = instant(a)
  const ib = instant(b)
  return ia[0] - ib[0] || ia[1] - ib[1]
}

/** `[epoch ms of the whole second, nanoseconds within it]`. */
export function instant(t: string | undefined): [number, number] {
  if (t === undefined) return [Number.NEGATIVE_INFINITY, 0]
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(t.trim())
  if (!m) return [Number.NEGATIVE_INFINITY, 0]
  const seconds = Date.parse(`${m[1]}${m[3]}`)
  if (Number.isNaN(seconds)) return [Number.NEGATIVE_INFINITY, 0]
  return [seconds, Number((m[2] ?? '').padEnd(9, '0'))]
}

/** An RFC 3339 time with millisecond precision (what Destinations take), from any precision. */
export function toMillisIso(t: string, fallback: Date): string {
  const [s, ns] = instant(t)
  if (!Number.isFinite(s)) return fallback.toISOString()
  return new Date(s + Math.floor(ns / 1e6)).toISOString()
}
