/**
 * Connect links for a CalendarSync whose Google parts have Secrets holding an OAuth client
 * (`clientId`, `clientSecret`) instead of a service account, end to end in the default (sidecar)
 * layout: the real webhook server serves the links and callbacks, the controller answers over the
 * bridge, exchanges the code (with the PKCE verifier) at the Google sandbox's token endpoint and
 * writes the refresh token into the part's Secret; the official SDK's OAuth2 client then refreshes
 * with it against the fx.sandbox. Three parts with Secrets of their own (the source, a target and
 * freeBusy) get one link at a time, in that order. The browser is `fetch` following redirects.
 *
 * Adversarial: a replayed callback, a forged state, a refused consent, a revoked grant: each a
 * clear page, and the Secret unchanged (same resourceVersion). Planted secrets never reach logs,
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
const HOUR = 3_600_000
const READONLY = 'https://www.googleapis.com/auth/calendar.readonly'
const EVENTS = 'https://www.googleapis.com/auth/calendar.events'

describe('CalendarSync: Google users connect its parts from the links in its status, one at a time', () => {
  let fx: ConnectFixture
  let client: { clientId: string; clientSecret: string }
  const planted: string[] = []

  beforeAll(async () => {
    defaultBudgets.setLimits('google-calendar', { ratePerSecond: 500, burst: 500 })
    fx = await startConnectFixture({
      name: 'connect-google',
      resource: {
        plural: PLURAL,
        name: 'team',
        provider: 'google',
        authorizeUrl: (s) => `${s.url}/o/oauth2/v2/auth`,
      },
      planted,
      prefixes: ['cgo-ok', 'cgo-adv', 'cgo-revoked'],
      webhookArgs: ['--rate-limit', '0'],
    })
    const grant = fx.sandbox.googleCalendar.auth.createOAuthClient()
    client = { clientId: grant.clientId, clientSecret: grant.clientSecret }
    planted.push(grant.clientSecret)
  })

  afterAll(() => fx?.close())

  const secret = (ns: string, name: string): Promise<V1Secret> =>
    fx.c.core.readNamespacedSecret({ namespace: ns, name })
  const key = (s: V1Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8')

  /** A namespace with two Secrets holding the OAuth client but no grant, two calendars, and the CalendarSync. */
  async function setup(prefix: string, opts: { target?: boolean; freeBusy?: boolean } = {}) {
    const ns = fx.ns[prefix]
    if (!ns) throw new Error(`no namespace made for ${prefix}`)
    for (const name of ['google-src', 'google-target', 'google-fb']) {
      await fx.c.core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name, namespace: ns, labels: { [WRITABLE_LABEL]: 'true' } },
          stringData: { clientId: client.clientId, clientSecret: client.clientSecret },
        },
      })
    }
    const src = `${ns}-src@group.calendar.google.com`
    const target = `${ns}-target@group.calendar.google.com`
    fx.sandbox.googleCalendar.addCalendar(src)
    fx.sandbox.googleCalendar.addCalendar(target)
    const start = Math.ceil(Date.now() / HOUR) * HOUR + 24 * HOUR
    fx.sandbox.googleCalendar.insertByHand(src, {
      summary: 'Team meeting',
      start: { dateTime: new Date(start).toISOString() },
      end: { dateTime: new Date(start + HOUR).toISOString() },
    })
    await createResource(fx.c, 'CalendarSync', ns, 'team', {
      source: { googleCalendar: { calendarId: src, credentialsSecretRef: { name: 'google-src' } } },
      targets:
        opts.target === false
          ? []
          : [{ calendarId: target, credentialsSecretRef: { name: 'google-target' } }],
      ...(opts.freeBusy
        ? { freeBusy: { calendars: [target], credentialsSecretRef: { name: 'google-fb' } } }
        : {}),
      endpoints: {
        googleCalendar: fx.sandbox.url,
        googleToken: `${fx.sandbox.url}/token`,
        googleAuth: fx.sandbox.url,
      },
      interval: '1h',
    })
    return { ns, src, target }
  }

  const ready = (ns: string) =>
    waitFor(
      `${ns}/team Ready`,
      async () => {
        const o = await fx.obj(ns)
        return condition(o, 'Ready')?.status === 'True' && !o.status?.connect ? o : undefined
      },
      { timeoutMs: 30_000 },
    )

  it('the source gets the first link, the target the next, freeBusy the last; the consents make it Ready with the copy in the target', async () => {
    const { ns, target } = await setup('cgo-ok', { freeBusy: true })
    const first = await fx.linkOf(ns)
    expect(first.url).toMatch(new RegExp(`^${fx.url}/connect/google/${ns}/team/[A-Za-z0-9_-]{43}$`))
    expect(first.obj.status?.connect).toMatchObject({
      part: 'spec.source.googleCalendar',
      secretName: 'google-src',
    })
    const waiting = await waitFor('SourceReady=AuthorizationNeeded', async () => {
      const o = await fx.obj(ns)
      return condition(o, 'SourceReady')?.reason === 'AuthorizationNeeded' ? o : undefined
    })
    expect(condition(waiting, 'SourceReady')?.message).toContain(
      'spec.source.googleCalendar (Secret "google-src")',
    )
    const consent = new URL(
      (await fetch(first.url, { redirect: 'manual' })).headers.get('location') as string,
    )
    expect(consent.searchParams.get('access_type')).toBe('offline')
    expect(consent.searchParams.get('prompt')).toBe('consent')
    expect(consent.searchParams.get('scope')).toBe(READONLY)
    expect(consent.searchParams.get('code_challenge_method')).toBe('S256')
    const done = await page(first.url)
    expect(done.status).toBe(200)
    expect(done.text).toContain('data-outcome="connected"')

    // the next part: the target, with its own Secret and the scope to write events
    const second = await fx.linkOf(ns, first.url)
    expect(second.obj.status?.connect).toMatchObject({ part: 'spec.targets[0]', secretName: 'google-target' })
    const targetWaiting = await waitFor('TargetsSynced=AuthorizationNeeded', async () => {
      const o = await fx.obj(ns)
      return condition(o, 'TargetsSynced')?.reason === 'AuthorizationNeeded' ? o : undefined
    })
    expect(condition(targetWaiting, 'SourceReady')?.status).toBe('True')
    const consent2 = new URL(
      (await fetch(second.url, { redirect: 'manual' })).headers.get('location') as string,
    )
    expect(consent2.searchParams.get('scope')).toBe(EVENTS)
    expect((await page(second.url)).status).toBe(200)

    // and freeBusy, with its own Secret, reading only
    const third = await fx.linkOf(ns, second.url)
    expect(third.obj.status?.connect).toMatchObject({ part: 'spec.freeBusy', secretName: 'google-fb' })
    const consent3 = new URL(
      (await fetch(third.url, { redirect: 'manual' })).headers.get('location') as string,
    )
    expect(consent3.searchParams.get('scope')).toBe(READONLY)
    expect((await page(third.url)).status).toBe(200)

    const o = await ready(ns)
    const src = await secret(ns, 'google-src')
    const tgt = await secret(ns, 'google-target')
    const fb = await secret(ns, 'google-fb')
    const refreshes = [key(src, 'refreshToken'), key(tgt, 'refreshToken'), key(fb, 'refreshToken')]
    for (const r of refreshes) expect(r).toMatch(/^1\/\/sb-/)
    expect(new Set(refreshes).size).toBe(3)
    expect(o.status?.freeBusy).toBeDefined()
    // the SDK's OAuth2 client refreshed with them at the sandbox, and the copy landed
    expect(fx.sandbox.googleCalendar.auth.issued.refreshToken).toBeGreaterThan(0)
    const copies = fx.sandbox.googleCalendar.events(target)
    expect(copies.map((e) => e.summary)).toEqual(['Team meeting'])
    await fx.noSecretsAnywhere(
      ns,
      o,
      ...refreshes,
      key(src, 'accessToken'),
      key(tgt, 'accessToken'),
      key(fb, 'accessToken'),
      first.url.split('/').at(-1) as string,
    )
  })

  it('a forged state, a refused consent and a late callback each get their page, and nothing is written', async () => {
    const { ns } = await setup('cgo-adv', { target: false })
    const { url } = await fx.linkOf(ns)
    const before = await secret(ns, 'google-src')
    const callback = await fx.toCallback(url)
    const u = new URL(callback)
    u.searchParams.set('state', `${ns}.team.${'A'.repeat(43)}`)
    const forged = await page(u.toString())
    expect(forged.status).toBe(400)
    expect(forged.text).toContain('data-outcome="mismatch"')
    expect((await secret(ns, 'google-src')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)

    // the forged answer spent nothing: the link still works; the user refuses this time
    fx.sandbox.googleCalendar.auth.setConsent({ refuse: true })
    try {
      const refused = await page(url)
      expect(refused.status).toBe(403)
      expect(refused.text).toContain('data-outcome="refused"')
      expect(refused.text).toContain('allow access')
    } finally {
      fx.sandbox.googleCalendar.auth.setConsent({})
    }
    // the consent given earlier comes back late: the link is spent
    const replay = await page(callback)
    expect(replay.status).toBe(410)
    expect(replay.text).toContain('data-outcome="used"')
    expect((await secret(ns, 'google-src')).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    const next = await fx.linkOf(ns, url)
    expect((await page(next.url)).status).toBe(200)
    await ready(ns)
  })

  it('a revoked grant publishes a new link naming the part, and the consent brings it back', async () => {
    const { ns } = await setup('cgo-revoked', { target: false })
    const first = await fx.linkOf(ns)
    expect((await page(first.url)).status).toBe(200)
    await ready(ns)
    const old = key(await secret(ns, 'google-src'), 'refreshToken')
    fx.sandbox.googleCalendar.auth.revokeRefreshToken(old)
    fx.sandbox.googleCalendar.auth.revokeAccessTokens()
    await annotate(fx.c, PLURAL, ns, 'team', { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
    const again = await fx.linkOf(ns, first.url)
    expect(again.obj.status?.connect).toMatchObject({ part: 'spec.source.googleCalendar' })
    expect(condition(again.obj, 'SourceReady')?.message).toContain('revoked')
    expect((await page(again.url)).status).toBe(200)
    await ready(ns)
    expect(key(await secret(ns, 'google-src'), 'refreshToken')).not.toBe(old)
  })
})
