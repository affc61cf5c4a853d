import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { betsoftwareStringToSign } from '../../test/sandbox/casino/betsoftware.ts'
import {
  describeCasinoConformance,
  expectSwitchboardError,
  readAll,
} from '../../test/sandbox/casino/conformance.ts'
import { Reason } from '../errors.ts'
import { betsoftware } from './index.ts'
import { canonicalQuery, signRequest, stringToSign } from './mapping.ts'

const h = describeCasinoConformance({
  provider: 'betsoftware',
  connector: betsoftware,
  accounts: [
    {
      provider: 'betsoftware',
      credentials: { apiKey: 'bs-api-key', hashKey: 'bs-hash-key-1' },
      settings: { partnerId: 'P77', siteId: 'za-1' },
      size: { players: 38, transactions: 66, games: 45 },
    },
    {
      provider: 'betsoftware',
      credentials: { apiKey: 'bs-api-key', hashKey: 'bs-hash-key-2' },
      settings: { partnerId: 'P77', siteId: 'za-2' },
      size: { players: 5, transactions: 3, games: 2 },
    },
  ],
  wrongCredentials: { apiKey: 'bs-api-key', hashKey: 'not-the-hash-key' },
})

describe('betsoftware connector', () => {
  it('is refused with 401 signature_mismatch when the hash key is wrong', async () => {
    await expectSwitchboardError(
      readAll(h.client(0, { apiKey: 'bs-api-key', hashKey: 'wrong-hash' }), 'players'),
      Reason.Unauthorized,
    )
    const [refused] = h.sb.requests.list('betsoftware').filter((r) => r.status === 401)
    expect(refused).toBeDefined()
    expect(h.sb.casino.stats('betsoftware', h.casinoKey()).unauthorized).toBe(1)
  })

  it('signs the same string the platform verifies (tricky query values)', () => {
    const url = new URL('https://host.example/prefix/v1/partners/P77/sites/za-1/customers')
    url.searchParams.append('page_size', '10')
    url.searchParams.append('after_id', "a b*(c)!'~é/")
    url.searchParams.append('modified_since', '0')
    const ts = '1700000000'
    const wire = `${url.pathname}${url.search}`
    expect(stringToSign('get', url, '', ts)).toBe(betsoftwareStringToSign('GET', wire, '', ts))
    expect(canonicalQuery(url.searchParams)).toBe(
      'after_id=a%20b%2A%28c%29%21%27~%C3%A9%2F&modified_since=0&page_size=10',
    )
    const expected = createHmac('sha256', 'k')
      .update(['GET', url.pathname, canonicalQuery(url.searchParams), '', ts].join('\n'))
      .digest('hex')
    expect(signRequest('k', 'GET', url, '', ts)).toBe(expected)
  })

  it('signs every attempt afresh (a retried request is accepted)', async () => {
    h.sb.faults.inject({ provider: 'betsoftware', status: 503, times: 1 })
    const pages = await readAll(h.client(), 'games', { pageSize: 100 })
    expect(pages.flatMap((p) => p.records)).toHaveLength(
      h.sb.casino.dataset('betsoftware', h.casinoKey()).size('games'),
    )
    expect(h.sb.requests.list('betsoftware').map((r) => r.status)).toEqual([503, 200])
  })
})
