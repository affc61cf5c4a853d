import { describe, expect, it, vi } from 'vitest'
import { parseAddress, parseRateLimit, parseSize, parseTrustProxy, runWebhooks } from './main.ts'

describe('runWebhooks flags', () => {
  it('parses sizes, rate limits and addresses', () => {
    expect(parseSize('1048576')).toBe(1048576)
    expect(parseSize('512KiB')).toBe(512 * 1024)
    expect(parseSize('1MiB')).toBe(1024 * 1024)
    expect(parseSize('2mb')).toBe(2_000_000)
    for (const bad of ['', '0', '-1', '1XB', 'lots']) expect(parseSize(bad), bad).toBeUndefined()
    expect(parseRateLimit('100/1s')).toEqual({ max: 100, timeWindowMs: 1000 })
    expect(parseRateLimit('600/1m')).toEqual({ max: 600, timeWindowMs: 60_000 })
    expect(parseRateLimit('50')).toEqual({ max: 50, timeWindowMs: 1000 })
    expect(parseRateLimit('0')).toBe(false)
    for (const bad of ['x', '10/forever', '-3/1s', '/1s']) expect(parseRateLimit(bad), bad).toBeUndefined()
    expect(parseAddress('0.0.0.0:9443')).toEqual({ host: '0.0.0.0', port: 9443 })
    expect(parseAddress('[::1]:8080')).toEqual({ host: '::1', port: 8080 })
    expect(parseAddress(':9443')).toEqual({ host: '0.0.0.0', port: 9443 })
    for (const bad of ['9443', 'h:99999', 'h:x']) expect(parseAddress(bad), bad).toBeUndefined()
  })

  it('parses --trust-proxy: none, a number of hops, or the proxies addresses', () => {
    expect(parseTrustProxy('0')).toBe(false)
    const two = parseTrustProxy('2') as (address: string, hop: number) => boolean
    // hop 0 is the peer, 1 the address it names: two proxies are believed, the third hop is the client
    expect([0, 1, 2].map((hop) => two('10.0.0.1', hop))).toEqual([true, true, false])
    expect(parseTrustProxy('10.0.0.0/8, 192.168.1.7,fd00::/8')).toEqual([
      '10.0.0.0/8',
      '192.168.1.7',
      'fd00::/8',
    ])
    for (const bad of [
      '',
      '11',
      '-1',
      'true',
      'ingress',
      '10.0.0.0/33',
      'fd00::/129',
      '10.0.0.1/8/1',
      '1,',
    ]) {
      expect(parseTrustProxy(bad), bad).toBeUndefined()
    }
  })

  it('prints help with exit code 0 and refuses bad flags with 2', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      expect(await runWebhooks(['--help'])).toBe(0)
      expect(String(out.mock.calls[0]?.[0])).toContain('--public-url')
      expect(await runWebhooks(['--nope'])).toBe(2)
      expect(await runWebhooks(['--body-limit', 'lots'])).toBe(2)
      expect(await runWebhooks(['--rate-limit', 'x/y'])).toBe(2)
      expect(await runWebhooks(['--connect-rate-limit', 'lots'])).toBe(2)
      expect(await runWebhooks(['--trust-proxy', 'everyone'])).toBe(2)
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toContain('--trust-proxy must be')
      expect(await runWebhooks(['--public-url', 'ftp://x'])).toBe(2)
      expect(await runWebhooks(['--bind-address', 'nowhere'])).toBe(2)
    } finally {
      out.mockRestore()
      err.mockRestore()
    }
  })
})
