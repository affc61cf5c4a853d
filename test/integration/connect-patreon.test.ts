/**
 * Connect links for PatreonIntegration, end to end in the default (sidecar) layout: the real
 * webhook server (bin/switchboard.ts webhooks, no Kubernetes credentials) serves the link and the
 * callback, the controller answers over the bridge's Unix socket, checks the link, exchanges the
 * code at the Patreon sandbox and writes the tokens into the resource's Secret. A browser is an
 * HTTP client that follows redirects (and, once, headless Chromium).
 *
 * Adversarial: a used link and a replayed callback, an expired link, a forged state, a refused
 * consent, a code given for another account than the resource names, a Secret without the opt-in
 * label: each a clear page with its own status, the resource's condition, and its Secret
 * unchanged (same resourceVersion). Planted secrets never reach logs, Events or status.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { V1Secret } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { WRITABLE_LABEL } from '../../controller/runtime/index.ts'
import { type ConnectFixture, page, startConnectFixture } from './connect-helpers.ts'
import { annotate, condition, createResource, createSecret, waitFor } from './helpers.ts'

const PLURAL = 'patreonintegrations'
const CLIENT_SECRET = 'PLANTED-connect-client-secret-4f1c'
const CAMPAIGNS = ['8201', '8202', '8203', '8204', '8205', '8206', '8207', '8208', '8209', '8210']
const ARTIFACTS = resolve(import.meta.dirname, '../../.cache/artifacts')
const run = promisify(execFile)

describe('PatreonIntegration connected from the link in its status', () => {
  let fx: ConnectFixture
  /** Added to the controller's clock for connect links (the expired-link test moves it on). */
  let skewMs = 0
  const planted: string[] = [CLIENT_SECRET]

  beforeAll(async () => {
    fx = await startConnectFixture({
      name: 'connect-patreon',
      resource: {
        plural: PLURAL,
        name: 'members',
        provider: 'patreon',
        authorizeUrl: (s) => `${s.patreonEndpoint}/oauth2/authorize`,
      },
      planted,
      prefixes: [
        'connect-ok',
        'connect-replay',
        'connect-refused',
        'connect-forged',
        'connect-expired',
        'connect-other-a',
        'connect-other-b',
        'connect-label',
        'connect-revoked',
        'connect-restart',
        'connect-chromium',
        'connect-chromium-shot',
      ],
      sandbox: {
        patreon: {
          clients: [{ clientId: 'connect-client-id', clientSecret: CLIENT_SECRET }],
          campaigns: CAMPAIGNS.map((id) => ({
            id,
            name: `Connect ${id}`,
            tiers: [{ title: 'Supporter', amountCents: 500 }],
            members: 4,
          })),
        },
      },
      operator: { connect: { now: () => Date.now() + skewMs } },
    })
  })

  afterAll(() => fx?.close())

  const secret = (ns: string, name = 'patreon'): Promise<V1Secret> =>
    fx.c.core.readNamespacedSecret({ namespace: ns, name })
  const key = (s: V1Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8')

  /** A namespace with a Destination, a writable Secret without a grant, and the resource. */
  async function setup(prefix: string, campaignId: string, opts: { writable?: boolean } = {}) {
    const ns = fx.ns[prefix]
    if (!ns) throw new Error(`no namespace made for ${prefix}`)
    await createSecret(fx.c.core, ns, 'cdp', { writeKey: `wk-${ns}` })
    await createResource(fx.c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: fx.sandbox.url },
    })
    await fx.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: {
          name: 'patreon',
          namespace: ns,
          ...(opts.writable === false ? {} : { labels: { [WRITABLE_LABEL]: 'true' } }),
        },
        stringData: { clientId: 'connect-client-id', clientSecret: CLIENT_SECRET },
      },
    })
    await createResource(fx.c, 'PatreonIntegration', ns, 'members', {
      credentialsSecretRef: { name: 'patreon' },
      campaignId,
      endpoint: fx.sandbox.patreonEndpoint,
      destinationRefs: [{ name: 'cdp' }],
      manageWebhook: false,
    })
    return ns
  }

  it('publishes a link, and following it as a browser does makes the resource Ready with tokens in its Secret', async () => {
    const ns = await setup('connect-ok', CAMPAIGNS[0] as string)
    const { url, expiresAt, obj: waiting } = await fx.linkOf(ns)
    expect(url).toMatch(new RegExp(`^${fx.url}/connect/patreon/${ns}/members/[A-Za-z0-9_-]{43}$`))
    // default lifetime: 15 minutes
    const left = Date.parse(expiresAt) - Date.now()
    expect(left).toBeGreaterThan(14 * 60_000)
    expect(left).toBeLessThanOrEqual(15 * 60_000)
    expect(condition(waiting, 'CredentialsValid')?.reason).toBe('AuthorizationNeeded')
    expect(condition(waiting, 'Ready')?.status).toBe('False')
    expect(condition(waiting, 'Ready')?.reason).toBe('AuthorizationNeeded')
    // the link shows nowhere but the status
    expect(fx.logs.text()).not.toContain(url.split('/').at(-1))

    const done = await page(url)
    expect(done.status).toBe(200)
    expect(done.text).toContain('data-outcome="connected"')
    expect(done.text).toContain('Switchboard is connected')
    expect(done.headers.get('cache-control')).toBe('no-store')

    const ready = await waitFor(
      `${ns}/members Ready`,
      async () => {
        const o = await fx.obj(ns)
        return condition(o, 'Ready')?.status === 'True' ? o : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(ready.status?.connect).toBeUndefined()
    expect(condition(ready, 'CredentialsValid')?.status).toBe('True')
    expect((ready.status?.members as { total?: number } | undefined)?.total).toBe(4)
    const s = await secret(ns)
    const refresh = key(s, 'refreshToken')
    const access = key(s, 'accessToken')
    expect(refresh).toMatch(/^pat-rt-/)
    expect(access).toMatch(/^pat-at-/)
    expect(Date.parse(key(s, 'accessTokenExpiresAt'))).toBeGreaterThan(Date.now())
    const code = new URL(done.url).searchParams.get('code') as string
    const state = new URL(done.url).searchParams.get('state') as string
    const link = url.split('/').at(-1) as string
    await fx.noSecretsAnywhere(ns, ready, refresh, access, code, link)
    // nor in either process's metrics
    const metrics = `${await fx.operator.manager.metrics.registry.metrics()}${await (await fetch(`${fx.url}/metrics`)).text()}`
    for (const v of [...planted, refresh, access, code, state, link]) expect(metrics).not.toContain(v)
    // the connect Secret keeps hashes, not the link or the state
    const kept = JSON.stringify(
      (await fx.c.core.listNamespacedSecret({ namespace: ns })).items
        .filter((x) => x.metadata?.name?.startsWith('switchboard-connect-'))
        .map((x) => x.data),
    )
    expect(kept.length).toBeGreaterThan(100)
    for (const v of [link, state, code, refresh]) {
      expect(kept).not.toContain(Buffer.from(v).toString('base64'))
    }
  })

  it('a used link and a replayed callback are refused with a page each, and nothing is written', async () => {
    const ns = await setup('connect-replay', CAMPAIGNS[1] as string)
    const { url } = await fx.linkOf(ns)
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[1] as string })
    const callback = await fx.toCallback(url)
    fx.sandbox.patreon.setConsent({})
    // the same callback twice at once: one connects, the other finds the link used
    const both = await Promise.all([page(callback), page(callback)])
    expect(both.map((r) => r.status).sort()).toEqual([200, 410])
    expect(fx.sandbox.patreon.codesRedeemed).toBeGreaterThan(0)
    await waitFor('tokens', async () => (key(await secret(ns), 'refreshToken') ? true : undefined))
    const before = await secret(ns)

    const again = await page(url)
    expect(again.status).toBe(410)
    expect(again.text).toContain('data-outcome="used"')
    expect(again.text).toContain('was used already')
    const replay = await page(callback)
    expect(replay.status).toBe(410)
    expect(replay.text).toContain('data-outcome="used"')
    // the same callback with its code and state in another order, and with an extra parameter
    const u = new URL(callback)
    const reordered = `${fx.url}/connect/patreon/callback?state=${encodeURIComponent(u.searchParams.get('state') ?? '')}&code=${encodeURIComponent(u.searchParams.get('code') ?? '')}&x=1`
    expect((await page(reordered)).status).toBe(410)
    // a repeated parameter is malformed
    expect((await page(`${callback}&state=x`)).status).toBe(400)
    const after = await secret(ns)
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
  })

  it('a refused consent shows what to do, writes nothing, and a new link is published', async () => {
    const ns = await setup('connect-refused', CAMPAIGNS[2] as string)
    const { url } = await fx.linkOf(ns)
    const before = await secret(ns)
    fx.sandbox.patreon.setConsent({ refuse: true })
    try {
      const refused = await page(url)
      expect(refused.status).toBe(403)
      expect(refused.text).toContain('data-outcome="refused"')
      expect(refused.text).toContain('allow access')
    } finally {
      fx.sandbox.patreon.setConsent({})
    }
    const next = await fx.linkOf(ns, url)
    expect(next.url).not.toBe(url)
    expect(condition(next.obj, 'CredentialsValid')?.reason).toBe('AuthorizationNeeded')
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    // the old link is spent
    expect((await page(url)).status).toBe(410)
    // the new one works
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[2] as string })
    expect((await page(next.url)).status).toBe(200)
    fx.sandbox.patreon.setConsent({})
  })

  it('a forged state is refused and does not spend the link; the genuine callback then connects', async () => {
    const ns = await setup('connect-forged', CAMPAIGNS[3] as string)
    const { url } = await fx.linkOf(ns)
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[3] as string })
    const callback = await fx.toCallback(url)
    fx.sandbox.patreon.setConsent({})
    const before = await secret(ns)
    const u = new URL(callback)
    const state = u.searchParams.get('state') as string
    const nonce = state.split('.').at(-1) as string
    const forgedNonce = `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`
    const forgeries = [
      state.replace(nonce, forgedNonce), // one character changed
      `${ns}.members.${'A'.repeat(43)}`, // a guess
      `${ns}.other.${nonce}`, // another resource's name
      'default.members.x', // malformed
      '',
    ]
    for (const forged of forgeries) {
      u.searchParams.set('state', forged)
      const res = await page(u.toString())
      expect(res.status, forged).toBe(400)
      expect(res.text).toContain('data-outcome="mismatch"')
    }
    // no state at all
    u.searchParams.delete('state')
    expect((await page(u.toString())).status).toBe(400)
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    const genuine = await page(callback)
    expect(genuine.status).toBe(200)
    await waitFor(`${ns} Ready`, async () =>
      condition(await fx.obj(ns), 'Ready')?.status === 'True' ? true : undefined,
    )
  })

  it('an expired link, and a callback after the expiry, are refused and write nothing', async () => {
    const ns = await setup('connect-expired', CAMPAIGNS[4] as string)
    const { url } = await fx.linkOf(ns)
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[4] as string })
    const callback = await fx.toCallback(url)
    fx.sandbox.patreon.setConsent({})
    const before = await secret(ns)
    skewMs = 16 * 60_000
    try {
      const opened = await page(url)
      expect(opened.status).toBe(410)
      expect(opened.text).toContain('data-outcome="expired"')
      const late = await page(callback)
      expect(late.status).toBe(410)
      expect(late.text).toContain('expired')
    } finally {
      skewMs = 0
    }
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect(condition(await fx.obj(ns), 'CredentialsValid')?.reason).toBe('AuthorizationNeeded')
  })

  it('a code given for another account than the resource names is refused and writes nothing', async () => {
    const nsA = await setup('connect-other-a', CAMPAIGNS[5] as string)
    const nsB = await setup('connect-other-b', CAMPAIGNS[6] as string)
    const a = await fx.linkOf(nsA)
    const b = await fx.linkOf(nsB)
    // B's creator consents on B's link; A's link is opened by A's creator
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[6] as string })
    const callbackB = await fx.toCallback(b.url)
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[5] as string })
    const callbackA = await fx.toCallback(a.url)
    fx.sandbox.patreon.setConsent({})
    const before = await secret(nsA)
    // A's state with B's code
    const mixed = new URL(callbackA)
    mixed.searchParams.set('code', new URL(callbackB).searchParams.get('code') as string)
    const res = await page(mixed.toString())
    expect(res.status).toBe(409)
    expect(res.text).toContain('data-outcome="wrong_account"')
    expect(res.text).toContain(`does not own campaign ${CAMPAIGNS[5]}`)
    expect((await secret(nsA)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect(key(await secret(nsA), 'refreshToken')).toBe('')
    for (const v of [
      new URL(callbackB).searchParams.get('code') as string,
      new URL(callbackA).searchParams.get('code') as string,
    ]) {
      expect(fx.logs.text()).not.toContain(v)
    }
    // A publishes a new link
    await fx.linkOf(nsA, a.url)
  })

  it('a Secret without the opt-in label gets no link, and a condition naming the label', async () => {
    const ns = await setup('connect-label', CAMPAIGNS[7] as string, { writable: false })
    const o = await waitFor('SecretNotWritable', async () => {
      const x = await fx.obj(ns)
      return condition(x, 'CredentialsValid')?.reason === 'SecretNotWritable' ? x : undefined
    })
    expect(condition(o, 'CredentialsValid')?.message).toContain(`${WRITABLE_LABEL}=true`)
    expect(o.status?.connect).toBeUndefined()
  })

  it('a revoked grant publishes a link, and following it brings the resource back to Ready', async () => {
    const ns = await setup('connect-revoked', CAMPAIGNS[8] as string)
    const first = await fx.linkOf(ns)
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[8] as string })
    expect((await page(first.url)).status).toBe(200)
    await waitFor(`${ns} Ready`, async () =>
      condition(await fx.obj(ns), 'Ready')?.status === 'True' ? true : undefined,
    )
    const oldRefresh = key(await secret(ns), 'refreshToken')
    fx.sandbox.patreon.revoke(CAMPAIGNS[8] as string)
    await annotate(fx.c, PLURAL, ns, 'members', { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
    const again = await fx.linkOf(ns, first.url)
    expect(condition(again.obj, 'CredentialsValid')?.reason).toBe('AuthorizationNeeded')
    expect(condition(again.obj, 'CredentialsValid')?.message).toContain('revoked')
    expect((await page(again.url)).status).toBe(200)
    fx.sandbox.patreon.setConsent({})
    await waitFor(`${ns} Ready again`, async () => {
      const o = await fx.obj(ns)
      return condition(o, 'Ready')?.status === 'True' && !o.status?.connect ? true : undefined
    })
    expect(key(await secret(ns), 'refreshToken')).not.toBe(oldRefresh)
  })

  it('a link published before a controller restart works after it (its state is in the connect Secret)', async () => {
    const ns = await setup('connect-restart', CAMPAIGNS[9] as string)
    const { url } = await fx.linkOf(ns)
    await fx.restartController()
    fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[9] as string })
    try {
      const done = await page(url)
      expect(done.status).toBe(200)
      expect(done.text).toContain('data-outcome="connected"')
    } finally {
      fx.sandbox.patreon.setConsent({})
    }
    await waitFor(`${ns} Ready`, async () =>
      condition(await fx.obj(ns), 'Ready')?.status === 'True' ? true : undefined,
    )
  })

  it('headless Chromium follows the link to the success page (DOM asserted, screenshot kept)', async () => {
    const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium'
    const ns = await setup('connect-chromium', CAMPAIGNS[9] as string)
    const profile = mkdtempSync(join(tmpdir(), 'sb-chromium-'))
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      `--user-data-dir=${profile}`,
    ]
    try {
      fx.sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[9] as string })
      const { url } = await fx.linkOf(ns)
      const dom = await run(chromium, [...flags, '--dump-dom', url], { timeout: 60_000 })
      expect(dom.stdout).toContain('data-outcome="connected"')
      expect(dom.stdout).toContain('Switchboard is connected')
      // the link is spent; the screenshot is of a second resource's flow, the same way
      await waitFor(`${ns} Ready`, async () =>
        condition(await fx.obj(ns), 'Ready')?.status === 'True' ? true : undefined,
      )
      const ns2 = await setup('connect-chromium-shot', CAMPAIGNS[9] as string)
      const second = await fx.linkOf(ns2)
      mkdirSync(ARTIFACTS, { recursive: true })
      const shot = join(ARTIFACTS, 'connect-patreon-success.png')
      rmSync(shot, { force: true })
      await run(chromium, [...flags, '--window-size=900,500', `--screenshot=${shot}`, second.url], {
        timeout: 60_000,
      })
      expect(statSync(shot).size).toBeGreaterThan(1000)
      await waitFor(`${ns2} Ready`, async () =>
        condition(await fx.obj(ns2), 'Ready')?.status === 'True' ? true : undefined,
      )
    } finally {
      fx.sandbox.patreon.setConsent({})
      rmSync(profile, { recursive: true, force: true })
    }
  }, 180_000)
})
