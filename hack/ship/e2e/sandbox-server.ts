/**
 * The provider sandbox as a cluster Service, for `make kind-e2e`: the same sandbox as
 * `node test/sandbox/cli.ts`, listening on all interfaces of its pod (the CLI binds to loopback
 * only, which is right on a developer's machine and useless in a pod).
 *
 *   node hack/ship/e2e/sandbox-server.ts [--port 8600] [--config file.json]
 */
import { parseArgs } from 'node:util'
import { buildSandbox, loadConfig } from '../../../test/sandbox/index.ts'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8600' },
    host: { type: 'string', default: '0.0.0.0' },
    config: { type: 'string' },
  },
  strict: true,
})
const options = values.config ? await loadConfig(values.config) : {}
const sandbox = await buildSandbox({ ...options, logger: true })
const url = await sandbox.listen(Number(values.port), values.host)
process.stdout.write(`SANDBOX_URL=${url}\n`)
const stop = () => {
  sandbox.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
