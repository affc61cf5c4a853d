import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FaultInjector } from '../faults.ts'
import { RequestLog } from '../recording.ts'
import { PatreonSandbox, patreonPlugin } from './index.ts'

const CAMPAIGN = '4242'
let app: FastifyInstance
let sb: PatreonSandbox
let faults: FaultInjector
const get = (url: string, token: string) =>
  app.inject({
    method: 'GET',
    url: `/patreon/api/oauth2/v2${url}`,
    headers: { authorization: `Bearer ${token}` },
  })
const refresh = (refreshToken: string, secret = 'sandbox-client-secret') =>
  app.inject({
    method: 'POST',
    url: '/patreon/api/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'sandbox-client-id',
      client_secret: secret,
    }).toString(),
  })

beforeAll(async () => {
  app = Fastify()
  faults = new FaultInjector()
  sb = new PatreonSandbox({
    campaigns: [
      {
        id: CAMPAIGN,
        name: 'Night Owls',
        tiers: [
          { title: 'Listener', amountCents: 300 },
          { title: 'Regular', amountCents: 800 },
          { title: 'Backstage', amountCents: 2500 },
        ],
        members: 2345,
      },
      { id: '777', name: 'Someone else', members: 3 },
    ],
    rateLimit: { requests: 50, windowSeconds: 60 },
  })
  await app.register(patreonPlugin(sb, { faults, requests: new RequestLog() }))
  await app.ready()
})
afterAll(() => app.close())
beforeEach(() => {
  sb.reset()
  faults.reset()
})

describe('patreon sandbox', () => {
  it('rotates refresh tokens: each works once, a spent one is invalid_grant', async () => {
    const t = sb.issueTokens(CAMPAIGN)
    const first = await refresh(t.refreshToken)
    expect(first.statusCode).toBe(200)
    const body = first.json()
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 31 * 24 * 3600 })
    expect(body.refresh_token).not.toBe(t.refreshToken)
    const again = await refresh(t.refreshToken)
    expect(again.statusCode).toBe(400)
    expect(again.json()).toEqual({ error: 'invalid_grant' })
    expect((await refresh(body.refresh_token, 'wrong')).json()).toEqual({ error: 'invalid_client' })
    expect((await refresh(body.refresh_token)).statusCode).toBe(200)
    sb.revoke(CAMPAIGN)
    expect(sb.refreshTokenValid(body.refresh_token)).toBe(false)
  })

  it('answers 401 for unknown and expired access tokens', async () => {
    const t = sb.issueTokens(CAMPAIGN)
    expect((await get('/campaigns', 'nope')).statusCode).toBe(401)
    expect((await get('/campaigns', t.accessToken)).statusCode).toBe(200)
    sb.expireAccessTokens(CAMPAIGN)
    const res = await get('/campaigns', t.accessToken)
    expect(res.statusCode).toBe(401)
    expect(res.json().errors[0].code_name).toBe('Unauthorized')
  })

  it('returns only the attributes asked for, and refuses unknown fields', async () => {
    const t = sb.issueTokens(CAMPAIGN)
    const list = (await get('/campaigns?fields%5Bcampaign%5D=creation_name', t.accessToken)).json()
    expect(list.data).toEqual([
      { type: 'campaign', id: CAMPAIGN, attributes: { creation_name: 'Night Owls' } },
    ])
    const one = (
      await get(
        `/campaigns/${CAMPAIGN}?include=tiers&fields%5Btier%5D=title,amount_cents,patron_count`,
        t.accessToken,
      )
    ).json()
    expect(one.data.attributes).toEqual({})
    expect(one.included).toHaveLength(3)
    expect(one.included[0].attributes).toEqual({
      title: 'Listener',
      amount_cents: 300,
      patron_count: sb.tierPatronCount(CAMPAIGN, one.included[0].id),
    })
    expect((await get(`/campaigns/${CAMPAIGN}?fields%5Bcampaign%5D=bogus`, t.accessToken)).statusCode).toBe(
      400,
    )
    expect((await get('/campaigns/777', t.accessToken)).statusCode).toBe(403)
  })

  it('pages members with meta.pagination.cursors.next until it is absent', async () => {
    const t = sb.issueTokens(CAMPAIGN)
    const ids = new Set<string>()
    let cursor: string | undefined
    let pages = 0
    do {
      const q = `page%5Bcount%5D=1000&include=currently_entitled_tiers&fields%5Bmember%5D=patron_status,email${cursor ? `&page%5Bcursor%5D=${cursor}` : ''}`
      const res = await get(`/campaigns/${CAMPAIGN}/members?${q}`, t.accessToken)
      expect(res.statusCode).toBe(200)
      const body = res.json()
      for (const m of body.data) {
        ids.add(m.id)
        expect(Object.keys(m.attributes).sort()).toEqual(['email', 'patron_status'])
      }
      expect(body.meta.pagination.total).toBe(2345)
      cursor = body.meta.pagination.cursors.next ?? undefined
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    expect(ids.size).toBe(2345)
    expect((await get(`/campaigns/${CAMPAIGN}/members?page%5Bcount%5D=1001`, t.accessToken)).statusCode).toBe(
      400,
    )
    expect(
      (await get(`/campaigns/${CAMPAIGN}/members?page%5Bcursor%5D=junk`, t.accessToken)).statusCode,
    ).toBe(400)
  })

  it('leaves the email out without the email scope', async () => {
    const t = sb.issueTokens(CAMPAIGN, { scopes: ['campaigns', 'campaigns.members'] })
    const body = (
      await get(`/campaigns/${CAMPAIGN}/members?fields%5Bmember%5D=email,patron_status`, t.accessToken)
    ).json()
    expect(body.data[0].attributes.email).toBeUndefined()
    expect(body.data[0].attributes.patron_status).toBeDefined()
  })

  it('rate limits per token with retry_after_seconds in the body, and injected 429s look the same', async () => {
    const t = sb.issueTokens(CAMPAIGN)
    let throttled:
      | {
          statusCode: number
          json(): { errors: { retry_after_seconds: number }[] }
          headers: Record<string, unknown>
        }
      | undefined
    for (let i = 0; i < 60 && !throttled; i++) {
      const res = await get('/campaigns', t.accessToken)
      if (res.statusCode === 429) throttled = res
    }
    expect(throttled?.json().errors[0]?.retry_after_seconds).toBeGreaterThan(0)
    const fresh = sb.issueTokens(CAMPAIGN)
    faults.inject({ provider: 'patreon', status: 429, retryAfterSeconds: 7 })
    const res = await get('/campaigns', fresh.accessToken)
    expect(res.statusCode).toBe(429)
    expect(res.headers['retry-after']).toBeUndefined()
    expect(res.json().errors[0]).toMatchObject({ code_name: 'RequestThrottled', retry_after_seconds: 7 })
  })

  it('manages webhooks: create returns the secret, pause queues, resume redelivers, delete', async () => {
    const t = sb.issueTokens(CAMPAIGN)
    const created = await app.inject({
      method: 'POST',
      url: '/patreon/api/oauth2/v2/webhooks',
      headers: { authorization: `Bearer ${t.accessToken}`, 'content-type': 'application/json' },
      payload: {
        data: {
          type: 'webhook',
          attributes: { triggers: ['members:pledge:create'], uri: 'http://127.0.0.1:1/none' },
          relationships: { campaign: { data: { type: 'campaign', id: CAMPAIGN } } },
        },
      },
    })
    expect(created.statusCode).toBe(201)
    const w = created.json().data
    expect(w.attributes.secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(w.attributes.paused).toBe(false)
    // deliveries to a dead URL fail; after 3 the webhook is paused and later ones are queued
    const tier = sb.campaign(CAMPAIGN).tiers[0]?.id as string
    for (let i = 0; i < 4; i++) {
      sb.pledge(CAMPAIGN, tier)
      await sb.settle()
    }
    expect(sb.webhook(w.id)?.paused).toBe(true)
    expect(sb.deliveries).toHaveLength(3)
    const listed = (await get('/webhooks', t.accessToken)).json()
    expect(listed.data[0].attributes).toMatchObject({ paused: true, num_consecutive_times_failed: 3 })
    const resumed = await app.inject({
      method: 'PATCH',
      url: `/patreon/api/oauth2/v2/webhooks/${w.id}`,
      headers: { authorization: `Bearer ${t.accessToken}`, 'content-type': 'application/json' },
      payload: { data: { type: 'webhook', id: w.id, attributes: { paused: false } } },
    })
    expect(resumed.json().data.attributes.paused).toBe(false)
    await sb.settle()
    expect(sb.deliveries).toHaveLength(4)
    const del = await app.inject({
      method: 'DELETE',
      url: `/patreon/api/oauth2/v2/webhooks/${w.id}`,
      headers: { authorization: `Bearer ${t.accessToken}` },
    })
    expect(del.statusCode).toBe(204)
    expect(sb.webhooks()).toHaveLength(0)
  })
})

describe('patreon sandbox: the authorization-code flow', () => {
  const REDIRECT = 'https://hooks.example.com/connect/patreon/callback'
  const authorize = (q: Record<string, string>) =>
    app.inject({ method: 'GET', url: `/patreon/oauth2/authorize?${new URLSearchParams(q)}` })
  const exchange = (form: Record<string, string>) =>
    app.inject({
      method: 'POST',
      url: '/patreon/api/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'sandbox-client-id',
        client_secret: 'sandbox-client-secret',
        redirect_uri: REDIRECT,
        ...form,
      }).toString(),
    })
  const base = {
    response_type: 'code',
    client_id: 'sandbox-client-id',
    redirect_uri: REDIRECT,
    scope: 'identity campaigns',
    state: 's1',
  }
  const codeOf = (res: { headers: Record<string, unknown> }) =>
    new URL(String(res.headers.location)).searchParams.get('code') ?? ''

  it('grants at once with the state echoed; the code works once, for its redirect URI and client only', async () => {
    const res = await authorize(base)
    expect(res.statusCode).toBe(302)
    const back = new URL(String(res.headers.location))
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT)
    expect(back.searchParams.get('state')).toBe('s1')
    const code = codeOf(res)
    expect(code).toMatch(/^pat-code-/)
    expect((await exchange({ code, redirect_uri: 'https://elsewhere.example.com/cb' })).statusCode).toBe(400)
    // the refused attempt spent it, as a provider does with a code presented wrongly
    expect((await exchange({ code })).json()).toEqual({ error: 'invalid_grant' })
    const fresh = codeOf(await authorize(base))
    const ok = await exchange({ code: fresh })
    expect(ok.statusCode).toBe(200)
    const tokens = ok.json() as { access_token: string; refresh_token: string; scope: string }
    expect(tokens.scope).toBe('identity campaigns')
    expect((await get('/campaigns', tokens.access_token)).statusCode).toBe(200)
    expect((await exchange({ code: fresh })).json()).toEqual({ error: 'invalid_grant' })
    expect((await exchange({ code: codeOf(await authorize(base)), client_secret: 'wrong' })).statusCode).toBe(
      401,
    )
  })

  it('checks the PKCE verifier when the request carried an S256 challenge', async () => {
    const verifier = 'v'.repeat(50)
    const { createHash } = await import('node:crypto')
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    const withChallenge = { ...base, code_challenge: challenge, code_challenge_method: 'S256' }
    expect((await exchange({ code: codeOf(await authorize(withChallenge)) })).statusCode).toBe(400)
    expect(
      (await exchange({ code: codeOf(await authorize(withChallenge)), code_verifier: 'w'.repeat(50) }))
        .statusCode,
    ).toBe(400)
    expect(
      (await exchange({ code: codeOf(await authorize(withChallenge)), code_verifier: verifier })).statusCode,
    ).toBe(200)
    const plain = await authorize({ ...base, code_challenge: challenge, code_challenge_method: 'plain' })
    expect(new URL(String(plain.headers.location)).searchParams.get('error')).toBe('invalid_request')
  })

  it('refuses when told, and never redirects for an unknown client or a bad redirect URI', async () => {
    sb.setConsent({ refuse: true })
    const refused = new URL(String((await authorize(base)).headers.location))
    expect(refused.searchParams.get('error')).toBe('access_denied')
    expect(refused.searchParams.get('state')).toBe('s1')
    expect(refused.searchParams.get('code')).toBeNull()
    sb.setConsent({})
    expect((await authorize({ ...base, client_id: 'nobody' })).statusCode).toBe(400)
    expect((await authorize({ ...base, redirect_uri: 'javascript:alert(1)' })).statusCode).toBe(400)
    const control = await app.inject({
      method: 'POST',
      url: '/_sandbox/patreon/consent',
      payload: { campaignId: '777' },
    })
    expect(control.statusCode).toBe(204)
    const code = codeOf(await authorize(base))
    const t = (await exchange({ code })).json() as { access_token: string }
    const owned = (await get('/campaigns', t.access_token)).json() as { data: Array<{ id: string }> }
    expect(owned.data.map((c) => c.id)).toEqual(['777'])
    expect(
      (await app.inject({ method: 'POST', url: '/_sandbox/patreon/consent', payload: { refuse: 'yes' } }))
        .statusCode,
    ).toBe(400)
  })
})
