/**
 * Connect links with the webhook server as its own Deployment (the chart's
 * `webhooks.separateDeployment`): the real webhook server (bin/switchboard.ts webhooks, no
 * kubeconfig, no Kubernetes token) asks the controller over the TCP bridge (`--controller-url`
 * with the bridge token from a file), behind one proxy (`--trust-proxy 1`, as behind the chart's
 * Ingress), with a small connect rate limit. A browser is an HTTP client that follows redirects;
 * each request names its client in X-Forwarded-For, as the Ingress would.
 *
 * The happy path (Ready, tokens in the Secret), a refused consent (a page, nothing written, a new
 * link), a burst from one client over the rate limit (429s, the link not spent: another client
 * then connects with it), and a webhook server with a wrong bridge token (a 503 page, the link
 * not spent either).
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { V1Secret } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildWebhookBridge,
  createOperator,
  listenWebhookBridgeTcp,
  managerBridgeSource,
  type Operator,
} from '../../controller/index.ts'
import { WRITABLE_LABEL } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import { connectLinkOf, expectNowhere, spawnWebhookServer } from './connect-helpers.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createResource,
  createSecret,
  eventsFor,
  freePorts,
  getObj,
  waitFor,
} from './helpers.ts'

const PLURAL = 'patreonintegrations'
const CLIENT_SECRET = 'PLANTED-tcp-connect-client-secret-7e2a'
const CAMPAIGNS = ['8301', '8302', '8303', '8304']
/** Per client address and minute, small enough for a burst to pass it. */
const CONNECT_LIMIT = 4

describe('connect links served by a webhook server of its own Deployment (TCP bridge)', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  let bridge: ReturnType<typeof buildWebhookBridge>
  let webhooks: ChildProcess
  let impostor: ChildProcess
  let dir: string
  let hooksUrl: string
  let impostorUrl: string
  const token = randomBytes(24).toString('hex')
  const logs = capturedLogger('debug')
  /**
   * This file's namespaces, made up front: the controller watches only these, not what other
   * files left in the shared API server (resources whose sandboxes are gone, whose retries
   * would hold the controller's workers; see patreon-webhooks.test.ts).
   */
  const NS = { 'ctcp-ok': '', 'ctcp-refused': '', 'ctcp-burst': '', 'ctcp-impostor': '' }

  let bridgePort: number
  /** A webhook server on a port of its own choosing, asking the controller at `bridgePort`. */
  const spawnWebhooks = (tokenFile: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir }
    delete env.KUBECONFIG
    delete env.KUBERNETES_SERVICE_HOST
    return spawnWebhookServer(
      [
        '--controller-url',
        `http://127.0.0.1:${bridgePort}`,
        '--controller-token-file',
        tokenFile,
        '--trust-proxy',
        '1',
        '--connect-rate-limit',
        `${CONNECT_LIMIT}/1m`,
      ],
      { env },
    )
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      patreon: {
        clients: [{ clientId: 'tcp-connect-client', clientSecret: CLIENT_SECRET }],
        campaigns: CAMPAIGNS.map((id) => ({
          id,
          name: `TCP ${id}`,
          tiers: [{ title: 'Supporter', amountCents: 500 }],
          members: 3,
        })),
      },
    })
    await sandbox.listen()
    dir = mkdtempSync(join(tmpdir(), 'sb-connect-tcp-'))
    const tokenFile = join(dir, 'bridge-token')
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o400 })
    const wrongFile = join(dir, 'wrong-token')
    writeFileSync(wrongFile, 'w'.repeat(48), { mode: 0o400 })
    // The webhook servers pick their ports themselves and the controller publishes links under
    // the one it took, so they start first, told the bridge port the controller listens on
    // below (taken by now, its listen would fail loudly; the servers wait for it).
    ;[bridgePort = 0] = await freePorts(1)
    const [served, refused] = await Promise.all([spawnWebhooks(tokenFile), spawnWebhooks(wrongFile)])
    ;({ child: webhooks, url: hooksUrl } = served)
    ;({ child: impostor, url: impostorUrl } = refused)
    for (const prefix of Object.keys(NS) as Array<keyof typeof NS>) {
      NS[prefix] = await createNamespace(c.core, prefix)
    }
    operator = createOperator({
      kubeConfig: c.kc,
      logger: logs.logger,
      namespaces: Object.values(NS),
      publicUrl: hooksUrl,
      endpoints: { allowLoopback: true },
      providerHttp: { timeoutMs: 5_000 },
      statusFlushDelayMs: 200,
    })
    await operator.start()
    bridge = buildWebhookBridge({
      source: managerBridgeSource(operator.manager),
      connect: operator.connect,
      logger: logs.logger,
      token,
    })
    await listenWebhookBridgeTcp(bridge, { host: '127.0.0.1', port: bridgePort })
    await waitFor(
      'the webhook server ready over the TCP bridge',
      async () => ((await fetch(`${hooksUrl}/readyz`)).ok ? true : undefined),
      // a process loading the TypeScript sources on a loaded machine
      { timeoutMs: 60_000, intervalMs: 200 },
    )
  })

  afterAll(async () => {
    webhooks?.kill('SIGTERM')
    impostor?.kill('SIGTERM')
    await bridge?.close()
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const obj = (ns: string) => getObj(c.custom, PLURAL, ns, 'members')
  const secret = (ns: string): Promise<V1Secret> =>
    c.core.readNamespacedSecret({ namespace: ns, name: 'patreon' })
  const key = (s: V1Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8')
  const linkOf = (ns: string, not?: string) => connectLinkOf(`${ns}/members`, () => obj(ns), not)
  /** A page as a browser behind the Ingress loads it: redirects followed, its address forwarded. */
  const browse = async (url: string, client: string, redirect: 'follow' | 'manual' = 'follow') => {
    const res = await fetch(url, { redirect, headers: { 'x-forwarded-for': client } })
    return { status: res.status, text: await res.text(), url: res.url, headers: res.headers }
  }
  const ready = (ns: string) =>
    waitFor(
      `${ns}/members Ready`,
      async () => {
        const o = await obj(ns)
        return condition(o, 'Ready')?.status === 'True' ? o : undefined
      },
      { timeoutMs: 30_000 },
    )

  async function setup(prefix: keyof typeof NS) {
    const ns = NS[prefix]
    await createSecret(c.core, ns, 'cdp', { writeKey: `wk-${ns}` })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'patreon', namespace: ns, labels: { [WRITABLE_LABEL]: 'true' } },
        stringData: { clientId: 'tcp-connect-client', clientSecret: CLIENT_SECRET },
      },
    })
    return ns
  }
  const resource = (ns: string, campaignId: string) =>
    createResource(c, 'PatreonIntegration', ns, 'members', {
      credentialsSecretRef: { name: 'patreon' },
      campaignId,
      endpoint: sandbox.patreonEndpoint,
      destinationRefs: [{ name: 'cdp' }],
      manageWebhook: false,
    })

  it('following the link as a browser does makes the resource Ready with tokens in its Secret', async () => {
    const ns = await setup('ctcp-ok')
    await resource(ns, CAMPAIGNS[0] as string)
    const { url } = await linkOf(ns)
    expect(url).toMatch(new RegExp(`^${hooksUrl}/connect/patreon/${ns}/members/[A-Za-z0-9_-]{43}$`))
    sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[0] as string })
    let done: Awaited<ReturnType<typeof browse>>
    try {
      done = await browse(url, '198.51.100.10')
    } finally {
      sandbox.patreon.setConsent({})
    }
    expect(done.status).toBe(200)
    expect(done.url.startsWith(`${hooksUrl}/connect/patreon/callback?`)).toBe(true)
    expect(done.text).toContain('data-outcome="connected"')
    expect(done.headers.get('cache-control')).toBe('no-store')
    const o = await ready(ns)
    expect(o.status?.connect).toBeUndefined()
    expect(condition(o, 'CredentialsValid')?.status).toBe('True')
    const s = await secret(ns)
    const refresh = key(s, 'refreshToken')
    const access = key(s, 'accessToken')
    expect(refresh).toMatch(/^pat-rt-/)
    expect(access).toMatch(/^pat-at-/)
    const code = new URL(done.url).searchParams.get('code') as string
    expectNowhere({ logs: logs.text(), obj: o, events: await eventsFor(c.core, ns, 'members') }, [
      CLIENT_SECRET,
      token,
      refresh,
      access,
      code,
      url.split('/').at(-1) as string,
    ])
  })

  it('a refused consent is a page through the TCP bridge, writes nothing, and a new link is published', async () => {
    const ns = await setup('ctcp-refused')
    await resource(ns, CAMPAIGNS[1] as string)
    const { url } = await linkOf(ns)
    const before = await secret(ns)
    sandbox.patreon.setConsent({ refuse: true })
    try {
      const refused = await browse(url, '198.51.100.11')
      expect(refused.status).toBe(403)
      expect(refused.text).toContain('data-outcome="refused"')
    } finally {
      sandbox.patreon.setConsent({})
    }
    const next = await linkOf(ns, url)
    expect(condition(next.obj, 'CredentialsValid')?.reason).toBe('AuthorizationNeeded')
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    expect((await browse(url, '198.51.100.11')).status).toBe(410)
  })

  it('a burst from one client over the rate limit gets 429s; the link is not spent, another client connects with it', async () => {
    const ns = await setup('ctcp-burst')
    await resource(ns, CAMPAIGNS[2] as string)
    const { url } = await linkOf(ns)
    const before = await secret(ns)
    // the link opened (a redirect, which spends nothing) and the callback, guessed, from one client
    const statuses: number[] = []
    let retryAfter = ''
    for (let n = 0; n < CONNECT_LIMIT + 3; n++) {
      const res = await browse(
        n % 2 === 0 ? url : `${hooksUrl}/connect/patreon/callback?code=guess${n}&state=${ns}.members.x`,
        '203.0.113.66',
        'manual',
      )
      statuses.push(res.status)
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after') ?? ''
        expect(res.text).toContain('data-outcome="rate_limited"')
      }
    }
    expect(statuses).toEqual([302, 400, 302, 400, 429, 429, 429])
    expect(Number(retryAfter)).toBeGreaterThan(0)
    expect(Number(retryAfter)).toBeLessThanOrEqual(60)
    // nothing written, and the link still works for the creator, from another address
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[2] as string })
    try {
      const done = await browse(url, '198.51.100.12')
      expect(done.status).toBe(200)
      expect(done.text).toContain('data-outcome="connected"')
    } finally {
      sandbox.patreon.setConsent({})
    }
    await ready(ns)
    expect(key(await secret(ns), 'refreshToken')).toMatch(/^pat-rt-/)
    // the client over its limit still is
    expect((await browse(url, '203.0.113.66', 'manual')).status).toBe(429)
  })

  it('a webhook server with a wrong bridge token answers the link 503, and the link is not spent', async () => {
    const ns = await setup('ctcp-impostor')
    await resource(ns, CAMPAIGNS[3] as string)
    const { url } = await linkOf(ns)
    const before = await secret(ns)
    const path = new URL(url).pathname
    const refused = await browse(`${impostorUrl}${path}`, '198.51.100.13', 'manual')
    expect(refused.status).toBe(503)
    expect(refused.text).toContain('data-outcome="unavailable"')
    expect(refused.headers.get('location')).toBeNull()
    const cb = await browse(
      `${impostorUrl}/connect/patreon/callback?code=c&state=${ns}.members.x`,
      '198.51.100.13',
    )
    expect(cb.status).toBe(503)
    expect(logs.text()).toContain('webhook bridge request without the token refused')
    expect((await secret(ns)).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion)
    sandbox.patreon.setConsent({ campaignId: CAMPAIGNS[3] as string })
    try {
      expect((await browse(url, '198.51.100.13')).status).toBe(200)
    } finally {
      sandbox.patreon.setConsent({})
    }
    await ready(ns)
  })
})
