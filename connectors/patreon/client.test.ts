import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildSandbox, type Sandbox } from '../../test/sandbox/index.ts'
import { Reason, SwitchboardError } from '../errors.ts'
import { BudgetRegistry } from '../http/index.ts'
import { refreshGrant } from '../oauth/index.ts'
import { createPatreonClient, MEMBER_FIELDS, type PatreonClientOptions } from './client.ts'
import { memberRecord, memberTraits, removedTraits, traitsDigest } from './mapping.ts'

const CAMPAIGN = '5150'
let sb: Sandbox

beforeAll(async () => {
  sb = await buildSandbox({
    patreon: {
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
      ],
    },
  })
  await sb.listen()
})
afterAll(() => sb.close())
beforeEach(() => sb.reset())

function client(token: () => string, extra: Partial<PatreonClientOptions> = {}) {
  return createPatreonClient({
    endpoint: sb.patreonEndpoint,
    accessToken: async () => token(),
    account: 'test',
    budgets: new BudgetRegistry(),
    retry: { backoffBaseMs: 5, jitter: false },
    ...extra,
  })
}

async function caught(p: Promise<unknown>): Promise<SwitchboardError> {
  try {
    await p
  } catch (err) {
    if (err instanceof SwitchboardError) return err
    throw err
  }
  throw new Error('expected a rejection')
}

describe('Patreon client against the sandbox', () => {
  it('reads the campaign with its tiers in order, and every member across cursor pages', async () => {
    const t = sb.patreon.issueTokens(CAMPAIGN)
    const c = client(() => t.accessToken)
    expect(await c.campaigns()).toEqual([
      expect.objectContaining({
        id: CAMPAIGN,
        name: 'Night Owls',
        patronCount: sb.patreon.counts(CAMPAIGN).active_patron,
      }),
    ])
    const { tiers } = await c.campaign(CAMPAIGN)
    expect(tiers.map((x) => [x.title, x.amountCents])).toEqual([
      ['Listener', 300],
      ['Regular', 800],
      ['Backstage', 2500],
    ])
    const ids = new Set<string>()
    const statuses: Record<string, number> = {}
    let pages = 0
    for await (const page of c.members(CAMPAIGN, { fields: MEMBER_FIELDS, pageSize: 1000 })) {
      pages++
      expect(page.total).toBe(2345)
      for (const m of page.members) {
        ids.add(m.id)
        statuses[m.patronStatus ?? 'none'] = (statuses[m.patronStatus ?? 'none'] ?? 0) + 1
        for (const tier of m.tierIds) expect(page.tiers.get(tier)?.title).toBeDefined()
      }
    }
    expect(pages).toBe(3)
    expect(ids.size).toBe(2345)
    expect(statuses).toEqual(
      Object.fromEntries(Object.entries(sb.patreon.counts(CAMPAIGN)).filter(([, n]) => n > 0)),
    )
    const members = sb.requests.list().filter((r) => r.path.endsWith('/members'))
    expect(members).toHaveLength(3)
  })

  it("waits the body's retry_after_seconds on a 429 and goes on", async () => {
    const t = sb.patreon.issueTokens(CAMPAIGN)
    sb.faults.inject({
      provider: 'patreon',
      status: 429,
      retryAfterSeconds: 1,
      path: '/patreon/api/oauth2/v2/campaigns',
    })
    const started = Date.now()
    expect(await client(() => t.accessToken).campaigns()).toHaveLength(1)
    const log = sb.requests.list().filter((r) => r.provider === 'patreon')
    expect(log.map((r) => r.status)).toEqual([429, 200])
    expect((log[1]?.at ?? 0) - (log[0]?.at ?? 0)).toBeGreaterThanOrEqual(990)
    expect(Date.now() - started).toBeGreaterThanOrEqual(990)
  })

  it('a wait longer than the policy allows ends the call as RateLimited with the wait', async () => {
    const t = sb.patreon.issueTokens(CAMPAIGN)
    sb.faults.inject({ provider: 'patreon', status: 429, retryAfterSeconds: 120 })
    const err = await caught(client(() => t.accessToken).campaigns())
    expect(err.reason).toBe(Reason.RateLimited)
    expect(err.retryAfterMs).toBe(120_000)
  })

  it('a 401 hands the failed token to onUnauthorized and repeats the call once with a new one', async () => {
    const old = sb.patreon.issueTokens(CAMPAIGN)
    const fresh = sb.patreon.issueTokens(CAMPAIGN)
    sb.patreon.expireAccessTokens(CAMPAIGN)
    const again = sb.patreon.issueTokens(CAMPAIGN)
    void fresh
    let current = old.accessToken
    const dropped: string[] = []
    const c = client(() => current, {
      onUnauthorized: (token) => {
        dropped.push(token)
        current = again.accessToken
      },
    })
    expect(await c.campaigns()).toHaveLength(1)
    expect(dropped).toEqual([old.accessToken])
    // a token that stays refused is Unauthorized, and its value is in no message
    current = 'pat-at-bogus-token-value'
    const err = await caught(client(() => current, { secrets: () => [current] }).campaigns())
    expect(err.reason).toBe(Reason.Unauthorized)
    expect(err.message).not.toContain('bogus-token-value')
  })

  it('creates, lists, resumes and deletes webhooks', async () => {
    const t = sb.patreon.issueTokens(CAMPAIGN)
    const c = client(() => t.accessToken)
    const w = await c.createWebhook({
      campaignId: CAMPAIGN,
      uri: 'https://hooks.example.com/hooks/patreon/x',
      triggers: ['members:pledge:create', 'members:update'],
    })
    expect(w.secret).toBe(sb.patreon.webhook(w.id)?.secret)
    sb.patreon.pauseWebhook(w.id)
    expect((await c.webhooks()).map((x) => [x.id, x.paused, x.secret])).toEqual([[w.id, true, undefined]])
    expect((await c.updateWebhook(w.id, { paused: false })).paused).toBe(false)
    await c.deleteWebhook(w.id)
    expect(await c.webhooks()).toEqual([])
    expect((await caught(c.deleteWebhook(w.id))).reason).toBe(Reason.ProviderRejected)
  })
})

describe('refresh grant against the sandbox token endpoint', () => {
  const tokenUrl = () => `${sb.patreonEndpoint}/api/oauth2/token`
  const grant = (refreshToken: string, clientSecret = 'sandbox-client-secret') =>
    refreshGrant({
      provider: 'patreon',
      tokenUrl: tokenUrl(),
      clientId: 'sandbox-client-id',
      clientSecret,
      refreshToken,
    })

  it('returns the rotated pair with its expiry; the old refresh token is then TokenRevoked', async () => {
    const t = sb.patreon.issueTokens(CAMPAIGN)
    const before = Date.now()
    const next = await grant(t.refreshToken)
    expect(next.rotated).toBe(true)
    expect(next.refreshToken).not.toBe(t.refreshToken)
    expect(sb.patreon.accessTokenValid(next.accessToken)).toBe(true)
    expect(next.expiresAt).toBeGreaterThanOrEqual(before + 31 * 24 * 3600 * 1000)
    const err = await caught(grant(t.refreshToken))
    expect(err.reason).toBe(Reason.TokenRevoked)
    expect(err.kind).toBe('stalling')
    expect(err.message).not.toContain(t.refreshToken)
  })

  it('a wrong client secret is InvalidCredentials and is not retried', async () => {
    const t = sb.patreon.issueTokens(CAMPAIGN)
    const err = await caught(grant(t.refreshToken, 'not-the-secret'))
    expect(err.reason).toBe(Reason.InvalidCredentials)
    expect(err.message).not.toContain('not-the-secret')
    expect(sb.requests.list().filter((r) => r.path.endsWith('/token'))).toHaveLength(1)
    // the refresh token was not spent by the refused request
    expect(sb.patreon.refreshTokenValid(t.refreshToken)).toBe(true)
  })
})

describe('member records', () => {
  const tiers = new Map([['1', { id: '1', title: 'Listener', amountCents: 300 }]])
  const member = {
    id: '0b1d9ad2-1111-4222-a333-444455556666',
    userId: '77',
    patronStatus: 'active_patron' as const,
    tierIds: ['1'],
    email: 'fan@example.test',
    fullName: 'A Fan',
    currentlyEntitledAmountCents: 300,
    lifetimeSupportCents: 1200,
    lastChargeStatus: 'Paid',
    lastChargeDate: '2025-03-01T00:00:00.000+00:00',
  }

  it('an unchanged member keeps its message id; a change makes a new one', () => {
    const fields = [
      'email',
      'currently_entitled_amount_cents',
      'lifetime_support_cents',
      'last_charge_status',
    ] as const
    const a = memberTraits('9', member, tiers, fields)
    const b = memberTraits('9', { ...member }, tiers, fields)
    expect(traitsDigest(a)).toBe(traitsDigest(b))
    const r = memberRecord(a, traitsDigest(a), new Date(0))
    expect(r).toMatchObject({
      type: 'identify',
      userId: 'patreon-user-77',
      key: member.id,
      stream: 'members',
    })
    expect(r.messageId.length).toBeLessThan(100)
    expect(r.properties).toMatchObject({
      patronStatus: 'active_patron',
      entitledTiers: ['Listener'],
      email: 'fan@example.test',
    })
    expect(r.properties.name).toBeUndefined() // full_name not asked for
    const declined = memberTraits('9', { ...member, patronStatus: 'declined_patron' }, tiers, fields)
    expect(traitsDigest(declined)).not.toBe(traitsDigest(a))
    const gone = removedTraits(a)
    expect(gone).toMatchObject({
      patronStatus: 'former_patron',
      entitledTiers: [],
      currentlyEntitledAmountCents: 0,
      removed: true,
    })
  })
})

describe('Patreon wire format', () => {
  it('reads retry_after_seconds from a 429 body, as a number or a numeric string', async () => {
    const { patreonRetryAfter } = await import('./client.ts')
    expect(patreonRetryAfter({ errors: [{ code_name: 'RequestThrottled', retry_after_seconds: 3 }] })).toBe(
      3000,
    )
    expect(patreonRetryAfter({ errors: [{ retry_after_seconds: '1.5' }] })).toBe(1500)
    expect(patreonRetryAfter({ errors: [{ retry_after_seconds: -1 }] })).toBeUndefined()
    expect(patreonRetryAfter({ errors: 'nope' })).toBeUndefined()
    expect(patreonRetryAfter('text')).toBeUndefined()
  })

  it('keeps only the attributes that came; an unknown patron_status is none', async () => {
    const { toMember } = await import('./client.ts')
    const m = toMember({
      type: 'member',
      id: 'm1',
      attributes: { patron_status: 'something_new', lifetime_support_cents: 500 },
      relationships: { currently_entitled_tiers: { data: [] }, user: { data: { type: 'user', id: 'u1' } } },
    })
    expect(m).toEqual({ id: 'm1', userId: 'u1', patronStatus: null, tierIds: [], lifetimeSupportCents: 500 })
  })
})
