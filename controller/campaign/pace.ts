/**
 * The pacing of a campaign's sends: a token bucket (the `limiter` library) filled continuously at
 * `rate` tokens per second and holding at most 20 ms worth of them (at least one). Sends are
 * spread evenly; after a pause (a commit, a slow answer) at most 20 ms of sends go at once, never
 * a second's worth. A timer in a busy event loop fires late, so a bucket of one token refilled
 * every `1000 / rate` ms falls short of high rates (about 520/s at 1,000/s); the fraction of a
 * token a late timer missed is kept here, so the rate is reached on average.
 */
import { TokenBucket } from 'limiter'

/** The most sends that go out at once after a pause, in milliseconds of the rate. */
export const BURST_MS = 20

export function pacer(rate: number): TokenBucket {
  return new TokenBucket({
    bucketSize: Math.max(1, Math.floor((rate * BURST_MS) / 1000)),
    tokensPerInterval: rate,
    interval: 1000,
  })
}
