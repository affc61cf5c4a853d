/**
 * The headers the webhook server's rate limits send: providers and browsers ignore the
 * `x-ratelimit-*` family, so only a 429 says when to come back (Retry-After).
 */
export const RETRY_AFTER_ONLY = {
  addHeadersOnExceeding: {
    'x-ratelimit-limit': false,
    'x-ratelimit-remaining': false,
    'x-ratelimit-reset': false,
  },
  addHeaders: {
    'x-ratelimit-limit': false,
    'x-ratelimit-remaining': false,
    'x-ratelimit-reset': false,
    'retry-after': true,
  },
} as const
