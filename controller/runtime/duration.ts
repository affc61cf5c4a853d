import parse from 'parse-duration'

/**
 * Parses a Go-style duration ("15m", "1h30m", "500ms") into milliseconds. The CRD schema already
 * restricts the pattern; this is the second line of defence for values read from elsewhere.
 */
export function parseDuration(value: string, field: string): number {
  const ms = parse(value)
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`${field}: "${value}" is not a duration (use e.g. 30s, 15m, 1h30m)`)
  }
  return ms
}

/** Adds up to `fraction` of positive jitter so that resources created together spread out. */
export function withJitter(ms: number, fraction = 0.1, random: () => number = Math.random): number {
  return Math.round(ms + ms * fraction * random())
}
