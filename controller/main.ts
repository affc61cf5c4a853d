import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { KubeConfig } from '@kubernetes/client-node'
import { createLogger } from '../connectors/index.ts'
import { createOperator } from './operator.ts'
import { parseDuration } from './runtime/index.ts'

const USAGE = `Usage: switchboard controller [options]

Runs the Switchboard controller: reconciles every Switchboard resource in the cluster.

Options (defaults in brackets):
  --kubeconfig PATH                 kubeconfig to use [$KUBECONFIG, then in-cluster]
  --metrics-bind-address HOST:PORT  serve /metrics, /healthz and /readyz [0.0.0.0:8080]; "0" disables
  --leader-elect                    only the holder of a Lease reconciles [off]
  --leader-election-namespace NS    namespace of the Lease [$POD_NAMESPACE, then the in-cluster namespace, then default]
  --leader-election-id NAME         name of the Lease [switchboard-controller]
  --namespaces NS[,NS...]           watch only these namespaces (needs Roles there, not ClusterRoles) [all]
  --public-url URL                  public base URL of the webhook server, published in status [$SWITCHBOARD_PUBLIC_URL]
  --concurrency N                   workers per controller [4]
  --provider-timeout DURATION       timeout of each provider request, e.g. 15s [each connector's own]
  --log-level LEVEL                 trace, debug, info, warn, error [info]
  -h, --help                        show this help
`

export async function runController(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'metrics-bind-address': { type: 'string', default: '0.0.0.0:8080' },
      'leader-elect': { type: 'boolean', default: false },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string', default: 'switchboard-controller' },
      namespaces: { type: 'string' },
      'public-url': { type: 'string', default: process.env.SWITCHBOARD_PUBLIC_URL },
      concurrency: { type: 'string', default: '4' },
      'provider-timeout': { type: 'string' },
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

  const concurrency = Number.parseInt(values.concurrency, 10)
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    process.stderr.write(`--concurrency must be a positive integer, got "${values.concurrency}"\n`)
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

  let exitCode = 0
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve
  })
  const operator = createOperator({
    kubeConfig,
    logger,
    concurrency,
    metricsAddress,
    ...(providerTimeoutMs === undefined ? {} : { providerHttp: { timeoutMs: providerTimeoutMs } }),
    ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
    namespaces: values.namespaces
      ?.split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    leaderElection: values['leader-elect']
      ? {
          enabled: true,
          namespace: values['leader-election-namespace'] ?? defaultNamespace(),
          name: values['leader-election-id'],
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
  await done
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
