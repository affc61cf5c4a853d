import { describe, expect, it } from 'vitest'
import { describeUrl, errorForStatus, parseRetryAfter, validateRecords, withAbort } from './delivery.ts'
import { Reason, StallingError, TransientError, WaitingError } from './errors.ts'

const ok = {
  messageId: 'm-1',
  type: 'track',
  userId: 'u',
  event: 'e',
  properties: {},
  timestamp: '2026-01-01T00:00:00Z',
} as const

describe('errorForStatus', () => {
  const base = { destination: 'X', target: 'h/p' }
  it.each([
    [400, StallingError, Reason.DestinationRejected],
    [404, StallingError, Reason.DestinationRejected],
    [413, StallingError, Reason.DestinationRejected],
    [401, StallingError, Reason.Unauthorized],
    [403, StallingError, Reason.Unauthorized],
    [429, WaitingError, Reason.RateLimited],
    [408, TransientError, Reason.DestinationUnavailable],
    [500, TransientError, Reason.DestinationUnavailable],
    [503, TransientError, Reason.DestinationUnavailable],
  ])('maps %i', (status, kind, reason) => {
    const err = errorForStatus({ ...base, status })
    expect(err).toBeInstanceOf(kind)
    expect(err.reason).toBe(reason)
    expect(err.message).toContain(String(status))
  })

  it('carries Retry-After on 429, with a default', () => {
    expect(errorForStatus({ ...base, status: 429, retryAfterMs: 2_000 }).retryAfterMs).toBe(2_000)
    expect(errorForStatus({ ...base, status: 429 }).retryAfterMs).toBe(60_000)
  })

  it('removes secrets from provider text', () => {
    const err = errorForStatus({
      ...base,
      status: 400,
      detail: 'echo s3cr3t-value',
      secrets: ['s3cr3t-value'],
    })
    expect(err.message).not.toContain('s3cr3t-value')
  })
})

describe('helpers', () => {
  it('parseRetryAfter reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3_000)
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000)
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter(null)).toBeUndefined()
  })

  it('describeUrl keeps host and path only', () => {
    expect(describeUrl('https://user:pw@hooks.example.com:8443/in/x?token=abc#f')).toBe(
      'hooks.example.com:8443/in/x',
    )
    expect(describeUrl('nope')).toBe('[invalid url]')
  })

  it('validateRecords refuses what no destination would accept', () => {
    expect(() => validateRecords([ok], 'X')).not.toThrow()
    const bad = [
      { ...ok, messageId: '' },
      { ...ok, messageId: 'x'.repeat(100) },
      { ...ok, userId: '' },
      { ...ok, event: undefined },
      { ...ok, timestamp: 'yesterday' },
      { ...ok, type: 'page' },
    ]
    for (const r of bad) {
      expect(() => validateRecords([ok, r as never], 'X')).toThrow(StallingError)
    }
  })

  it('withAbort rejects with Timeout when the caller aborts', async () => {
    const c = new AbortController()
    const p = withAbort(new Promise(() => {}), c.signal, 'X')
    c.abort()
    await expect(p).rejects.toMatchObject({ reason: Reason.Timeout })
    const done = new AbortController()
    await expect(withAbort(Promise.resolve(1), done.signal, 'X')).resolves.toBe(1)
  })
})
