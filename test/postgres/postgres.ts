/**
 * A throwaway PostgreSQL server for the tests, the demo and the benchmarks, as the control plane
 * is one for the API server: Debian's `postgresql` package (installed by hack/setup.sh), a fresh
 * data directory under the system's temp dir, a free loopback port, password authentication
 * (scram-sha-256) for TCP so a wrong password is refused as it would be in production. When run
 * as root, initdb and postgres run as the `postgres` user the package created (PostgreSQL
 * refuses to run as root). `stop()` shuts it down and removes the data directory.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Where Debian's postgresql-15 puts its server binaries. */
export const DEFAULT_PG_BIN = '/usr/lib/postgresql/15/bin'

export interface LocalPostgres {
  host: '127.0.0.1'
  port: number
  /** The superuser the server was initialised with. */
  user: string
  password: string
  database: string
  /** `postgres://user:password@127.0.0.1:port/database` */
  url: string
  dataDir: string
  /** Server log (kept until stop()). */
  logPath: string
  stop(): Promise<void>
}

export interface StartPostgresOptions {
  /** Directory of initdb and postgres. Default `$SWITCHBOARD_PG_BIN`, then DEFAULT_PG_BIN, then PATH. */
  bin?: string
  /** Port to listen on; default a free one. */
  port?: number
  /** Superuser name; default `switchboard`. */
  user?: string
  /** Superuser password; default random. */
  password?: string
  /** Extra `-c name=value` server settings. Default: fsync off (a test server loses nothing worth keeping). */
  settings?: Record<string, string>
  logger?: { info(msg: string): void }
}

const live = new Set<ChildProcess>()
let hook = false

export function pgBinDir(opts: { bin?: string } = {}): string {
  const candidates = [opts.bin, process.env.SWITCHBOARD_PG_BIN, DEFAULT_PG_BIN].filter(
    (d): d is string => !!d,
  )
  for (const dir of candidates)
    if (existsSync(join(dir, 'postgres')) && existsSync(join(dir, 'initdb'))) return dir
  try {
    const initdb = execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim()
    if (initdb) return initdb.slice(0, initdb.lastIndexOf('/'))
  } catch {
    // not on PATH
  }
  throw new Error(
    `PostgreSQL server binaries (initdb, postgres) not found in ${candidates.join(', ')} or on PATH: ` +
      'run `make setup` (installs Debian package postgresql) or set SWITCHBOARD_PG_BIN',
  )
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** uid/gid to run as: ourselves, or the `postgres` user when we are root. */
function identity(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {}
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    throw new Error(
      'running as root and there is no `postgres` user to run PostgreSQL as (apt-get install postgresql)',
    )
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<LocalPostgres> {
  const bin = pgBinDir(opts)
  const user = opts.user ?? 'switchboard'
  const password = opts.password ?? randomBytes(12).toString('hex')
  const port = opts.port ?? (await freePort())
  const root = mkdtempSync(join(tmpdir(), 'switchboard-pg-'))
  const dataDir = join(root, 'data')
  const logPath = join(root, 'postgres.log')
  const pwfile = join(root, 'pwfile')
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 })
  const id = identity()
  if (id.uid !== undefined && id.gid !== undefined) {
    chownSync(root, id.uid, id.gid)
    chownSync(pwfile, id.uid, id.gid)
  }
  const spawnOpts = { ...id, cwd: root }
  execFileSync(
    join(bin, 'initdb'),
    [
      '-D',
      dataDir,
      '-U',
      user,
      `--pwfile=${pwfile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=trust',
      '-E',
      'UTF8',
      '--no-sync',
    ],
    { ...spawnOpts, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  rmSync(pwfile)
  const settings = { fsync: 'off', full_page_writes: 'off', max_connections: '200', ...opts.settings }
  const args = ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', root]
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`)
  writeFileSync(logPath, '')
  if (id.uid !== undefined && id.gid !== undefined) chownSync(logPath, id.uid, id.gid)
  const child = spawn(join(bin, 'postgres'), args, { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks: string[] = []
  const onData = (b: Buffer) => {
    chunks.push(b.toString('utf8'))
    try {
      writeFileSync(logPath, chunks.join(''))
    } catch {
      // the directory is gone after stop()
    }
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  live.add(child)
  if (!hook) {
    hook = true
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL')
    })
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.once('exit', () => live.delete(child))
  const deadline = Date.now() + 30_000
  for (;;) {
    if (chunks.join('').includes('database system is ready to accept connections')) break
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL')
      const log = chunks.join('').slice(-2000)
      rmSync(root, { recursive: true, force: true })
      throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}; its log:\n${log}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  const database = 'postgres'
  const url = `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`
  opts.logger?.info(`PostgreSQL ready on 127.0.0.1:${port} (data ${dataDir})`)
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    database,
    url,
    dataDir,
    logPath,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGINT') // fast shutdown
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/** The server log's last lines, for failure messages. */
export function postgresLogTail(pg: LocalPostgres, chars = 2000): string {
  try {
    return readFileSync(pg.logPath, 'utf8').slice(-chars)
  } catch {
    return ''
  }
}
