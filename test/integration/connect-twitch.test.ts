/**
 * Connect links for TwitchIntegration (the broadcaster's user token for channel.subscribe), end
 * to end in the default (sidecar) layout: the real webhook server (bin/switchboard.ts webhooks,
 * no Kubernetes credentials) serves the link and the callback, the controller answers over the
 * bridge's Unix socket, checks the link, exchanges the code at the Twitch sandbox, checks at
 * /oauth2/validate that the broadcaster is a channel of the spec, and writes the tokens into the
 * resource's Secret. The browser is `fetch` following redirects.
 *
 * Adversarial: a used link and a replayed callback, a forged state, a refused consent, a code of
 * a broadcaster the resource does not name, a revoked grant: each a clear page with its own
 * status, and the Secret unchanged (same resourceVersion). Planted secrets never reach logs,
 * Events or status.
 */
import type { V1Secret } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultBudgets } from '../../connectors/index.ts'
import { REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { WRITABLE_LABEL } from '../../controller/runtime/index.ts'
import { type ConnectFixture, page, startConnectFixture } from './connect-helpers.ts'
import { annotate, condition, createResource, waitFor } from './helpers.ts'

const PLURAL = 'twitchintegrations'
const CLIENT_ID = 'connect-twitch-client'
const CLIENT_SECRET = 'PLANTED-twitch-client-secret-9d2e'
const EVENTSUB_SECRET = 'PLANTED-eventsub-secret-7a1b'
const CASTERS = [
  'caster_ok',
  'caster_replay',
  'caster_refused',
  'caster_forged',
  'caster_other',
  'caster_revoked',
]

describe('TwitchIntegration: the broadcaster connects from the link in its status', () => {
  let fx: ConnectFixture
  const planted: string[] = [CLIENT_SECRET, EVENTSUB_SECRET]

  beforeAll(async () => {
    defaultBudgets.setLimits('twitch', { ratePerSecond: 500, burst: 500 })
    fx = await startConnectFixture({
      name: 'connect-twitch',
      resource: {
        plural: PLURAL,
        name: 'tw',
        provider: 'twitch',
        authorizeUrl: (s) => `${s.twitchEndpoint}/oauth2/authorize`,
      },
      planted,
      prefixes: [
        'ctw-ok',
        'ctw-replay',
        'ctw-refused',
        'ctw-forged',
        'ctw-other',
        'ctw-label',
        'ctw-revoked',
      ],
      sandbox: {
        twitch: {
          clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
          users: [...CASTERS.map((login) => ({ login })), { login: 'someone_else' }],
          // 2 s more than the controller's refresh margin (5 min): every reconcile after 2 s refreshes
          tokenTtlSeconds: 302,
        },
      },
      webhookArgs: ['--rate-limit', '0'],
    })
  })

  afterAll(() => fx?.close())

  const secret = (ns: string): Promise<V1Secret> =>
    fx.c.core.readNamespacedSecret({ namespace: ns, name: 'twitch' })
  const key = (s: V1Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8')

  /** A namespace with a writable Secret holding the app's credentials but no user grant, and the resource. */
  async function setup(prefix: string, caster: string, opts: { writable?: boolean } = {}) {
    const ns = fx.ns[prefix]
    if (!ns) throw new Error(`no namespace made for ${prefix}`)
    await fx.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: {
          name: 'twitch',
          namespace: ns,
          ...(opts.writable === false ? {} : { labels: { [WRITABLE_LABEL]: 'true' } }),
        },
        stringData: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, eventsubSecret: EVENTSUB_SECRET },
      },
    })
    await createResource(fx.c, 'TwitchIntegration', ns, 'tw', {
      credentialsSecretRef: { name: 'twitch' },
      endpoints: { api: fx.sandbox.twitchEndpoint, auth: fx.sandbox.twitchEndpoint },
      channels: [caster],
      events: ['stream.online', 'channel.subscribe'],
      interval: '1h',
    })
    return ns
  }

  const ready = (ns: string) =>
    waitFor(
      `${ns}/tw Ready`,
      async () => {
        const o = await fx.obj(ns)
        return condition(o, 'Ready')?.status === 'True' ? o : undefined
      },
      { timeoutMs: 30_000 },
    )

  it('publishes a link while the channel is tracked; the consent makes it Ready, tokens in the Secret, channel.subscribe enabled, tokens refreshed', async () => {
    const ns = await setup('ctw-ok', 'caster_ok')
    fx.sandbox.twitch.setConsent({ login: 'caster_ok' })
    const { url, expiresAt } = await fx.linkOf(ns)
    // a first reconcile may write its status in two steps (the webhook URL first)
    const waiting = await waitFor('Ready=False', async () => {
      const o = await fx.obj(ns)
      return condition(o, 'Ready')?.status === 'False' ? o : undefined
    })
    expect(url).toMatch(new RegExp(`^${fx.url}/connect/twitch/${ns}/tw/[A-Za-z0-9_-]{43}$`))
    const left = Date.parse(expiresAt) - Date.now()
    expect(left).toBeGreaterThan(14 * 60_000)
    expect(left).toBeLessThanOrEqual(15 * 60_000)
    expect(condition(waiting, 'BroadcasterAuthorized')?.reason).toBe('AuthorizationNeeded')
    expect(condition(waiting, 'Ready')?.status).toBe('False')
    // the kind's reason for a reconcile whose optional steps failed; the message says what to do
    expect(condition(waiting, 'Ready')?.reason).toBe('ProgressingWithRetry')
    expect(condition(waiting, 'Ready')?.message).toContain('status.connect.url')
    // the rest goes on meanwhile: the channel is resolved, channel.subscribe not asked for
    const tracked = await waitFor('the channel resolved', async () => {
      const o = await fx.obj(ns)
      return (o.status?.channels as Array<{ login: string }> | undefined)?.[0]?.login === 'caster_ok'
        ? o
        : undefined
    })
    expect(JSON.stringify(tracked.status?.subscriptions ?? [])).not.toContain('channel.subscribe')
    const consent = (await fetch(url, { redirect: 'manual' })).headers.get('location') as string
    // that fetch spent nothing (only a callback does); the scope asked for is Twitch's
    expect(new URL(consent).searchParams.get('scope')).toBe('channel:read:subscriptions')
    expect(new URL(consent).searchParams.get('code_challenge')).toBeNull()

    const done = await page(url)
    expect(done.status).toBe(200)
    expect(done.text).toContain('data-outcome="connected"')
    expect(done.headers.get('cache-control')).toBe('no-store')

    const o = await ready(ns)
    expect(o.status?.connect).toBeUndefined()
    expect(condition(o, 'BroadcasterAuthorized')?.status).toBe('True')
    const broadcaster = o.status?.broadcaster as {
      login: string
      scopes: string[]
      accessTokenExpiresAt: string
    }
    expect(broadcaster.login).toBe('caster_ok')
    expect(broadcaster.scopes).toEqual(['channel:read:subscriptions'])
    const s = await secret(ns)
    const refresh = key(s, 'refreshToken')
    const access = key(s, 'accessToken')
    expect(refresh).toMatch(/^[0-9a-f]{50}$/)
    expect(access).toMatch(/^[0-9a-f]{30}$/)
    expect(fx.sandbox.twitch.userRefreshTokenValid(refresh)).toBe(true)
    // what the grant enables: channel.subscribe made at Twitch for this broadcaster
    const subscribed = await waitFor('channel.subscribe enabled', async () => {
      const x = await fx.obj(ns)
      const sub = (x.status?.subscriptions as Array<{ type: string; status: string }> | undefined)?.find(
        (y) => y.type === 'channel.subscribe',
      )
      return sub?.status === 'enabled' ? x : undefined
    })
    expect(condition(subscribed, 'EventSubReady')?.status).toBe('True')
    const code = new URL(done.url).searchParams.get('code') as string
    const link = url.split('/').at(-1) as string
    await fx.noSecretsAnywhere(ns, subscribed, refresh, access, code, link)

    // the token lifecycle: the access token near its expiry is refreshed, the rotated pair written
    const refreshesBefore = fx.sandbox.twitch.userRefreshes
    await new Promise((r) => setTimeout(r, 2_500))
    await annotate(fx.c, PLURAL, ns, 'tw', { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
    const rotated = await waitFor('the rotated refresh token in the Secret', async () => {
      const x = await secret(ns)
      return key(x, 'refreshToken') !== refresh ? x : undefined
    })
    expect(fx.sandbox.twitch.userRefreshes).toBeGreaterThan(refreshesBefore)
    expect(fx.sandbox.twitch.userRefreshTokenValid(refresh)).toBe(false)
    // (refreshes go on every reconcile with this short lifetime: the Secret always names the live one)
    await waitFor('the Secret names the live refresh token', async () =>
      fx.sandbox.twitch.userRefreshTokenValid(key(await secret(ns), 'refreshToken')) ? true : undefined,
    )
    const after = await ready(ns)
    expect(condition(after, 'BroadcasterAuthorized')?.status).toBe('True')
    await fx.noSecretsAnywhere(ns, after, key(rotated, 'refreshToken'), key(rotated, 'accessToken'))
  })

  it('a used link and a replayed callback are refused with a page each, and nothing is written', async () => {
    const ns = await setup('ctw-replay', 'caster_replay')
    const { url } = await fx.linkOf(ns)
    fx.sandbox.twitch.setConsent({ login: 'caster_replay' })
    const callback = await fx.toCallback(url)
    // the same callback twice at once: one connects, the other finds the link used
    const both = await Promise.all([page(callback), page(callback)])
    expect(both.map((r) => r.status).sort()).toEqual([200, 410])
    await waitFor('tokens', async () => (key(await secret(ns), 'refreshToken') ? true : undefined))
    await ready(ns)
    // The resource has a grant now, and this sandbox's tokens live 2 s more than the refresh
    // margin: any reconcile from 2 s on (the EventSub verification asks for one) refreshes and
    // writes the rotated pair. So what is checked is that the refusals exchanged no code and
    // wrote nothing but that rotation: the Secret unchanged, or changed by refreshes alone.
    const before = await secret(ns)
    const redeemed = fx.sandbox.twitch.codesRedeemed
    const invalid = fx.sandbox.twitch.invalidGrants
    const refreshes = fx.sandbox.twitch.userRefreshes
    const again = await page(url)
    expect(again.status).toBe(410)
    expect(again.text).toContain('data-outcome="used"')
    const replay = await page(callback)
    expect(replay.status).toBe(410)
    expect(replay.text).toContain('data-outcome="used"')
    expect((await page(`${callback}&state=x`)).status).toBe(400)
    // no code reached Twitch's token endpoint, neither redeemed nor refused
    expect(fx.sandbox.twitch.codesRedeemed).toBe(redeemed)
    expect(fx.sandbox.twitch.invalidGrants).toBe(invalid)
    const after = await secret(ns)
    if (after.metadata?.resourceVersion !== before.metadata?.resourceVersion) {
      expect(fx.sandbox.twitch.userRefreshes).toBeGreaterThan(refreshes)
      expect(key(after, 'refreshToken')).not.toBe(key(before, 'refreshToken'))
    }
    await waitFor('the Secret names the live refresh token', async () =>
      fx.sandbox.twitch.userRefreshTokenValid(key(await secret(ns), 'refreshToken')) ? true : undefined,
    )
  })

  it('a refused consent shows what to do, writes nothing, and a new link is published', async () => {
    const ns = await setup('ctw-refused', 'caster_refused')
    const { url } = await fx.linkOf(ns)
    const before = await secret(ns)
    fx.sandbox.twitch.setConsent({ refuse: true })
    try {
      const refused = await page(url)
      expect(refused.status).toBe(403)
      expect(refused.text).toContain('data-outcome="refused"')
      expect(refused.text).toContain('allow access')
    } finally {
      fx.sandbox.twitch.setConsent({})
    }
    const next = await fx.linkOf(ns, url)
    expect(condition(next.obj, 'BroadcasterAuthorized')?.reason).toBe('AuthorizationNeeded')
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect((await page(url)).status).toBe(410)
    fx.sandbox.twitch.setConsent({ login: 'caster_refused' })
    expect((await page(next.url)).status).toBe(200)
    await ready(ns)
  })

  it('a forged state is refused and does not spend the link; the genuine callback then connects', async () => {
    const ns = await setup('ctw-forged', 'caster_forged')
    const { url } = await fx.linkOf(ns)
    fx.sandbox.twitch.setConsent({ login: 'caster_forged' })
    const callback = await fx.toCallback(url)
    const before = await secret(ns)
    const u = new URL(callback)
    const state = u.searchParams.get('state') as string
    const nonce = state.split('.').at(-1) as string
    const forgedNonce = `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`
    for (const forged of [
      state.replace(nonce, forgedNonce),
      `${ns}.tw.${'A'.repeat(43)}`,
      `${ns}.other.${nonce}`,
      'default.tw.x',
      '',
    ]) {
      u.searchParams.set('state', forged)
      const res = await page(u.toString())
      expect(res.status, forged).toBe(400)
      expect(res.text).toContain('data-outcome="mismatch"')
    }
    u.searchParams.delete('state')
    expect((await page(u.toString())).status).toBe(400)
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect((await page(callback)).status).toBe(200)
    await ready(ns)
  })

  it('a broadcaster the resource does not name is refused and nothing is written', async () => {
    const ns = await setup('ctw-other', 'caster_other')
    const { url } = await fx.linkOf(ns)
    const before = await secret(ns)
    fx.sandbox.twitch.setConsent({ login: 'someone_else' })
    const res = await page(url)
    expect(res.status).toBe(409)
    expect(res.text).toContain('data-outcome="wrong_account"')
    expect(res.text).toContain('someone_else')
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect(key(await secret(ns), 'refreshToken')).toBe('')
    const code = new URL(res.url).searchParams.get('code') as string
    expect(fx.logs.text()).not.toContain(code)
    await fx.linkOf(ns, url)
  })

  it('a Secret without the opt-in label gets no link, a condition naming the label, and the channel tracked', async () => {
    const ns = await setup('ctw-label', 'caster_ok', { writable: false })
    const o = await waitFor('SecretNotWritable', async () => {
      const x = await fx.obj(ns)
      // (a first reconcile may write its status in two steps: Ready comes with the second)
      return condition(x, 'BroadcasterAuthorized')?.reason === 'SecretNotWritable' &&
        (x.status?.channels as unknown[] | undefined)?.length === 1 &&
        condition(x, 'Ready') !== undefined
        ? x
        : undefined
    })
    expect(condition(o, 'BroadcasterAuthorized')?.message).toContain(`${WRITABLE_LABEL}=true`)
    expect(condition(o, 'Ready')?.status).toBe('False')
    expect(o.status?.connect).toBeUndefined()
    expect(JSON.stringify(o.status?.subscriptions ?? [])).not.toContain('channel.subscribe')
  })

  it('a revoked grant publishes a new link, and the consent brings the resource back to Ready', async () => {
    const ns = await setup('ctw-revoked', 'caster_revoked')
    const first = await fx.linkOf(ns)
    fx.sandbox.twitch.setConsent({ login: 'caster_revoked' })
    expect((await page(first.url)).status).toBe(200)
    await ready(ns)
    const oldRefresh = key(await secret(ns), 'refreshToken')
    fx.sandbox.twitch.revokeUser('caster_revoked')
    await new Promise((r) => setTimeout(r, 2_500))
    await annotate(fx.c, PLURAL, ns, 'tw', { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
    const again = await fx.linkOf(ns, first.url)
    expect(condition(again.obj, 'BroadcasterAuthorized')?.reason).toBe('AuthorizationNeeded')
    expect(condition(again.obj, 'BroadcasterAuthorized')?.message).toContain('revoked')
    expect((await page(again.url)).status).toBe(200)
    await waitFor(`${ns} Ready again`, async () => {
      const o = await fx.obj(ns)
      return condition(o, 'Ready')?.status === 'True' && !o.status?.connect ? true : undefined
    })
    expect(key(await secret(ns), 'refreshToken')).not.toBe(oldRefresh)
  })
})
