/**
 * The webhook server without credentials: it asks the controller of its pod, over the webhook
 * bridge's Unix socket, for routing, the webhook secrets of routed resources and reconcile
 * requests. Against the real API server: a delivery becomes the annotation, and through the
 * bridge no Secret can be read that no webhook path points to, nor any key that is not a
 * webhook secret.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  buildWebhookBridge,
  createOperator,
  listenWebhookBridge,
  listenWebhookBridgeTcp,
  managerBridgeSource,
  type Operator,
  REQUESTED_STREAMS_ANNOTATION,
} from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  BridgeTargetResolver,
  bridgeCall,
  bridgePatcher,
  buildApp,
  CoalescingRequester,
} from '../../webhooks/index.ts'
import { buildSandbox, casinoRequest, type Sandbox, send } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createResource,
  createSecret,
  freePorts,
  getObj,
  sleep,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const PUBLIC_URL = 'https://hooks.bridge.example'
const credentials = { apiKey: 'bridge-key', apiSecret: 'bridge-API-S3CRET-0001' }
const WEBHOOK_SECRET = 'bridge-webhook-secret-0001'

describe('the webhook bridge', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  let dir: string
  let socket: string
  const logs = capturedLogger('info')
  let bridge: ReturnType<typeof buildWebhookBridge>

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials,
            settings: { casinoId: 'br' },
            size: { players: 2, transactions: 3, games: 1 },
          },
        ],
      },
    })
    await sandbox.listen()
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl: PUBLIC_URL,
    })
    await operator.start()
    dir = mkdtempSync(join(tmpdir(), 'sb-bridge-'))
    socket = join(dir, 'bridge.sock')
    bridge = buildWebhookBridge({ source: managerBridgeSource(operator.manager), logger: logs.logger })
    await listenWebhookBridge(bridge, socket)
  })

  afterAll(async () => {
    await bridge?.close()
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('routes a delivery, serves only webhook secrets of routed objects, and writes only reconcile requests', async () => {
    expect(statSync(socket).mode & 0o777).toBe(0o660)
    const ns = await createNamespace(c.core, 'bridge')
    await createSecret(c.core, ns, 'cdp', { writeKey: 'bridge-write-key-0001' })
    await createSecret(c.core, ns, 'platform', { ...credentials, webhookSecret: WEBHOOK_SECRET })
    await createSecret(c.core, ns, 'unrelated', { webhookSecret: 'unrelated-0001', token: 'unrelated-token' })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await createResource(c, 'CasinoIntegration', ns, 'casino', {
      provider: 'softswiss',
      softswiss: { casinoId: 'br' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'platform' },
      streams: [{ name: 'transactions', interval: '6h' }],
      destinationRefs: [{ name: 'cdp' }],
    })
    const ready = await waitForCondition(
      c,
      'casinointegrations',
      ns,
      'casino',
      'WebhookReady',
      'True',
      undefined,
      30_000,
    )
    const hook = ready.status?.webhook as { path: string; url: string }

    // the webhook server side: no KubeConfig anywhere, only the socket
    const resolver = new BridgeTargetResolver({ endpoint: socket, logger: logs.logger, refreshMs: 200 })
    const requester = new CoalescingRequester({ patch: bridgePatcher(socket), logger: logs.logger })
    const app = buildApp({ resolver, requester, logger: logs.logger, publicUrl: PUBLIC_URL })
    await resolver.start()
    try {
      await waitFor('the path in the bridged routing table', () => resolver.resolve(hook.path))
      const forged = casinoRequest({
        url: hook.url,
        secret: credentials.apiSecret,
        body: { stream: 'transactions' },
      })
      expect(
        (await app.inject({ method: 'POST', url: hook.path, headers: forged.headers, payload: forged.body }))
          .statusCode,
      ).toBe(401)
      const good = casinoRequest({ url: hook.url, secret: WEBHOOK_SECRET, body: { stream: 'transactions' } })
      expect(
        (await app.inject({ method: 'POST', url: hook.path, headers: good.headers, payload: good.body }))
          .statusCode,
      ).toBe(204)
      await waitFor('the reconcile request written by the controller', async () => {
        const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
        return (o.metadata as { annotations?: Record<string, string> }).annotations?.[
          REQUESTED_STREAMS_ANNOTATION
        ]
      })

      // what the bridge gives: the routed object's webhook secret only, not its API credentials
      const q = (kind: string, name: string) =>
        `/v1/secrets?${new URLSearchParams({ kind, namespace: ns, name })}`
      const mine = await bridgeCall(socket, 'GET', q('CasinoIntegration', 'casino'))
      expect(mine).toEqual({ status: 200, json: { secrets: { signingSecret: WEBHOOK_SECRET } } })
      // no webhook path, no Secret: a Destination, an unknown object, a made-up kind
      for (const [kind, name] of [
        ['Destination', 'cdp'],
        ['CasinoIntegration', 'unrelated'],
        ['Secret', 'unrelated'],
      ] as const) {
        expect((await bridgeCall(socket, 'GET', q(kind, name))).status, `${kind}/${name}`).toBe(404)
      }
      // the routing table carries no Secret name or spec beyond routing
      const table = JSON.stringify((await bridgeCall(socket, 'GET', '/v1/targets')).json)
      for (const leak of [WEBHOOK_SECRET, credentials.apiSecret, 'platform', 'unrelated', sandbox.url]) {
        expect(table).not.toContain(leak)
      }
      // only the reconcile annotations may be written, only on routed objects
      const annotate = (name: string, annotations: Record<string, string>) =>
        bridgeCall(socket, 'POST', '/v1/annotate', {
          kind: 'CasinoIntegration',
          namespace: ns,
          name,
          annotations,
        })
      expect((await annotate('casino', { 'switchboard.dev/resync-at': 'x' })).status).toBe(400)
      expect((await annotate('casino', { 'example.com/other': 'x' })).status).toBe(400)
      expect((await annotate('nobody', { 'switchboard.dev/requested-at': 'x' })).status).toBe(404)
      expect(logs.text()).not.toContain(WEBHOOK_SECRET)
    } finally {
      await requester.close({ timeoutMs: 2_000 })
      await resolver.stop()
      await app.close()
    }
  })

  it('runs as `switchboard webhooks --controller-socket` with no kubeconfig and no token anywhere', async () => {
    const ns = await createNamespace(c.core, 'bridge-proc')
    await createSecret(c.core, ns, 'cdp', { writeKey: 'bridge-proc-write-key' })
    await createSecret(c.core, ns, 'platform', { ...credentials, webhookSecret: WEBHOOK_SECRET })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await createResource(c, 'CasinoIntegration', ns, 'casino', {
      provider: 'softswiss',
      softswiss: { casinoId: 'br' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'platform' },
      streams: [{ name: 'players', interval: '6h' }],
      destinationRefs: [{ name: 'cdp' }],
    })
    const ready = await waitForCondition(
      c,
      'casinointegrations',
      ns,
      'casino',
      'WebhookReady',
      'True',
      undefined,
      30_000,
    )
    const hook = ready.status?.webhook as { path: string; url: string }
    const [port = 0] = await freePorts(1)
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir }
    delete env.KUBECONFIG
    delete env.KUBERNETES_SERVICE_HOST
    const child = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, '../../bin/switchboard.ts'),
        'webhooks',
        '--controller-socket',
        socket,
        '--bind-address',
        `127.0.0.1:${port}`,
        '--public-url',
        PUBLIC_URL,
        '--log-level',
        'warn',
      ],
      { env, stdio: ['ignore', 'ignore', 'inherit'] },
    )
    try {
      const base = `http://127.0.0.1:${port}`
      await waitFor(
        'the webhook process to be ready',
        async () => ((await fetch(`${base}/readyz`).catch(() => undefined))?.ok ? true : undefined),
        {
          timeoutMs: 60_000,
          intervalMs: 200,
        },
      )
      const res = await waitFor('the delivery to be accepted', async () => {
        const r = await send(
          casinoRequest({ url: hook.url, secret: WEBHOOK_SECRET, body: { stream: 'players' } }),
          { baseUrl: base },
        )
        return r.status === 204 ? r : undefined
      })
      expect(res.status).toBe(204)
      await waitFor('the annotation', async () => {
        const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
        return (o.metadata as { annotations?: Record<string, string> }).annotations?.[
          REQUESTED_STREAMS_ANNOTATION
        ]?.startsWith('players=')
          ? true
          : undefined
      })
    } finally {
      child.kill('SIGTERM')
    }
  })

  it('as its own Deployment: `--controller-url` over TCP with the bridge token, and nothing without it', async () => {
    const ns = await createNamespace(c.core, 'bridge-tcp')
    await createSecret(c.core, ns, 'cdp', { writeKey: 'bridge-tcp-write-key' })
    await createSecret(c.core, ns, 'platform', { ...credentials, webhookSecret: WEBHOOK_SECRET })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await createResource(c, 'CasinoIntegration', ns, 'casino', {
      provider: 'softswiss',
      softswiss: { casinoId: 'br' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'platform' },
      streams: [{ name: 'games', interval: '6h' }],
      destinationRefs: [{ name: 'cdp' }],
    })
    const ready = await waitForCondition(
      c,
      'casinointegrations',
      ns,
      'casino',
      'WebhookReady',
      'True',
      undefined,
      30_000,
    )
    const hook = ready.status?.webhook as { path: string; url: string }
    const token = randomBytes(24).toString('hex')
    expect(() =>
      buildWebhookBridge({
        source: managerBridgeSource(operator.manager),
        logger: logs.logger,
        token: 'short',
      }),
    ).toThrow(/at least 32/)
    const tcp = buildWebhookBridge({
      source: managerBridgeSource(operator.manager),
      logger: logs.logger,
      token,
    })
    const bridgePort = await listenWebhookBridgeTcp(tcp, { host: '127.0.0.1', port: 0 })
    const tokenFile = join(dir, 'bridge-token')
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o400 })
    const wrongFile = join(dir, 'wrong-token')
    writeFileSync(wrongFile, 'w'.repeat(48), { mode: 0o400 })
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir }
    delete env.KUBECONFIG
    delete env.KUBERNETES_SERVICE_HOST
    const run = (file: string, port: number) =>
      spawn(
        process.execPath,
        [
          resolve(import.meta.dirname, '../../bin/switchboard.ts'),
          'webhooks',
          '--controller-url',
          `http://127.0.0.1:${bridgePort}`,
          '--controller-token-file',
          file,
          '--bind-address',
          `127.0.0.1:${port}`,
          '--public-url',
          PUBLIC_URL,
          '--log-level',
          'error',
        ],
        { env, stdio: ['ignore', 'ignore', 'inherit'] },
      )
    const [port = 0, impostorPort = 0] = await freePorts(2)
    const child = run(tokenFile, port)
    const impostor = run(wrongFile, impostorPort)
    try {
      const base = `http://127.0.0.1:${port}`
      await waitFor(
        'the webhook process to be ready over the TCP bridge',
        async () => ((await fetch(`${base}/readyz`).catch(() => undefined))?.ok ? true : undefined),
        // a process loading the TypeScript sources on a loaded machine
        { timeoutMs: 60_000, intervalMs: 200 },
      )
      const res = await waitFor('the delivery to be accepted', async () => {
        const r = await send(
          casinoRequest({ url: hook.url, secret: WEBHOOK_SECRET, body: { stream: 'games' } }),
          {
            baseUrl: base,
          },
        )
        return r.status === 204 ? r : undefined
      })
      expect(res.status).toBe(204)
      await waitFor('the annotation written by the controller', async () => {
        const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
        return (o.metadata as { annotations?: Record<string, string> }).annotations?.[
          REQUESTED_STREAMS_ANNOTATION
        ]?.startsWith('games=')
          ? true
          : undefined
      })
      // the one with a wrong token is refused by the bridge: it never gets routing, never ready
      const impostorBase = `http://127.0.0.1:${impostorPort}`
      await waitFor('the impostor to listen', async () =>
        (await fetch(`${impostorBase}/healthz`).catch(() => undefined))?.ok ? true : undefined,
      )
      await sleep(2_000)
      expect((await fetch(`${impostorBase}/readyz`)).status).toBe(503)
      const refused = await send(
        casinoRequest({ url: hook.url, secret: WEBHOOK_SECRET, body: { stream: 'games' } }),
        {
          baseUrl: impostorBase,
        },
      )
      expect(refused.status).toBe(404)
      expect(logs.text()).toContain('webhook bridge request without the token refused')
      expect(logs.text()).not.toContain(token)
    } finally {
      child.kill('SIGTERM')
      impostor.kill('SIGTERM')
      await tcp.close()
    }
  })
})
