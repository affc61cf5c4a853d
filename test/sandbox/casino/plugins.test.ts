import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSandbox, type CasinoAccountSpec, type Sandbox } from '../index.ts'
import { betsoftwareStringToSign } from './betsoftware.ts'

const accounts: CasinoAccountSpec[] = [
  {
    provider: 'softswiss',
    credentials: { apiKey: 'k1', apiSecret: 's1' },
    settings: { casinoId: 'c1' },
    size: { players: 12, transactions: 3, games: 2 },
  },
  {
    provider: 'softswiss',
    credentials: { apiKey: 'k2', apiSecret: 's2' },
    settings: { casinoId: 'c2' },
    size: { players: 4 },
  },
  {
    provider: 'altenar',
    credentials: { username: 'u', password: 'pw' },
    settings: { operatorId: '1', brandId: '2' },
  },
  {
    provider: 'betsoftware',
    credentials: { apiKey: 'bk', hashKey: 'hk' },
    settings: { partnerId: 'P1', siteId: 'S1' },
  },
  {
    provider: 'playtech-pam',
    credentials: { clientId: 'ci', clientSecret: 'cs', licenseKey: 'lk' },
  },
]

describe('casino sandbox plugins', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await buildSandbox({ casino: { accounts, maxPageSize: 50 } })
  })
  afterAll(() => sb.close())
  beforeEach(() => sb.reset())

  const softswiss = (casinoId: string, body: unknown, secret: string, apiKey = 'k1') => {
    const payload = JSON.stringify(body)
    return sb.app.inject({
      method: 'POST',
      url: `/softswiss/api/v1/casinos/${casinoId}/players/list`,
      headers: {
        'content-type': 'application/json',
        'x-api-key': apiKey,
        'x-request-sign': createHmac('sha256', secret).update(payload).digest('hex'),
      },
      payload,
    })
  }

  it('softswiss: serves pages by (updated_since, after_id, limit) to a correctly signed request', async () => {
    const first = await softswiss('c1', { limit: 5 }, 's1')
    expect(first.statusCode).toBe(200)
    const body = first.json()
    expect(body.meta.has_more).toBe(true)
    expect(body.data.map((p: { id: number }) => p.id)).toEqual([100000, 100001, 100002, 100003, 100004])
    const last = body.data[4]
    const next = await softswiss(
      'c1',
      { updated_since: last.updated_at, after_id: String(last.id), limit: 50 },
      's1',
    )
    expect(next.json().data).toHaveLength(7)
    expect(next.json().meta.has_more).toBe(false)
    expect(sb.casino.stats('softswiss', 'c1')).toMatchObject({ requests: 2, served: { players: 12 } })
  })

  it('softswiss: 401 JSON for a bad signature or api key; 404 for an unknown casino; 400 for a bad limit', async () => {
    const bad = await softswiss('c1', { limit: 5 }, 'wrong')
    expect(bad.statusCode).toBe(401)
    expect(bad.json()).toEqual({ error: { code: 'unauthorized', message: 'invalid request signature' } })
    expect((await softswiss('c1', { limit: 5 }, 's1', 'k2')).statusCode).toBe(401)
    expect((await softswiss('c9', { limit: 5 }, 's1')).statusCode).toBe(404)
    expect((await softswiss('c1', { limit: 51 }, 's1')).statusCode).toBe(400)
    expect(sb.casino.stats('softswiss', 'c1').unauthorized).toBe(2)
  })

  it('keeps casinos apart: each casino key sees its own dataset', async () => {
    const a = (await softswiss('c1', { limit: 50 }, 's1')).json().data
    const b = (await softswiss('c2', { limit: 50 }, 's2', 'k2')).json().data
    expect(a).toHaveLength(12)
    expect(b).toHaveLength(4)
    expect(b[0].email).not.toBe(a[0].email)
    expect(sb.casino.stats('softswiss', 'c2').served.players).toBe(4)
  })

  it('applies injected faults to the casino providers, malformed bodies included', async () => {
    sb.faults.inject({ provider: 'softswiss', status: 200, body: '{not json' })
    const res = await softswiss('c1', { limit: 5 }, 's1')
    expect(res.statusCode).toBe(200)
    expect(res.body).toBe('{not json')
    sb.faults.inject({ provider: 'softswiss', status: 429, retryAfterSeconds: 7 })
    const limited = await softswiss('c1', { limit: 5 }, 's1')
    expect(limited.statusCode).toBe(429)
    expect(limited.headers['retry-after']).toBe('7')
    expect(sb.requests.list('softswiss').map((r) => [r.status, r.fault])).toEqual([
      [200, true],
      [429, true],
    ])
  })

  it('altenar: login gives a session; expired or foreign sessions get 401', async () => {
    const login = await sb.app.inject({
      method: 'POST',
      url: '/altenar/api/v2/auth/login',
      payload: { username: 'u', password: 'pw', operatorId: '1', brandId: '2' },
    })
    expect(login.statusCode).toBe(200)
    const { sessionToken, expiresIn } = login.json()
    expect(expiresIn).toBe(1800)
    const get = (token: string) =>
      sb.app.inject({
        method: 'GET',
        url: '/altenar/api/v2/operators/1/brands/2/players?pageSize=3',
        headers: { 'x-session-token': token },
      })
    const ok = await get(sessionToken)
    expect(ok.statusCode).toBe(200)
    expect(ok.json().items).toHaveLength(3)
    expect(ok.json().items[0].lastModified).toMatch(/\+00:00$/)
    expect(sb.casino.expireGrants('altenar')).toBe(1)
    const expired = await get(sessionToken)
    expect(expired.statusCode).toBe(401)
    expect(expired.json().error.code).toBe('SESSION_EXPIRED')
    const wrong = await sb.app.inject({
      method: 'POST',
      url: '/altenar/api/v2/auth/login',
      payload: { username: 'u', password: 'nope', operatorId: '1', brandId: '2' },
    })
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS')
    expect(sb.casino.stats('altenar', '1:2')).toMatchObject({ logins: 1, unauthorized: 2 })
  })

  it('betsoftware: verifies the signature over method, path, sorted query, body and timestamp', async () => {
    const ts = String(Math.floor(Date.now() / 1000))
    const url = '/betsoftware/v1/partners/P1/sites/S1/customers?page_size=2&modified_since=0'
    const sign = (key: string, t = ts) =>
      createHmac('sha256', key)
        .update(betsoftwareStringToSign('GET', url, '', t))
        .digest('hex')
    const call = (headers: Record<string, string>) => sb.app.inject({ method: 'GET', url, headers })
    const base = { 'x-partner-id': 'P1', 'x-api-key': 'bk', 'x-timestamp': ts }
    const ok = await call({ ...base, 'x-signature': sign('hk') })
    expect(ok.statusCode).toBe(200)
    expect(ok.json().results).toHaveLength(2)
    expect(typeof ok.json().results[0].modified_ts).toBe('number')
    expect(betsoftwareStringToSign('GET', url, '', ts)).toBe(
      `GET\n/betsoftware/v1/partners/P1/sites/S1/customers\nmodified_since=0&page_size=2\n\n${ts}`,
    )
    const mismatch = await call({ ...base, 'x-signature': sign('other') })
    expect(mismatch.statusCode).toBe(401)
    expect(mismatch.json().error).toBe('signature_mismatch')
    const old = String(Number(ts) - 3600)
    const stale = await call({ ...base, 'x-timestamp': old, 'x-signature': sign('hk', old) })
    expect(stale.json().error).toBe('stale_timestamp')
  })

  it('playtech-pam: client credentials token, then bearer calls with the license key', async () => {
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
    const token = (auth: string) =>
      sb.app.inject({
        method: 'POST',
        url: '/playtech-pam/oauth2/token',
        headers: {
          authorization: auth,
          'content-type': 'application/x-www-form-urlencoded',
          'x-license-key': 'lk',
        },
        payload: 'grant_type=client_credentials&scope=pam.read',
      })
    const denied = await token(basic('ci', 'wrong'))
    expect(denied.statusCode).toBe(401)
    expect(denied.json().error).toBe('invalid_client')
    const granted = await token(basic('ci', 'cs'))
    expect(granted.json()).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    const call = (headers: Record<string, string>) =>
      sb.app.inject({ method: 'GET', url: '/playtech-pam/pam/v1/wallet-transactions?limit=2', headers })
    const ok = await call({ authorization: `Bearer ${granted.json().access_token}`, 'x-license-key': 'lk' })
    expect(ok.statusCode).toBe(200)
    expect(ok.json().data[0].amount.value).toMatch(/^\d+(\.\d+)?$/)
    expect(ok.json().paging.hasMore).toBe(true)
    expect(
      (await call({ authorization: `Bearer ${granted.json().access_token}`, 'x-license-key': 'x' }))
        .statusCode,
    ).toBe(403)
    expect((await call({ authorization: 'Bearer nope', 'x-license-key': 'lk' })).statusCode).toBe(401)
  })

  it('exposes accounts, append and expiry under /_sandbox/casino', async () => {
    const list = await sb.app.inject({ method: 'GET', url: '/_sandbox/casino/accounts' })
    expect(list.json().accounts).toHaveLength(5)
    const appended = await sb.app.inject({
      method: 'POST',
      url: '/_sandbox/casino/append',
      payload: { provider: 'softswiss', casinoKey: 'c1', stream: 'players', count: 8 },
    })
    expect(appended.json()).toEqual({ size: 20 })
    const one = await sb.app.inject({ method: 'GET', url: '/_sandbox/casino/softswiss/c1' })
    expect(one.json().sizes.players).toBe(20)
    expect((await sb.app.inject({ method: 'GET', url: '/_sandbox/casino/softswiss/nope' })).statusCode).toBe(
      404,
    )
    const added = await sb.app.inject({
      method: 'POST',
      url: '/_sandbox/casino/accounts',
      payload: {
        provider: 'altenar',
        credentials: { username: 'x', password: 'y' },
        settings: { operatorId: '9', brandId: '9' },
      },
    })
    expect(added.statusCode).toBe(201)
    expect(added.json()).toEqual({ provider: 'altenar', casinoKey: '9:9' })
    const invalid = await sb.app.inject({
      method: 'POST',
      url: '/_sandbox/casino/accounts',
      payload: {
        provider: 'altenar',
        credentials: { username: 'x' },
        settings: { operatorId: '9', brandId: '9' },
      },
    })
    expect(invalid.statusCode).toBe(400)
    expect(
      (
        await sb.app.inject({
          method: 'POST',
          url: '/_sandbox/casino/expire',
          payload: { provider: 'altenar' },
        })
      ).json(),
    ).toEqual({ expired: 0 })
    sb.reset()
    expect(sb.casino.dataset('softswiss', 'c1').size('players')).toBe(12)
  })
})
