// Runs a throwaway PostgreSQL server (Debian's postgresql package) until Ctrl-C or SIGTERM.
//
//   node test/postgres/cli.ts [--port PORT] [--password PASSWORD]
//
// Prints a `PG_URL=postgres://...` line (scripts wait for it). The data directory is removed on stop.
import { parseArgs } from 'node:util'
import { startPostgres } from './postgres.ts'

const usage = 'usage: node test/postgres/cli.ts [--port PORT] [--password PASSWORD]'
let args: { port?: string | undefined; password?: string | undefined; help?: boolean | undefined }
try {
  args = parseArgs({
    options: {
      port: { type: 'string' },
      password: { type: 'string' },
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

const logger = { info: (msg: string) => process.stderr.write(`postgres: ${msg}\n`) }
let stopping = false
const pg = await startPostgres({
  ...(args.port ? { port: Number(args.port) } : {}),
  ...(args.password ? { password: args.password } : {}),
  logger,
})
process.stdout.write(`PG_URL=${pg.url}\n`)
const stop = async (signal: string) => {
  if (stopping) process.exit(1)
  stopping = true
  logger.info(`${signal}, stopping`)
  await pg.stop()
  process.exit(0)
}
process.on('SIGINT', () => void stop('SIGINT'))
process.on('SIGTERM', () => void stop('SIGTERM'))
