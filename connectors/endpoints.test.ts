import { describe, expect, it } from 'vitest'
import { checkEndpoint, isLoopbackHost, parseAllowedHosts } from './endpoints.ts'
import { SwitchboardError } from './errors.ts'

function refusal(fn: () => void): { reason: string; message: string } | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    if (err instanceof SwitchboardError) return { reason: err.reason, message: err.message }
    throw err
  }
}

describe('the endpoint allowlist', () => {
  it("allows the providers' own hosts over https, and a casino platform's default host", () => {
    expect(
      refusal(() => checkEndpoint({}, 'segment', 'spec.segment.host', 'https://api.segment.io')),
    ).toBeUndefined()
    expect(
      refusal(() => checkEndpoint({}, 'segment', 'spec.segment.host', 'https://events.eu1.segmentapis.com')),
    ).toBeUndefined()
    expect(
      refusal(() =>
        checkEndpoint({}, 'softswiss', 'spec.endpoint', 'https://casino.softswiss.net/api', [
          'casino.softswiss.net',
        ]),
      ),
    ).toBeUndefined()
  })

  it('refuses any other host, plain http, and loopback unless asked, naming the field and host', () => {
    const other = refusal(() =>
      checkEndpoint({}, 'segment', 'spec.segment.host', 'https://collector.evil.example'),
    )
    expect(other?.reason).toBe('EndpointNotAllowed')
    expect(other?.message).toContain(
      'spec.segment.host host "collector.evil.example" is not allowed for segment',
    )
    const http = refusal(() => checkEndpoint({}, 'segment', 'spec.segment.host', 'http://api.segment.io'))
    expect(http?.message).toContain('must use https')
    for (const url of [
      'http://127.0.0.1:18600',
      'https://localhost/x',
      'http://[::1]:80',
      'http://127.9.9.9',
    ]) {
      expect(refusal(() => checkEndpoint({}, 'softswiss', 'spec.endpoint', url))?.message, url).toContain(
        '--allow-loopback-endpoints',
      )
      expect(
        refusal(() => checkEndpoint({ allowLoopback: true }, 'softswiss', 'spec.endpoint', url)),
        url,
      ).toBeUndefined()
    }
    // a name that only looks like a provider's host
    expect(
      refusal(() => checkEndpoint({}, 'segment', 'f', 'https://api.segment.io.evil.example'))?.reason,
    ).toBe('EndpointNotAllowed')
    expect(refusal(() => checkEndpoint({}, 'calendly', 'f', 'https://evilapi.calendly.com'))?.reason).toBe(
      'EndpointNotAllowed',
    )
  })

  it('adds configured hosts per provider (with subdomain wildcards and ports)', () => {
    const hosts = parseAllowedHosts(
      'softswiss=proxy.example.com, *.corp.example ; segment=cdp.example.com:8443',
    )
    expect(hosts).toEqual({
      softswiss: ['proxy.example.com', '*.corp.example'],
      segment: ['cdp.example.com:8443'],
    })
    const policy = { hosts }
    expect(
      refusal(() => checkEndpoint(policy, 'softswiss', 'f', 'https://proxy.example.com/api')),
    ).toBeUndefined()
    expect(refusal(() => checkEndpoint(policy, 'softswiss', 'f', 'https://a.corp.example'))).toBeUndefined()
    expect(
      refusal(() => checkEndpoint(policy, 'segment', 'f', 'https://cdp.example.com:8443')),
    ).toBeUndefined()
    expect(refusal(() => checkEndpoint(policy, 'segment', 'f', 'https://cdp.example.com'))?.reason).toBe(
      'EndpointNotAllowed',
    )
    // another provider's allowance is not this one's
    expect(refusal(() => checkEndpoint(policy, 'altenar', 'f', 'https://proxy.example.com'))?.reason).toBe(
      'EndpointNotAllowed',
    )
    expect(() => parseAllowedHosts('softswiss')).toThrow(/PROVIDER=HOST/)
    expect(() => parseAllowedHosts('softswiss=https://x')).toThrow(/PROVIDER=HOST/)
  })

  it('knows loopback hosts', () => {
    expect(['localhost', '127.0.0.1', '::1', '[::1]', 'a.localhost'].map(isLoopbackHost)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ])
    expect(['10.0.0.1', '128.0.0.1', 'localhost.example'].map(isLoopbackHost)).toEqual([false, false, false])
  })
})
