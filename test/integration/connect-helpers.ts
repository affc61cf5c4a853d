/**
 * What the connect-link tests of every provider do the same way: wait for the link a resource
 * publishes, walk a browser's redirects up to the provider's callback, load a page as a browser
 * would, check that planted values reached no log, status or Event, start the webhook server on
 * a port it picks itself, and set up the whole layout they run in (`startConnectFixture`).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'
import {
  buildWebhookBridge,
  createOperator,
  listenWebhookBridge,
  managerBridgeSource,
  type Operator,
  type OperatorOptions,
} from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { bridgeSinks } from '../../webhooks/index.ts'
import { buildSandbox, type Sandbox, type SandboxOptions } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  eventsFor,
  getObj,
  type Obj,
  waitFor,
} from './helpers.ts'

export interface PublishedLink {
  url: string
  expiresAt: string
  obj: Obj
}

/** The link in `status.connect`, once it is there (and differs from `not`). */
export function connectLinkOf(what: string, read: () => Promise<Obj>, not?: string): Promise<PublishedLink> {
  return waitFor(
    `status.connect of ${what}`,
    async () => {
      const o = await read()
      const connect = o.status?.connect as { url?: string; expiresAt?: string } | undefined
      return connect?.url && connect.expiresAt && connect.url !== not
        ? { url: connect.url, expiresAt: connect.expiresAt, obj: o }
        : undefined
    },
    { timeoutMs: 30_000 },
  )
}

/**
 * What a browser does up to the callback: the link (a redirect to the provider's authorize page,
 * sending no Referer), the consent page (a redirect back); returns the callback URL it would load.
 */
export async function followToCallback(
  link: string,
  expected: { authorizeUrl: string; callbackUrl: string },
): Promise<string> {
  const first = await fetch(link, { redirect: 'manual' })
  expect(first.status).toBe(302)
  expect(first.headers.get('referrer-policy')).toBe('no-referrer')
  const consent = first.headers.get('location') as string
  expect(consent.startsWith(`${expected.authorizeUrl}?`)).toBe(true)
  const back = await fetch(consent, { redirect: 'manual' })
  expect(back.status).toBe(302)
  const callback = back.headers.get('location') as string
  expect(callback.startsWith(`${expected.callbackUrl}?`)).toBe(true)
  return callback
}

/** A page loaded as a browser loads it (redirects followed). */
export async function page(url: string) {
  const res = await fetch(url, { redirect: 'follow' })
  return { status: res.status, text: await res.text(), url: res.url, headers: res.headers }
}

/** None of `values` in the logs, the resource's status or its Events. */
export function expectNowhere(where: { logs: string; obj: Obj; events: unknown }, values: readonly string[]) {
  const status = JSON.stringify(where.obj.status)
  const events = JSON.stringify(where.events)
  for (const v of values) {
    expect(where.logs).not.toContain(v)
    expect(status).not.toContain(v)
    expect(events).not.toContain(v)
  }
}

/**
 * Starts `bin/switchboard.ts webhooks` on a port of its own choosing (`--bind-address
 * 127.0.0.1:0`) and resolves with its base URL once it says where it listens. A port picked by
 * the test and bound seconds later by the child, once its sources are loaded, may be taken by
 * then by another process of the machine, which would then answer in its stead.
 */
export async function spawnWebhookServer(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      resolve(import.meta.dirname, '../../bin/switchboard.ts'),
      'webhooks',
      '--bind-address',
      '127.0.0.1:0',
      // the address is said at info level
      '--log-level',
      'info',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: opts.env ?? process.env },
  )
  const url = await new Promise<string>((res, rej) => {
    let buffered = ''
    const timer = setTimeout(() => {
      rej(new Error('the webhook server did not say where it listens'))
    }, opts.timeoutMs ?? 60_000)
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      rej(new Error(`the webhook server exited (${code}) before listening`))
    }
    child.once('exit', onExit)
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        let entry: { msg?: string; address?: string } = {}
        try {
          entry = JSON.parse(line)
        } catch {
          continue
        }
        if (entry.msg === 'serving webhooks' && entry.address) {
          clearTimeout(timer)
          child.off('exit', onExit)
          res(`http://${entry.address}`)
        }
      }
    })
  })
  // the rest of its output is read and dropped, so that it never blocks on a full pipe
  child.stdout?.removeAllListeners('data')
  child.stdout?.resume()
  return { child, url }
}

export interface ConnectFixtureOptions {
  /** Names the bridge's sinks and the temporary directory. */
  name: string
  /** The file's namespace prefixes: each made up front, the controller watches only these. */
  prefixes: readonly string[]
  sandbox?: SandboxOptions
  /** More controller options (a clock for connect links, ...). */
  operator?: Partial<Omit<OperatorOptions, 'kubeConfig' | 'logger' | 'namespaces' | 'publicUrl'>>
  /** More arguments to `switchboard webhooks`. */
  webhookArgs?: readonly string[]
  /** The resource each test's namespace holds, and where its provider's consent page is. */
  resource: { plural: string; name: string; provider: string; authorizeUrl: (sandbox: Sandbox) => string }
  /** Values that must show nowhere (the array is read at each check: a test may add to it). */
  planted?: string[]
}

export interface ConnectFixture {
  c: Clients
  sandbox: Sandbox
  /** The namespace made for each prefix. */
  ns: Record<string, string>
  /** The webhook server's base URL, the one the controller publishes links under. */
  url: string
  logs: ReturnType<typeof capturedLogger>
  /** The controller and the bridge it answers on (new ones after `restartController`). */
  readonly operator: Operator
  readonly bridge: FastifyInstance
  /** Stops the controller and its bridge and starts new ones on the same socket. */
  restartController(): Promise<void>
  /** The resource in `ns` as the API server has it. */
  obj(ns: string): Promise<Obj>
  /** The link the resource in `ns` publishes, once it is there (and differs from `not`). */
  linkOf(ns: string, not?: string): Promise<PublishedLink>
  /** A browser's redirects from `link` up to the provider's callback; the callback URL. */
  toCallback(link: string): Promise<string>
  /** Neither the planted values nor `values` in the logs, the status of `o` or the resource's Events. */
  noSecretsAnywhere(ns: string, o: Obj, ...values: string[]): Promise<void>
  close(): Promise<void>
}

/**
 * The default (sidecar) layout of a connect-link test: the file's namespaces (made up front, so
 * that what other files left in the shared API server, resources whose sandboxes are gone and
 * whose retries would hold the workers, stays out of this controller's watches), the provider
 * sandbox, the real webhook server (`bin/switchboard.ts webhooks`, no kubeconfig: it reaches
 * nothing but the bridge's Unix socket) on a port it picks itself, and an in-process controller
 * publishing links under that port and answering over the bridge. Every request of these tests
 * comes from one loopback address, more than a client's connect budget: the connect rate limit
 * is off (it is tested in connect-routes and connect-tcp-bridge).
 */
export async function startConnectFixture(opts: ConnectFixtureOptions): Promise<ConnectFixture> {
  const c = clients()
  await installCrds(c.kc)
  const ns: Record<string, string> = {}
  for (const prefix of opts.prefixes) ns[prefix] = await createNamespace(c.core, prefix)
  const logs = capturedLogger('debug')
  const dir = mkdtempSync(join(tmpdir(), `sb-${opts.name}-`))
  const socket = join(dir, 'bridge.sock')
  let sandbox: Sandbox | undefined
  let child: ChildProcess | undefined
  let operator: Operator | undefined
  let bridge: FastifyInstance | undefined
  const close = async () => {
    child?.kill('SIGTERM')
    await bridge?.close()
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const sb = await buildSandbox(opts.sandbox)
    sandbox = sb
    await sb.listen()
    // the webhook server waits for the socket
    let url: string
    ;({ child, url } = await spawnWebhookServer(
      ['--controller-socket', socket, '--connect-rate-limit', '0', ...(opts.webhookArgs ?? [])],
      { env: { ...process.env, KUBECONFIG: '/nonexistent' } },
    ))
    const startController = async () => {
      const op = createOperator({
        endpoints: { allowLoopback: true },
        providerHttp: { timeoutMs: 5_000 },
        statusFlushDelayMs: 200,
        ...opts.operator,
        kubeConfig: c.kc,
        logger: logs.logger,
        namespaces: Object.values(ns),
        publicUrl: url,
      })
      operator = op
      await op.start()
      const br = buildWebhookBridge({
        source: managerBridgeSource(op.manager),
        sinks: bridgeSinks({
          core: op.manager.clients.core,
          custom: op.manager.clients.custom,
          logger: logs.logger,
          instance: opts.name,
        }),
        connect: op.connect,
        logger: logs.logger,
      })
      bridge = br
      await listenWebhookBridge(br, socket)
      return { operator: op, bridge: br }
    }
    let current = await startController()
    await waitFor(
      'the webhook server',
      async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined),
      // a process loading the TypeScript sources on a loaded machine (it took over 30 s once)
      { timeoutMs: 60_000, intervalMs: 200 },
    )
    const obj = (namespace: string) => getObj(c.custom, opts.resource.plural, namespace, opts.resource.name)
    return {
      c,
      sandbox: sb,
      ns,
      url,
      logs,
      get operator() {
        return current.operator
      },
      get bridge() {
        return current.bridge
      },
      restartController: async () => {
        await current.bridge.close()
        await current.operator.stop({ timeoutMs: 5_000 })
        current = await startController()
      },
      close,
      obj,
      linkOf: (namespace, not) =>
        connectLinkOf(`${namespace}/${opts.resource.name}`, () => obj(namespace), not),
      toCallback: (link) =>
        followToCallback(link, {
          authorizeUrl: opts.resource.authorizeUrl(sb),
          callbackUrl: `${url}/connect/${opts.resource.provider}/callback`,
        }),
      noSecretsAnywhere: async (namespace, o, ...values) =>
        expectNowhere(
          { logs: logs.text(), obj: o, events: await eventsFor(c.core, namespace, opts.resource.name) },
          [...(opts.planted ?? []), ...values],
        ),
    }
  } catch (err) {
    await close()
    throw err
  }
}
