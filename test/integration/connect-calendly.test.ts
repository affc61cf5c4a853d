/**
 * Connect links for a CalendarSync with a Calendly source whose Secret holds an OAuth
 * application (`clientId`, `clientSecret`) instead of a personal access token, end to end in the
 * default (sidecar) layout: the real webhook server (bin/switchboard.ts webhooks, no Kubernetes
 * credentials) serves the link and the callback, the controller answers over the bridge's Unix
 * socket, checks the link, exchanges the code (with the PKCE verifier) at the Calendly sandbox,
 * checks that the user belongs to the organization the spec names, and writes the tokens into
 * the Secret; the source is then read with the user's access token, refreshed through the shared
 * token lifecycle (Calendly's refresh tokens work once). The browser is `fetch` following
 * redirects.
 *
 * Adversarial: a used link and a replayed callback, a forged state, a code obtained through
 * another resource's link (refused by the PKCE check), a refused consent, a user of another
 * organization, a Secret without the opt-in label, a revoked grant: each a clear page with its
 * own status, and the Secret unchanged (same resourceVersion). Planted secrets never reach logs,
 * Events or status.
 */
import type { V1Secret } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultBudgets } from '../../connectors/index.ts'
import { REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { WRITABLE_LABEL } from '../../controller/runtime/index.ts'
import { type ConnectFixture, page, startConnectFixture } from './connect-helpers.ts'
import { annotate, condition, createResource, waitFor } from './helpers.ts'

const PLURAL = 'calendarsyncs'
const CLIENT_ID = 'connect-calendly-client'
const CLIENT_SECRET = 'PLANTED-calendly-client-secret-4f1c'
const SIGNING_KEY = 'PLANTED-calendly-signing-key-8e2d'
const HOUR = 3_600_000

describe('CalendarSync: a Calendly user connects from the link in its status', () => {
  let fx: ConnectFixture
  const planted: string[] = [CLIENT_SECRET, SIGNING_KEY]

  beforeAll(async () => {
    defaultBudgets.setLimits('calendly', { ratePerSecond: 500, burst: 500 })
    fx = await startConnectFixture({
      name: 'connect-calendly',
      resource: {
        plural: PLURAL,
        name: 'bookings',
        provider: 'calendly',
        authorizeUrl: (s) => `${s.url}/calendly/oauth/authorize`,
      },
      planted,
      prefixes: [
        'ccl-ok',
        'ccl-replay',
        'ccl-forged',
        'ccl-pkce-a',
        'ccl-pkce-b',
        'ccl-refused',
        'ccl-other',
        'ccl-label',
        'ccl-revoked',
      ],
      sandbox: {
        calendly: {
          oauthClients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
          // 2 s more than the controller's refresh margin (5 min): every reconcile after 2 s refreshes
          accessTokenTtlSeconds: 302,
        },
      },
      webhookArgs: ['--rate-limit', '0'],
    })
    const start = Math.ceil(Date.now() / HOUR) * HOUR + 24 * HOUR
    fx.sandbox.calendly.book({
      name: 'Studio session',
      startTime: new Date(start).toISOString(),
      endTime: new Date(start + HOUR).toISOString(),
    })
  })

  afterAll(() => fx?.close())

  const secret = (ns: string, name = 'calendly'): Promise<V1Secret> =>
    fx.c.core.readNamespacedSecret({ namespace: ns, name })
  const key = (s: V1Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8')

  /** A namespace with a Secret holding the OAuth application but no grant, and the CalendarSync. */
  async function setup(prefix: string, opts: { writable?: boolean; organization?: string } = {}) {
    const ns = fx.ns[prefix]
    if (!ns) throw new Error(`no namespace made for ${prefix}`)
    await fx.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: {
          name: 'calendly',
          namespace: ns,
          ...(opts.writable === false ? {} : { labels: { [WRITABLE_LABEL]: 'true' } }),
        },
        stringData: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, webhookSigningKey: SIGNING_KEY },
      },
    })
    await createResource(fx.c, 'CalendarSync', ns, 'bookings', {
      source: {
        calendly: {
          organization: opts.organization ?? fx.sandbox.calendly.organizationUri(),
          credentialsSecretRef: { name: 'calendly' },
        },
      },
      endpoints: { calendly: `${fx.sandbox.url}/calendly`, calendlyAuth: `${fx.sandbox.url}/calendly` },
      interval: '1h',
    })
    return ns
  }

  const ready = (ns: string) =>
    waitFor(
      `${ns}/bookings Ready`,
      async () => {
        const o = await fx.obj(ns)
        return condition(o, 'Ready')?.status === 'True' && !o.status?.connect ? o : undefined
      },
      { timeoutMs: 30_000 },
    )

  it('publishes a link naming the part; the consent makes it Ready with tokens in the Secret, refreshed and rotated', async () => {
    const ns = await setup('ccl-ok')
    const { url, expiresAt, obj: waiting } = await fx.linkOf(ns)
    expect(url).toMatch(new RegExp(`^${fx.url}/connect/calendly/${ns}/bookings/[A-Za-z0-9_-]{43}$`))
    const left = Date.parse(expiresAt) - Date.now()
    expect(left).toBeGreaterThan(14 * 60_000)
    expect(left).toBeLessThanOrEqual(15 * 60_000)
    expect(waiting.status?.connect).toMatchObject({ part: 'spec.source.calendly', secretName: 'calendly' })
    const o0 = await waitFor('Ready=False', async () => {
      const o = await fx.obj(ns)
      return condition(o, 'Ready')?.status === 'False' ? o : undefined
    })
    expect(condition(o0, 'SourceReady')?.reason).toBe('AuthorizationNeeded')
    expect(condition(o0, 'SourceReady')?.message).toContain('spec.source.calendly (Secret "calendly")')
    expect(condition(o0, 'Ready')?.reason).toBe('AuthorizationNeeded')
    expect(condition(o0, 'Ready')?.message).toContain('status.connect.url')

    // the consent page is asked for Calendly's scopes, with an S256 challenge
    const consent = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location') as string)
    expect(consent.searchParams.get('scope')).toBe('users:read scheduled_events:read')
    expect(consent.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(consent.searchParams.get('code_challenge_method')).toBe('S256')
    expect(consent.searchParams.get('client_id')).toBe(CLIENT_ID)

    const done = await page(url)
    expect(done.status).toBe(200)
    expect(done.text).toContain('data-outcome="connected"')
    expect(done.headers.get('cache-control')).toBe('no-store')

    const o = await ready(ns)
    expect(o.status?.source).toMatchObject({ kind: 'calendly', events: 1 })
    expect(condition(o, 'SourceReady')?.status).toBe('True')
    const s = await secret(ns)
    const refresh = key(s, 'refreshToken')
    const access = key(s, 'accessToken')
    expect(access.startsWith('cly-oauth-')).toBe(true)
    expect(fx.sandbox.calendly.userTokens.refreshTokenValid(refresh)).toBe(true)
    expect(Date.parse(key(s, 'accessTokenExpiresAt'))).toBeGreaterThan(Date.now())
    // the source was read with the user's token: the API saw it
    expect(
      fx.sandbox.calendly.requests.some((r) => r.path.includes('/scheduled_events') && r.status === 200),
    ).toBe(true)
    const code = new URL(done.url).searchParams.get('code') as string
    const link = url.split('/').at(-1) as string
    await fx.noSecretsAnywhere(ns, o, refresh, access, code, link)

    // the token lifecycle: the access token near its expiry is refreshed, the rotated pair written
    const refreshesBefore = fx.sandbox.calendly.userTokens.refreshes
    await new Promise((r) => setTimeout(r, 2_500))
    await annotate(fx.c, PLURAL, ns, 'bookings', { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
    const rotated = await waitFor('the rotated refresh token in the Secret', async () => {
      const x = await secret(ns)
      return key(x, 'refreshToken') !== refresh ? x : undefined
    })
    expect(fx.sandbox.calendly.userTokens.refreshes).toBeGreaterThan(refreshesBefore)
    // single use: the spent refresh token no longer works
    expect(fx.sandbox.calendly.userTokens.refreshTokenValid(refresh)).toBe(false)
    await waitFor('the Secret names the live refresh token', async () =>
      fx.sandbox.calendly.userTokens.refreshTokenValid(key(await secret(ns), 'refreshToken'))
        ? true
        : undefined,
    )
    const after = await ready(ns)
    await fx.noSecretsAnywhere(ns, after, key(rotated, 'refreshToken'), key(rotated, 'accessToken'))
  })

  it('a used link and a replayed callback are refused with a page each, and nothing is written', async () => {
    const ns = await setup('ccl-replay')
    const { url } = await fx.linkOf(ns)
    const callback = await fx.toCallback(url)
    // the same callback twice at once: one connects, the other finds the link used
    const both = await Promise.all([page(callback), page(callback)])
    expect(both.map((r) => r.status).sort()).toEqual([200, 410])
    await ready(ns)
    const before = await secret(ns)
    const again = await page(url)
    expect(again.status).toBe(410)
    expect(again.text).toContain('data-outcome="used"')
    const replay = await page(callback)
    expect(replay.status).toBe(410)
    expect(replay.text).toContain('data-outcome="used"')
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
  })

  it('a forged state is refused and does not spend the link; the genuine callback then connects', async () => {
    const ns = await setup('ccl-forged')
    const { url } = await fx.linkOf(ns)
    const callback = await fx.toCallback(url)
    const before = await secret(ns)
    const u = new URL(callback)
    const state = u.searchParams.get('state') as string
    const nonce = state.split('.').at(-1) as string
    const forgedNonce = `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`
    for (const forged of [
      state.replace(nonce, forgedNonce),
      `${ns}.bookings.${'A'.repeat(43)}`,
      `${ns}.other.${nonce}`,
      '',
    ]) {
      u.searchParams.set('state', forged)
      const res = await page(u.toString())
      expect(res.status, forged).toBe(400)
      expect(res.text).toContain('data-outcome="mismatch"')
    }
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect((await page(callback)).status).toBe(200)
    await ready(ns)
  })

  it("a code obtained through another resource's link is refused by the PKCE check, and nothing is written", async () => {
    const a = await setup('ccl-pkce-a')
    const b = await setup('ccl-pkce-b')
    const codeA = new URL(await fx.toCallback((await fx.linkOf(a)).url)).searchParams.get('code') as string
    const callbackB = new URL(await fx.toCallback((await fx.linkOf(b)).url))
    const before = await secret(b)
    const refusedBefore = fx.sandbox.calendly.codes.refused
    callbackB.searchParams.set('code', codeA)
    const res = await page(callbackB.toString())
    expect(res.status).toBe(502)
    expect(res.text).toContain('data-outcome="exchange_failed"')
    // the sandbox refused it: the verifier of B's link does not hash to A's challenge
    expect(fx.sandbox.calendly.codes.refused).toBe(refusedBefore + 1)
    expect((await secret(b)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect(key(await secret(b), 'refreshToken')).toBe('')
    expect(fx.logs.text()).not.toContain(codeA)
  })

  it('a refused consent shows what to do, writes nothing, and a new link is published', async () => {
    const ns = await setup('ccl-refused')
    const { url } = await fx.linkOf(ns)
    const before = await secret(ns)
    fx.sandbox.calendly.setConsent({ refuse: true })
    try {
      const refused = await page(url)
      expect(refused.status).toBe(403)
      expect(refused.text).toContain('data-outcome="refused"')
      expect(refused.text).toContain('allow access')
    } finally {
      fx.sandbox.calendly.setConsent({})
    }
    const next = await fx.linkOf(ns, url)
    expect(condition(next.obj, 'SourceReady')?.reason).toBe('AuthorizationNeeded')
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect((await page(url)).status).toBe(410)
    expect((await page(next.url)).status).toBe(200)
    await ready(ns)
  })

  it('a user of another organization than the spec names is refused and nothing is written', async () => {
    const ns = await setup('ccl-other')
    const { url } = await fx.linkOf(ns)
    const before = await secret(ns)
    fx.sandbox.calendly.setConsent({ organizationUuid: 'OTHER-ORGANIZATION' })
    try {
      const res = await page(url)
      expect(res.status).toBe(409)
      expect(res.text).toContain('data-outcome="wrong_account"')
      expect(res.text).toContain('another organization')
    } finally {
      fx.sandbox.calendly.setConsent({})
    }
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    await fx.linkOf(ns, url)
  })

  it('a Secret without the opt-in label gets no link and a condition naming the label', async () => {
    const ns = await setup('ccl-label', { writable: false })
    const o = await waitFor('SecretNotWritable', async () => {
      const x = await fx.obj(ns)
      return condition(x, 'SourceReady')?.reason === 'SecretNotWritable' ? x : undefined
    })
    expect(condition(o, 'SourceReady')?.message).toContain(`${WRITABLE_LABEL}=true`)
    expect(condition(o, 'SourceReady')?.message).toContain('spec.source.calendly')
    expect(condition(o, 'Ready')?.status).toBe('False')
    expect(o.status?.connect).toBeUndefined()
  })

  it('a revoked grant publishes a new link, and the consent brings the resource back to Ready', async () => {
    const ns = await setup('ccl-revoked')
    const first = await fx.linkOf(ns)
    expect((await page(first.url)).status).toBe(200)
    await ready(ns)
    const oldRefresh = key(await secret(ns), 'refreshToken')
    fx.sandbox.calendly.revokeGrants()
    await new Promise((r) => setTimeout(r, 2_500))
    await annotate(fx.c, PLURAL, ns, 'bookings', { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
    const again = await fx.linkOf(ns, first.url)
    expect(condition(again.obj, 'SourceReady')?.reason).toBe('AuthorizationNeeded')
    expect(condition(again.obj, 'SourceReady')?.message).toContain('revoked')
    expect((await page(again.url)).status).toBe(200)
    await ready(ns)
    expect(key(await secret(ns), 'refreshToken')).not.toBe(oldRefresh)
  })
})
