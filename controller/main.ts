import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { type CoreV1Api, type CustomObjectsApi, KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { createLogger, parseAllowedHosts } from '../connectors/index.ts'
import {
  buildWebhookBridge,
  listenWebhookBridge,
  listenWebhookBridgeTcp,
  MIN_BRIDGE_TOKEN_LENGTH,
  managerBridgeSource,
  type WebhookBridgeSinks,
} from './bridge/index.ts'
import { createOperator } from './operator.ts'
import { parseDuration, shardSelector, tokenFile } from './runtime/index.ts'

const USAGE = `Usage: switchboard controller [options]

Runs the Switchboard controller: reconciles every Switchboard resource in the cluster.

Options (defaults in brackets):
  --kubeconfig PATH                 kubeconfig to use [$KUBECONFIG, then in-cluster]
  --metrics-bind-address HOST:PORT  serve /metrics, /healthz and /readyz [0.0.0.0:8080]; "0" disables
  --leader-elect                    only the holder of a Lease reconciles [off]
  --leader-election-namespace NS    namespace of the Lease [$POD_NAMESPACE, then the in-cluster namespace, then default]
  --leader-election-id NAME         name of the Lease [switchboard-controller]
  --namespaces NS[,NS...]           watch only these namespaces (needs Roles there, not ClusterRoles) [all]
  --shard NAME                      reconcile only objects labelled switchboard.dev/shard=NAME; the Lease
                                    becomes <leader-election-id>-NAME [all objects]
  --default-shard                   reconcile only objects without the switchboard.dev/shard label (the
                                    default shard beside --shard controllers) [all objects]
  --public-url URL                  public base URL of the webhook server, published in status [$SWITCHBOARD_PUBLIC_URL]
  --concurrency N                   workers per controller [4]
  --checkpoint-pages N              a long sync writes its cursor at least every N pages [10]
  --checkpoint-interval DURATION    ... and at the first page after DURATION since the last write [2s];
                                    after a crash at most N pages are sent again
  --sync-heap-growth MIB            during a long sync, compact the heap and give its pages back once
                                    it grew this many MiB since the last time (needs --expose-gc,
                                    as the image runs; 0: never) [0]
  --allowed-hosts P=H[,H][;P=H...]  more hosts a provider's credentials may be sent to, e.g.
                                    softswiss=proxy.example.com;segment=cdp.example.com [none:
                                    the providers' own hosts only, https only]
  --webhook-bridge-socket PATH      answer the webhook server of this pod (its --controller-socket)
                                    on this Unix socket, so that it needs no credentials [off]
  --webhook-bridge-address HOST:PORT  answer a webhook server of its own Deployment (its
                                    --controller-url) on TCP, each request with the token of
                                    --webhook-bridge-token-file [off]
  --webhook-bridge-token-file PATH  the bearer token of the TCP bridge (at least 32 characters)
  --allow-loopback-endpoints        let spec endpoints point to localhost / 127.0.0.1 (tests,
                                    the demo, the provider sandbox) [off]
  --provider-timeout DURATION       timeout of each provider request, e.g. 15s [each connector's own]
  --connect-link-ttl DURATION       how long a connect link in status.connect works [15m]
  --log-level LEVEL                 trace, debug, info, warn, error [info]
  -h, --help                        show this help
`

/** What the entry point adds to the controller (bin/ wires the webhook bridge's writers in). */
export interface ControllerExtensions {
  /**
   * Where the webhook bridge hands refused deliveries and callback data (the webhook server's
   * Event and status writers, run here with the controller's clients). Without it the bridge
   * answers both routes 404.
   */
  bridgeSinks?: (deps: {
    clients: { core: CoreV1Api; custom: CustomObjectsApi }
    logger: Logger
    instance: string
  }) => WebhookBridgeSinks & { close(o?: { timeoutMs?: number }): Promise<void> }
}

export async function runController(argv: string[], extensions: ControllerExtensions = {}): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'metrics-bind-address': { type: 'string', default: '0.0.0.0:8080' },
      'leader-elect': { type: 'boolean', default: false },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string', default: 'switchboard-controller' },
      namespaces: { type: 'string' },
      shard: { type: 'string' },
      'default-shard': { type: 'boolean', default: false },
      'public-url': { type: 'string', default: process.env.SWITCHBOARD_PUBLIC_URL },
      concurrency: { type: 'string', default: '4' },
      'checkpoint-pages': { type: 'string', default: '10' },
      'checkpoint-interval': { type: 'string', default: '2s' },
      'sync-heap-growth': { type: 'string', default: '0' },
      'allowed-hosts': { type: 'string', default: '' },
      'allow-loopback-endpoints': { type: 'boolean', default: false },
      'webhook-bridge-socket': { type: 'string' },
      'webhook-bridge-address': { type: 'string' },
      'webhook-bridge-token-file': { type: 'string' },
      'provider-timeout': { type: 'string' },
      'connect-link-ttl': { type: 'string', default: '15m' },
      'log-level': { type: 'string', default: process.env.LOG_LEVEL ?? 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const logger = createLogger({ level: values['log-level'], name: 'controller' })
  const kubeConfig = new KubeConfig()
  if (values.kubeconfig) kubeConfig.loadFromFile(values.kubeconfig)
  else kubeConfig.loadFromDefault()

  const concurrency = wholeNumber('--concurrency', values.concurrency, 1)
  const checkpointPages = wholeNumber('--checkpoint-pages', values['checkpoint-pages'], 1)
  const heapGrowthMiB = wholeNumber('--sync-heap-growth', values['sync-heap-growth'], 0, 'MiB (0 for never)')
  if (concurrency === undefined || checkpointPages === undefined || heapGrowthMiB === undefined) return 2
  let checkpointMs: number
  try {
    checkpointMs = parseDuration(values['checkpoint-interval'], '--checkpoint-interval')
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    return 2
  }
  let allowedHosts: Record<string, string[]>
  try {
    allowedHosts = parseAllowedHosts(values['allowed-hosts'])
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    return 2
  }
  let connectTtlMs: number
  try {
    connectTtlMs = parseDuration(values['connect-link-ttl'], '--connect-link-ttl')
    if (!(connectTtlMs >= 1_000)) throw new Error('too short')
  } catch {
    process.stderr.write(
      `--connect-link-ttl must be a duration of at least 1s such as 15m, got "${values['connect-link-ttl']}"\n`,
    )
    return 2
  }
  let providerTimeoutMs: number | undefined
  if (values['provider-timeout'] !== undefined) {
    try {
      providerTimeoutMs = parseDuration(values['provider-timeout'], '--provider-timeout')
    } catch {
      process.stderr.write(
        `--provider-timeout must be a duration such as 15s, got "${values['provider-timeout']}"\n`,
      )
      return 2
    }
  }
  const metricsAddress = parseAddress(values['metrics-bind-address'])
  if (metricsAddress === null) {
    process.stderr.write(
      `--metrics-bind-address must be HOST:PORT or "0", got "${values['metrics-bind-address']}"\n`,
    )
    return 2
  }
  let bridgeTcp: { host: string; port: number } | undefined
  let bridgeToken: (() => string) | undefined
  if (values['webhook-bridge-address'] !== undefined) {
    const a = parseAddress(values['webhook-bridge-address'])
    if (!a) {
      process.stderr.write(
        `--webhook-bridge-address must be HOST:PORT, got "${values['webhook-bridge-address']}"\n`,
      )
      return 2
    }
    if (!values['webhook-bridge-token-file']) {
      process.stderr.write('--webhook-bridge-address needs --webhook-bridge-token-file\n')
      return 2
    }
    try {
      // read again as the kubelet updates the mounted Secret
      bridgeToken = tokenFile(values['webhook-bridge-token-file'])
    } catch (err) {
      process.stderr.write(`--webhook-bridge-token-file: ${(err as Error).message}\n`)
      return 2
    }
    if (bridgeToken().length < MIN_BRIDGE_TOKEN_LENGTH) {
      process.stderr.write(
        `--webhook-bridge-token-file must hold at least ${MIN_BRIDGE_TOKEN_LENGTH} characters\n`,
      )
      return 2
    }
    bridgeTcp = a
  }

  if (values.shard !== undefined && values['default-shard']) {
    process.stderr.write('--shard and --default-shard exclude each other\n')
    return 2
  }
  const shard =
    values.shard !== undefined ? { name: values.shard } : values['default-shard'] ? 'default' : undefined
  try {
    shardSelector(shard)
  } catch (err) {
    process.stderr.write(`--shard: ${(err as Error).message}\n`)
    return 2
  }
  const leaseName =
    values.shard !== undefined
      ? `${values['leader-election-id']}-${values.shard}`
      : values['leader-election-id']

  let exitCode = 0
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })
  const operator = createOperator({
    kubeConfig,
    logger,
    concurrency,
    checkpoints: { everyPages: checkpointPages, everyMs: checkpointMs },
    heapGrowthBytes: heapGrowthMiB * 1024 * 1024,
    metricsAddress,
    endpoints: { allowLoopback: values['allow-loopback-endpoints'], hosts: allowedHosts },
    ...(providerTimeoutMs === undefined ? {} : { providerHttp: { timeoutMs: providerTimeoutMs } }),
    connect: { ttlMs: connectTtlMs },
    ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
    ...(shard ? { shard } : {}),
    namespaces: values.namespaces
      ?.split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    leaderElection: values['leader-elect']
      ? {
          enabled: true,
          namespace: values['leader-election-namespace'] ?? defaultNamespace(),
          name: leaseName,
        }
      : undefined,
    onLostLeadership: () => {
      // Like Go operators: a replica that lost its lease exits and is restarted clean.
      exitCode = 1
      resolveDone()
    },
  })

  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    resolveDone()
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))

  await operator.start()
  const socket = values['webhook-bridge-socket']
  const sinks =
    (socket || bridgeTcp) && extensions.bridgeSinks
      ? extensions.bridgeSinks({
          clients: operator.manager.clients,
          logger,
          instance: operator.manager.identity,
        })
      : undefined
  const bridgeOf = (token?: () => string) =>
    buildWebhookBridge({
      source: managerBridgeSource(operator.manager),
      connect: operator.connect,
      logger,
      ...(sinks ? { sinks } : {}),
      ...(token === undefined ? {} : { token }),
    })
  const bridges = []
  if (socket) {
    const bridge = bridgeOf()
    bridges.push(bridge)
    await listenWebhookBridge(bridge, socket)
    logger.info({ socket }, 'answering the webhook server on the bridge socket')
  }
  if (bridgeTcp) {
    const bridge = bridgeOf(bridgeToken)
    bridges.push(bridge)
    const port = await listenWebhookBridgeTcp(bridge, bridgeTcp)
    logger.info({ address: `${bridgeTcp.host}:${port}` }, 'answering webhook servers on the TCP bridge')
  }
  await done
  for (const bridge of bridges) await bridge.close()
  await sinks?.close({ timeoutMs: 10_000 })
  await operator.stop({ timeoutMs: 25_000 })
  return exitCode
}

function parseAddress(value: string): { host: string; port: number } | undefined | null {
  if (value === '0' || value === '') return undefined
  const i = value.lastIndexOf(':')
  if (i < 0) return null
  const host = value.slice(0, i) || '0.0.0.0'
  const port = Number.parseInt(value.slice(i + 1), 10)
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null
  return { host, port }
}

function defaultNamespace(): string {
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim()
  } catch {
    return 'default'
  }
}

/** A whole-number option of at least `min`; undefined once stderr says what was wrong with it. */
function wholeNumber(flag: string, raw: string, min: number, unit?: string): number | undefined {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN
  if (Number.isSafeInteger(n) && n >= min) return n
  const what = min >= 1 ? 'a positive integer' : `a whole number${unit ? ` of ${unit}` : ''}`
  process.stderr.write(`${flag} must be ${what}, got "${raw}"\n`)
  return undefined
}
