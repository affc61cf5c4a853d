import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { KubeConfig } from '@kubernetes/client-node'
import type { FastifyPluginAsync } from 'fastify'
import { createLogger } from '../connectors/index.ts'
import { WEBHOOK_KINDS } from '../controller/api/index.ts'
import {
  EventRecorder,
  makeClients,
  parseDuration,
  tokenFile,
  withSharedConnections,
} from '../controller/runtime/index.ts'
import { buildApp, DEFAULT_BODY_LIMIT, type RateLimitSetting, type TrustProxy } from './app.ts'
import { type BridgeEndpoint, BridgeTargetResolver, bridgePatcher } from './bridge-resolver.ts'
import { BridgeCallbackForwarder, BridgeRejectForwarder } from './bridge-sinks.ts'
import { type CallbackSink, StatusCallbackSink } from './callbacks.ts'
import { connectRoutes, DEFAULT_CONNECT_RATE_LIMIT } from './connect.ts'
import { KubernetesTargetResolver } from './kube-resolver.ts'
import { WebhookMetrics } from './metrics.ts'
import { annotationPatcher, CoalescingRequester } from './reconcile.ts'
import type { RejectReporter } from './rejects.ts'
import type { TargetResolver } from './targets.ts'

const USAGE = `Usage: switchboard webhooks [options]

Runs the Switchboard webhook server: verifies the providers' webhooks and asks the controller
to reconcile the resource each one is for. Serves /metrics, /healthz and /readyz on the same port.

Options (defaults in brackets):
  --kubeconfig PATH          kubeconfig to use [$KUBECONFIG, then in-cluster]
  --bind-address HOST:PORT   where to listen (plain HTTP; TLS ends at the Ingress) [0.0.0.0:9443]
  --public-url URL           public base URL the providers call, e.g. https://hooks.example.com
                             (Twilio signatures are verified against it) [$SWITCHBOARD_PUBLIC_URL]
  --body-limit SIZE          largest accepted body: bytes, or with KiB/MiB [1MiB]
  --rate-limit N[/DURATION]  requests per webhook path per window; 0 disables [100/1s]
  --connect-rate-limit N[/DURATION]  requests to /connect/... per client address per window;
                             0 disables [30/1m]
  --trust-proxy HOPS|CIDR[,CIDR...]  take the client address from X-Forwarded-For set by this
                             many proxies in front (1 behind an Ingress), or by proxies at these
                             addresses; 0 trusts none (the peer's address) [0]
  --namespaces NS[,NS...]    watch only these namespaces (needs Roles there, not ClusterRoles) [all]
  --controller-socket PATH   no Kubernetes credentials: ask the controller of this pod (its
                             --webhook-bridge-socket) for routing, webhook secrets, reconciles and
                             the published CalendarSyncs, and hand it refused deliveries (it
                             records the Events) and callback data (it writes them to status)
  --controller-url URL       the same over TCP, for a webhook server of its own Deployment: the
                             controller's --webhook-bridge-address, e.g. http://sb-bridge:9444
  --controller-token-file PATH  the bearer token for --controller-url (the Secret both mount)
  --log-level LEVEL          trace, debug, info, warn, error [info]
  -h, --help                 show this help
`

/** The Switchboard objects the webhook server has listed, for routes that serve what they publish. */
export interface WatchedObjects {
  object(kind: string, namespace: string, name: string): unknown
}

/** What the entry point adds to the webhook server (bin/ wires the calendar feeds in). */
export interface WebhookServerExtensions {
  /** Routes outside `/hooks`, built from the objects the server watches. */
  publicRoutes?: (objects: WatchedObjects) => readonly FastifyPluginAsync[]
}

/** `switchboard webhooks`: resolves with the exit code once stopped (SIGTERM/SIGINT). */
export async function runWebhooks(argv: string[], extensions: WebhookServerExtensions = {}): Promise<number> {
  let values: ReturnType<typeof parseFlags>
  try {
    values = parseFlags(argv)
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const address = parseAddress(values['bind-address'])
  const bodyLimit = parseSize(values['body-limit'])
  const rateLimit = parseRateLimit(values['rate-limit'])
  const connectRateLimit = parseRateLimit(values['connect-rate-limit'])
  const trustProxy = parseTrustProxy(values['trust-proxy'])
  const publicUrl = values['public-url'] ?? process.env.SWITCHBOARD_PUBLIC_URL
  const problems = [
    address ? undefined : `--bind-address must be HOST:PORT, got "${values['bind-address']}"`,
    bodyLimit
      ? undefined
      : `--body-limit must be a size such as 1048576, 512KiB or 1MiB, got "${values['body-limit']}"`,
    rateLimit !== undefined
      ? undefined
      : `--rate-limit must be N or N/DURATION (e.g. 100/1s) or 0, got "${values['rate-limit']}"`,
    connectRateLimit !== undefined
      ? undefined
      : `--connect-rate-limit must be N or N/DURATION (e.g. 30/1m) or 0, got "${values['connect-rate-limit']}"`,
    trustProxy !== undefined
      ? undefined
      : `--trust-proxy must be a number of proxies (0-10) or addresses/CIDRs separated by commas, got "${values['trust-proxy']}"`,
    publicUrl === undefined || /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(publicUrl)
      ? undefined
      : `--public-url must be an http(s) URL without query, got "${publicUrl}"`,
  ].filter((p) => p !== undefined)
  if (
    problems.length > 0 ||
    !address ||
    !bodyLimit ||
    rateLimit === undefined ||
    connectRateLimit === undefined ||
    trustProxy === undefined
  ) {
    process.stderr.write(`${problems.join('\n')}\n`)
    return 2
  }

  const logger = createLogger({ level: values['log-level'], name: 'webhooks' })
  const metrics = new WebhookMetrics()
  let endpoint: BridgeEndpoint | undefined = values['controller-socket']
  if (values['controller-url'] !== undefined) {
    const url = values['controller-url']
    const file = values['controller-token-file']
    if (endpoint !== undefined) {
      process.stderr.write('--controller-socket and --controller-url exclude each other\n')
      return 2
    }
    if (!/^http:\/\/[^\s/?#]+\/?$/.test(url)) {
      process.stderr.write(`--controller-url must be http://HOST:PORT, got "${url}"\n`)
      return 2
    }
    if (!file) {
      process.stderr.write('--controller-url needs --controller-token-file\n')
      return 2
    }
    let token: () => string
    try {
      // read again as the kubelet updates the mounted Secret
      token = tokenFile(file)
    } catch (err) {
      process.stderr.write(`--controller-token-file: ${(err as Error).message}\n`)
      return 2
    }
    endpoint = { url, token }
  }
  const socket = endpoint
  let resolver: TargetResolver & { start(): Promise<void>; stop(): Promise<void> }
  let requester: CoalescingRequester
  let callbacks: CallbackSink & { close(o: { timeoutMs: number }): Promise<void> }
  let events: EventRecorder | undefined
  let rejects: (RejectReporter & { close(o: { timeoutMs: number }): Promise<void> }) | undefined
  let watched: WatchedObjects
  if (socket) {
    // the container facing the internet holds no credentials; the controller of its pod answers
    const bridge = new BridgeTargetResolver({ endpoint: socket, logger })
    resolver = bridge
    watched = bridge
    requester = new CoalescingRequester({
      patch: bridgePatcher(socket),
      logger,
      onPatch: (result) => metrics.reconcilePatches.inc({ result }),
    })
    callbacks = new BridgeCallbackForwarder({
      endpoint: socket,
      logger,
      onResult: (result) => metrics.callbackPatches.inc({ result }),
    })
    rejects = new BridgeRejectForwarder({
      endpoint: socket,
      logger,
      onResult: (result) => metrics.events.inc({ result }),
    })
  } else {
    const loaded = new KubeConfig()
    if (values.kubeconfig) loaded.loadFromFile(values.kubeconfig)
    else loaded.loadFromDefault()
    // One connection pool for every API call and watch of the process.
    const kubeConfig = withSharedConnections(loaded)
    const clients = makeClients(kubeConfig)
    const identity = `${process.env.POD_NAME || hostname()}_${randomBytes(4).toString('hex')}`
    const namespaces = values.namespaces
      ?.split(',')
      .map((n) => n.trim())
      .filter(Boolean)
    const kube = new KubernetesTargetResolver({ kubeConfig, logger, namespaces })
    resolver = kube
    watched = kube
    requester = new CoalescingRequester({
      patch: annotationPatcher(clients.custom),
      logger,
      onPatch: (result) => metrics.reconcilePatches.inc({ result }),
    })
    const callbackFields: Record<string, string> = {}
    for (const k of WEBHOOK_KINDS) if (k.callbackStatusField) callbackFields[k.kind] = k.callbackStatusField
    callbacks = new StatusCallbackSink({
      custom: clients.custom,
      fields: callbackFields,
      logger,
      onPatch: (result) => metrics.callbackPatches.inc({ result }),
    })
    events = new EventRecorder({
      core: clients.core,
      component: 'switchboard-webhooks',
      instance: identity,
      logger,
    })
  }
  const app = buildApp({
    resolver,
    requester,
    callbacks,
    ...(events ? { events } : {}),
    ...(rejects ? { rejects } : {}),
    metrics,
    logger,
    publicUrl,
    bodyLimit,
    rateLimit,
    trustProxy,
    publicRoutes: [
      ...(extensions.publicRoutes?.(watched) ?? []),
      // connect links need the controller, which holds the OAuth client secrets (docs/connect.md)
      ...(socket
        ? [
            connectRoutes({
              endpoint: socket,
              logger,
              rateLimit: connectRateLimit && { ...connectRateLimit, cache: DEFAULT_CONNECT_RATE_LIMIT.cache },
            }),
          ]
        : []),
    ],
  })

  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down')
    resolveDone()
  }
  const onTerm = () => shutdown('SIGTERM')
  const onInt = () => shutdown('SIGINT')
  process.once('SIGTERM', onTerm)
  process.once('SIGINT', onInt)

  try {
    await app.listen({ host: address.host, port: address.port })
    const bound = app.server.address()
    const port = bound && typeof bound === 'object' ? bound.port : address.port
    logger.info(
      {
        address: `${address.host}:${port}`,
        publicUrl: publicUrl ?? null,
        bodyLimit,
        rateLimit,
        connectRateLimit: socket ? connectRateLimit : null,
        trustProxy: values['trust-proxy'],
      },
      'serving webhooks',
    )
    // /readyz answers 503 until every installed kind has been listed
    await Promise.race([resolver.start(), done])
    if (resolver.ready()) {
      logger.info(
        resolver instanceof KubernetesTargetResolver
          ? { kinds: resolver.watching, skipped: resolver.skipped }
          : typeof socket === 'string'
            ? { controllerSocket: socket }
            : { controllerUrl: socket?.url },
        'caches synced',
      )
    }
    await done
  } finally {
    process.off('SIGTERM', onTerm)
    process.off('SIGINT', onInt)
    // stop taking requests (in-flight ones finish), then send the pending trailing patches
    await app.close()
    await Promise.all([
      requester.close({ timeoutMs: 10_000 }),
      callbacks.close({ timeoutMs: 10_000 }),
      rejects?.close({ timeoutMs: 2_000 }),
    ])
    await resolver.stop()
    logger.info('webhook server stopped')
  }
  return 0
}

function parseFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'bind-address': { type: 'string', default: '0.0.0.0:9443' },
      'public-url': { type: 'string' },
      'body-limit': { type: 'string', default: String(DEFAULT_BODY_LIMIT) },
      'rate-limit': { type: 'string', default: '100/1s' },
      'connect-rate-limit': { type: 'string', default: '30/1m' },
      'trust-proxy': { type: 'string', default: '0' },
      namespaces: { type: 'string' },
      'controller-socket': { type: 'string' },
      'controller-url': { type: 'string' },
      'controller-token-file': { type: 'string' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values
}

/** `HOST:PORT` (IPv6 hosts in brackets); undefined if malformed. */
export function parseAddress(value: string): { host: string; port: number } | undefined {
  const i = value.lastIndexOf(':')
  if (i < 0) return undefined
  const host = value.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0'
  const portText = value.slice(i + 1)
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port > 65535) return undefined
  return { host, port }
}

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 * 1024, kb: 1000, mb: 1000 * 1000 }

/** `1048576`, `512KiB`, `1MiB` (also kB/MB) → bytes; undefined if malformed or not positive. */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined
  if (!m || unit === undefined) return undefined
  const bytes = Math.floor(Number(m[1]) * unit)
  return bytes >= 1 && bytes <= 1024 * 1024 * 1024 ? bytes : undefined
}

/** `N` (per second), `N/DURATION` (e.g. `600/1m`) or `0` (off); undefined if malformed. */
export function parseRateLimit(value: string): RateLimitSetting | false | undefined {
  if (value.trim() === '0') return false
  const [n, window = '1s'] = value.split('/')
  if (!n || !/^\d+$/.test(n) || Number(n) < 1) return undefined
  let timeWindowMs: number
  try {
    timeWindowMs = parseDuration(window, '--rate-limit')
  } catch {
    return undefined
  }
  if (!(timeWindowMs >= 1)) return undefined
  return { max: Number(n), timeWindowMs }
}

/**
 * `--trust-proxy`: `0` (the peer's address), a number of proxies in front (the client is the
 * address that many hops back in X-Forwarded-For, so one a client writes itself is never taken),
 * or the proxies' addresses/CIDRs; undefined if malformed.
 */
export function parseTrustProxy(value: string): TrustProxy | undefined {
  const v = value.trim()
  if (/^\d+$/.test(v)) {
    const hops = Number(v)
    if (hops > 10) return undefined
    return hops === 0 ? false : (_address: string, hop: number) => hop < hops
  }
  const list = v.split(',').map((x) => x.trim())
  const addressOrCidr = (x: string) => {
    const [ip = '', prefix, ...rest] = x.split('/')
    const family = isIP(ip)
    if (family === 0 || rest.length > 0) return false
    if (prefix === undefined) return true
    return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
  }
  return list.length > 0 && list.every(addressOrCidr) ? list : undefined
}
