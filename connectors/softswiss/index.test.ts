import { describe, expect, it } from 'vitest'
import {
  describeCasinoConformance,
  expectSwitchboardError,
  readAll,
} from '../../test/sandbox/casino/conformance.ts'
import { Reason } from '../errors.ts'
import { softswiss } from './index.ts'
import { signBody } from './mapping.ts'

const h = describeCasinoConformance({
  provider: 'softswiss',
  connector: softswiss,
  accounts: [
    {
      provider: 'softswiss',
      credentials: { apiKey: 'ss-key-1', apiSecret: 'ss-secret-1' },
      settings: { casinoId: 'casino-1' },
      size: { players: 41, transactions: 73, games: 52 },
    },
    {
      provider: 'softswiss',
      credentials: { apiKey: 'ss-key-2', apiSecret: 'ss-secret-2' },
      settings: { casinoId: 'casino-2', environment: 'staging' },
      size: { players: 9, transactions: 4, games: 3 },
    },
  ],
  wrongCredentials: { apiKey: 'ss-key-1', apiSecret: 'not-the-secret' },
})

describe('softswiss connector', () => {
  it('signs with the hex HMAC-SHA256 of the body (known vector)', () => {
    // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
    expect(signBody('key', 'The quick brown fox jumps over the lazy dog')).toBe(
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    )
  })

  it('is refused by the platform when the api key is not the casino’s', async () => {
    const err = await expectSwitchboardError(
      readAll(h.client(0, { apiKey: 'ss-key-2', apiSecret: 'ss-secret-1' }), 'players'),
      Reason.Unauthorized,
    )
    expect(err.message).not.toContain('ss-secret-1')
  })

  it('defaults the endpoint per environment and validates the settings', () => {
    expect(softswiss.defaultEndpoint(softswiss.settings.parse({ casinoId: 'x' }))).toMatch(/^https:\/\//)
    expect(softswiss.settings.safeParse({ casinoId: 'bad id/../' }).success).toBe(false)
    expect(softswiss.credentials.safeParse({ apiKey: 'k' }).success).toBe(false)
  })

  it('treats an unknown casino as a rejected request, not a credentials problem', async () => {
    const client = softswiss.create({
      endpoint: h.sb.casinoEndpoint('softswiss'),
      credentials: { apiKey: 'ss-key-1', apiSecret: 'ss-secret-1' },
      settings: softswiss.settings.parse({ casinoId: 'nope' }),
      logger: (await import('pino')).pino({ level: 'silent' }),
      metrics: new (await import('prom-client')).Registry(),
    })
    await expectSwitchboardError(client.healthCheck(), Reason.ProviderRejected)
  })
})
