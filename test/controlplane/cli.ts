// Runs a local control plane (etcd + kube-apiserver) until Ctrl-C or SIGTERM.
//
//   node test/controlplane/cli.ts [--kubeconfig PATH] [--log-dir DIR]
//
// Prints the server URL, a `KUBECONFIG=<path>` line (scripts wait for it) and an
// `export KUBECONFIG=...` line to paste into a shell. With --kubeconfig the kubeconfig is also
// copied to PATH; that copy is removed again on stop, since it points at a server that is gone.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { startControlPlane } from './controlplane.ts'

const usage = 'usage: node test/controlplane/cli.ts [--kubeconfig PATH] [--log-dir DIR]'

let args: { kubeconfig?: string | undefined; 'log-dir'?: string | undefined; help?: boolean | undefined }
try {
  args = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'log-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${usage}\n`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const logger = { info: (msg: string) => process.stderr.write(`controlplane: ${msg}\n`) }
const started = Date.now()
logger.info('starting etcd and kube-apiserver')

// A signal while starting exits at once: the process 'exit' hook kills the components and
// removes their data. Once running, the first signal stops cleanly, a second one exits at once.
let stopNow: (() => void) | undefined
function onSignal(signal: NodeJS.Signals): void {
  if (!stopNow) {
    logger.info(`${signal}, exiting`)
    process.exit(1)
  }
  stopNow()
  stopNow = undefined
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

const cp = await startControlPlane({
  logger,
  ...(args['log-dir'] ? { logDir: resolve(args['log-dir']) } : {}),
}).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`)
  process.exit(1)
})

let kubeconfigPath = cp.kubeconfigPath
const copy = args.kubeconfig ? resolve(args.kubeconfig) : undefined
if (copy) {
  try {
    mkdirSync(dirname(copy), { recursive: true })
    copyFileSync(cp.kubeconfigPath, copy)
    kubeconfigPath = copy
  } catch (err) {
    process.stderr.write(`could not copy the kubeconfig to ${copy}: ${(err as Error).message}\n`)
    await cp.stop()
    process.exit(1)
  }
}

const keepAlive = setInterval(() => {}, 1 << 30)

async function shutdown(): Promise<void> {
  logger.info('stopping')
  const t = Date.now()
  await cp.stop()
  if (copy) rmSync(copy, { force: true })
  clearInterval(keepAlive)
  logger.info(`stopped in ${Date.now() - t} ms`)
  process.exit(0)
}

process.stdout.write(
  [
    `server: ${cp.server} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    `logs: ${cp.logDir}`,
    `KUBECONFIG=${kubeconfigPath}`,
    `export KUBECONFIG=${kubeconfigPath}`,
    'Press Ctrl-C to stop.',
    '',
  ].join('\n'),
)

stopNow = () => void shutdown()
