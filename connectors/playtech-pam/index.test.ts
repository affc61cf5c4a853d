import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  describeCasinoConformance,
  expectSwitchboardError,
  readAll,
} from '../../test/sandbox/casino/conformance.ts'
import { Reason } from '../errors.ts'
import { playtechPam } from './index.ts'

const h = describeCasinoConformance({
  provider: 'playtech-pam',
  connector: playtechPam,
  accounts: [
    {
      provider: 'playtech-pam',
      credentials: { clientId: 'pt-client-1', clientSecret: 'pt-secret-1', licenseKey: 'lic-1' },
      settings: { region: 'eu' },
      size: { players: 39, transactions: 70, games: 44 },
    },
    {
      provider: 'playtech-pam',
      credentials: { clientId: 'pt-client-2', clientSecret: 'pt-secret-2', licenseKey: 'lic-2' },
      settings: { region: 'uk' },
      size: { players: 8, transactions: 6, games: 3 },
    },
  ],
  wrongCredentials: { clientId: 'pt-client-1', clientSecret: 'wrong-secret', licenseKey: 'lic-1' },
})

describe('playtech-pam connector', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('obtains one token and reuses it for every request', async () => {
    const client = h.client()
    await client.healthCheck()
    await readAll(client, 'players', { pageSize: 10 })
    await readAll(client, 'games', { pageSize: 10 })
    const tokenCalls = h.sb.requests.list('playtech-pam').filter((r) => r.path.endsWith('/oauth2/token'))
    expect(tokenCalls).toHaveLength(1)
    expect(h.sb.casino.stats('playtech-pam', h.casinoKey()).logins).toBe(1)
  })

  it('renews the token shortly before it expires, without a 401', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const client = h.client()
    await readAll(client, 'players', { pageSize: 100 })
    // the sandbox's tokens live an hour; at 59.5 minutes the client renews ahead of expiry
    vi.setSystemTime(Date.now() + 59.5 * 60_000)
    await readAll(client, 'players', { pageSize: 100 })
    const stats = h.sb.casino.stats('playtech-pam', h.casinoKey())
    expect(stats.logins).toBe(2)
    expect(stats.unauthorized).toBe(0)
  })

  it('renews the token once when the platform answers 401 for it', async () => {
    const client = h.client()
    await readAll(client, 'players', { pageSize: 100 })
    h.sb.casino.expireGrants('playtech-pam', h.casinoKey())
    const pages = await readAll(client, 'transactions', { pageSize: 100 })
    expect(pages.flatMap((p) => p.records)).toHaveLength(70)
    const stats = h.sb.casino.stats('playtech-pam', h.casinoKey())
    expect(stats.logins).toBe(2)
    expect(stats.unauthorized).toBe(1)
  })

  it('gives up after one renewal when the platform keeps answering 401', async () => {
    const client = h.client()
    await client.healthCheck()
    h.sb.faults.inject({ provider: 'playtech-pam', status: 401, times: 5, path: '/playtech-pam/pam/' })
    await expectSwitchboardError(readAll(client, 'players'), Reason.Unauthorized)
    const calls = h.sb.requests.list('playtech-pam').filter((r) => r.path.startsWith('/playtech-pam/pam/'))
    // health read, then the refused read and its one repeat with a new token
    expect(calls.map((r) => r.status)).toEqual([200, 401, 401])
    expect(h.sb.casino.stats('playtech-pam', h.casinoKey()).logins).toBe(2)
  })

  it('reports a wrong client secret from the token endpoint without the secret', async () => {
    const err = await expectSwitchboardError(
      h
        .client(0, { clientId: 'pt-client-1', clientSecret: 'bad-secret-value', licenseKey: 'lic-1' })
        .healthCheck(),
      Reason.Unauthorized,
    )
    expect(err.message).toContain('auth.token')
    expect(err.message).not.toContain('bad-secret-value')
  })

  it('defaults the endpoint per region', () => {
    expect(playtechPam.defaultEndpoint(playtechPam.settings.parse({}))).toContain('.eu.')
    expect(playtechPam.defaultEndpoint(playtechPam.settings.parse({ region: 'uk' }))).toContain('.uk.')
    expect(playtechPam.settings.safeParse({ region: 'mars' }).success).toBe(false)
  })
})
