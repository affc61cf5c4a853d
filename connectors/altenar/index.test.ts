import { describe, expect, it } from 'vitest'
import { settingsOf } from '../../controller/api/index.ts'
import {
  describeCasinoConformance,
  expectSwitchboardError,
  readAll,
} from '../../test/sandbox/casino/conformance.ts'
import { Reason } from '../errors.ts'
import { altenar } from './index.ts'

const h = describeCasinoConformance({
  provider: 'altenar',
  connector: altenar,
  accounts: [
    {
      provider: 'altenar',
      credentials: { username: 'alt-user', password: 'alt-password-1' },
      settings: { operatorId: '301', brandId: '7' },
      size: { players: 44, transactions: 61, games: 47 },
    },
    {
      provider: 'altenar',
      credentials: { username: 'alt-user', password: 'alt-password-2' },
      settings: { operatorId: '301', brandId: '8' },
      size: { players: 6, transactions: 5, games: 4 },
    },
  ],
  wrongCredentials: { username: 'alt-user', password: 'wrong-password' },
})

describe('altenar connector', () => {
  it('logs in once and reuses the session for every request', async () => {
    const client = h.client()
    await client.healthCheck()
    await readAll(client, 'players', { pageSize: 10 })
    await readAll(client, 'transactions', { pageSize: 10 })
    const stats = h.sb.casino.stats('altenar', h.casinoKey())
    expect(stats.logins).toBe(1)
    expect(stats.unauthorized).toBe(0)
    expect(stats.requests).toBeGreaterThan(10)
  })

  it('logs in again when the session expired, once, and carries on', async () => {
    const client = h.client()
    const pages = client.read('games', { pageSize: 10 })
    const first = await pages.next()
    expect(first.done).toBe(false)
    expect(h.sb.casino.expireGrants('altenar', h.casinoKey())).toBe(1)
    let rest = 0
    for await (const page of pages) rest += page.records.length
    expect(rest + 10).toBe(h.sb.casino.dataset('altenar', h.casinoKey()).size('games'))
    const stats = h.sb.casino.stats('altenar', h.casinoKey())
    expect(stats.logins).toBe(2)
    expect(stats.unauthorized).toBe(1)
  })

  it('reports a refused login as Unauthorized without the password', async () => {
    const err = await expectSwitchboardError(
      readAll(h.client(0, { username: 'alt-user', password: 'nope-password' }), 'players'),
      Reason.Unauthorized,
    )
    expect(err.message).not.toContain('nope-password')
    expect(err.message).toContain('auth.login')
  })

  it('validates the settings with the schema the CRD is generated from', () => {
    expect(altenar.settings).toBe(settingsOf('altenar').schema)
    expect(altenar.settings.parse({ operatorId: '301', brandId: '7' })).toEqual({
      operatorId: '301',
      brandId: '7',
    })
    // the API server stores strings only, and refuses what the connector refuses
    expect(altenar.settings.safeParse({ operatorId: 301, brandId: 7 }).success).toBe(false)
    expect(altenar.settings.safeParse({ operatorId: 'op:1', brandId: '7' }).success).toBe(false)
    expect(altenar.settings.safeParse({ operatorId: '301' }).success).toBe(false)
  })
})
