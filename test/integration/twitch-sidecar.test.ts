/**
 * TwitchIntegration in the default (sidecar) layout: the webhook server holds no Kubernetes
 * credentials and reaches the API server only through the controller's webhook bridge. The
 * callback verification is answered, and a stream.online notification reaches the resource's
 * status (through `POST /v1/callbacks`) within seconds, not only at the next Helix read.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultBudgets } from '../../connectors/index.ts'
import {
  buildWebhookBridge,
  createOperator,
  listenWebhookBridge,
  managerBridgeSource,
  type Operator,
} from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { bridgeSinks } from '../../webhooks/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  type Obj,
  waitFor,
} from './helpers.ts'

const CLIENT_ID = 'sbtwitchsidecar00000000000001'
const CLIENT_SECRET = 'PLANTED-sidecar-secret-91aa'
const EVENTSUB_SECRET = 'PLANTED-sidecar-eventsub-5d'

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))))
    })
  })
}

type Channel = { login: string; live: boolean; lastEvent?: { type: string; messageId?: string } }

describe('TwitchIntegration with the webhook server as a sidecar without credentials', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  let webhooks: ChildProcess
  let bridge: ReturnType<typeof buildWebhookBridge>
  let sinks: ReturnType<typeof bridgeSinks> | undefined
  let dir: string
  let hooksUrl: string
  const logs = capturedLogger('info')

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    defaultBudgets.setLimits('twitch', { ratePerSecond: 500, burst: 500 })
    sandbox = await buildSandbox({
      twitch: {
        clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
        users: [{ login: 'sidecar_one' }],
      },
    })
    await sandbox.listen()
    const port = await freePort()
    hooksUrl = `http://127.0.0.1:${port}`
    operator = createOperator({
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl: hooksUrl,
      endpoints: { allowLoopback: true },
      providerHttp: { timeoutMs: 2_000 },
    })
    await operator.start()
    dir = mkdtempSync(join(tmpdir(), 'sb-twitch-'))
    const socket = join(dir, 'bridge.sock')
    // the controller's half of the bridge as `switchboard controller` wires it: callbacks written
    sinks = bridgeSinks({
      core: operator.manager.clients.core,
      custom: operator.manager.clients.custom,
      logger: logs.logger,
      instance: 'twitch-sidecar',
    })
    bridge = buildWebhookBridge({ source: managerBridgeSource(operator.manager), sinks, logger: logs.logger })
    await listenWebhookBridge(bridge, socket)
    // no --kubeconfig: this process has no way to the API server but the bridge
    webhooks = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, '../../bin/switchboard.ts'),
        'webhooks',
        '--controller-socket',
        socket,
        '--bind-address',
        `127.0.0.1:${port}`,
        '--public-url',
        hooksUrl,
        '--rate-limit',
        '0',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KUBECONFIG: '/nonexistent' } },
    )
    await waitFor(
      'the webhook server',
      async () => ((await fetch(`${hooksUrl}/readyz`)).ok ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    )
  })

  afterAll(async () => {
    webhooks?.kill('SIGTERM')
    await bridge?.close()
    await sinks?.close()
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers the verification and puts a notification into status at once, through the bridge', async () => {
    const ns = await createNamespace(c.core, 'twitch-sidecar')
    await createSecret(c.core, ns, 'twitch', {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      eventsubSecret: EVENTSUB_SECRET,
    })
    await createResource(c, 'TwitchIntegration', ns, 'tw', {
      credentialsSecretRef: { name: 'twitch' },
      endpoints: { api: sandbox.twitchEndpoint, auth: sandbox.twitchEndpoint },
      channels: ['sidecar_one'],
      // a long interval: only the notification can make the channel live within the test
      interval: '1h',
    })
    const get = () => getObj(c.custom, 'twitchintegrations', ns, 'tw')
    const waitObj = (what: string, ok: (o: Obj) => boolean) =>
      waitFor(
        what,
        async () => {
          const o = await get()
          return ok(o) ? o : undefined
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      )
    await waitObj('EventSub enabled', (o) => condition(o, 'EventSubReady')?.status === 'True')
    const [delivery] = await sandbox.twitch.goLive('sidecar_one')
    expect(delivery?.status).toBe(204)
    const started = Date.now()
    const o = await waitObj('live through the notification', (x) => {
      const ch = (x.status?.channels as Channel[] | undefined)?.[0]
      return ch?.live === true && ch.lastEvent?.messageId === delivery?.messageId
    })
    console.log(`twitch (sidecar): stream.online reached status in ${Date.now() - started} ms`)
    expect(o.status?.eventInbox).toBeUndefined()
    expect(logs.text()).not.toContain(CLIENT_SECRET)
    expect(logs.text()).not.toContain(EVENTSUB_SECRET)
  })

  it('with the webhook server stopped, the channel is right within one interval (Helix)', async () => {
    const ns = await createNamespace(c.core, 'twitch-stopped')
    await createSecret(c.core, ns, 'twitch', {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      eventsubSecret: EVENTSUB_SECRET,
    })
    sandbox.twitch.addUser({ login: 'sidecar_two' })
    await createResource(c, 'TwitchIntegration', ns, 'tw', {
      credentialsSecretRef: { name: 'twitch' },
      endpoints: { api: sandbox.twitchEndpoint, auth: sandbox.twitchEndpoint },
      channels: ['sidecar_two'],
      interval: '4s',
    })
    const get = () => getObj(c.custom, 'twitchintegrations', ns, 'tw')
    await waitFor(
      'EventSub enabled',
      async () => {
        const o = await get()
        return condition(o, 'EventSubReady')?.status === 'True' || undefined
      },
      { timeoutMs: 30_000 },
    )
    webhooks.kill('SIGTERM')
    await waitFor('the webhook server stopped', () => (webhooks.exitCode !== null ? true : undefined), {
      timeoutMs: 15_000,
    })
    const [delivery] = await sandbox.twitch.goLive('sidecar_two', { title: 'nobody hears this' })
    // Twitch could not deliver it
    expect(delivery?.status).toBe(0)
    const started = Date.now()
    const o = await waitFor(
      'live through the Helix read',
      async () => {
        const x = await get()
        const ch = (x.status?.channels as Array<Channel & { title?: string }> | undefined)?.[0]
        return ch?.live === true ? ch : undefined
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    )
    const tookMs = Date.now() - started
    console.log(`twitch (webhook server stopped): live through Helix after ${tookMs} ms (interval 4 s)`)
    expect(o.title).toBe('nobody hears this')
    expect(o.lastEvent).toBeUndefined()
    // within one interval, jitter included (10 %), and the time to read and write
    expect(tookMs).toBeLessThan(4_400 + 3_000)
  })
})
