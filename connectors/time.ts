/**
 * RFC 3339 timestamps in UTC, as Kubernetes writes them: second precision by default
 * (`2025-01-31T09:30:00Z`, conditions and status times), or with milliseconds where values must
 * keep rising within a second (the requested-at annotation).
 */
export function rfc3339(at: Date | number, precision: 'seconds' | 'milliseconds' = 'seconds'): string {
  const iso = new Date(at).toISOString()
  return precision === 'milliseconds' ? iso : `${iso.slice(0, 19)}Z`
}
