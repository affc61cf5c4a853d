import { type ChildProcess, spawn } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { KubeConfig } from '@kubernetes/client-node'
import { stringify } from 'yaml'
import { type Binaries, type BinariesLogger, findBinaries } from './binaries.ts'

/** Name of the context (and cluster) in the kubeconfig a control plane writes. */
export const CONTEXT_NAME = 'switchboard-local'
/** The identity the kubeconfig authenticates as: a static token in group system:masters. */
export const ADMIN_USER = 'switchboard-admin'

export interface ControlPlane {
  /** https://127.0.0.1:PORT */
  server: string
  /** A kubeconfig (context switchboard-local) with the admin token and the serving CA. */
  kubeconfigPath: string
  /** A fresh KubeConfig loaded from kubeconfigPath. */
  kubeConfig(): KubeConfig
  /** Temporary directory holding etcd data, certificates, the kubeconfig and (by default) logs. */
  dataDir: string
  /** Where etcd.log and kube-apiserver.log are written. */
  logDir: string
  /** Stops kube-apiserver then etcd (SIGTERM, SIGKILL after a grace period) and removes dataDir. */
  stop(): Promise<void>
  /**
   * Stops kube-apiserver and etcd and starts them again on the same ports with the same data and
   * serving certificate (so the kubeconfig stays valid); resolves once /readyz answers ok again.
   * `downMs` keeps them down that long in between.
   */
  restart(opts?: { downMs?: number }): Promise<void>
}

export interface StartControlPlaneOptions {
  /** Binaries to run; default: findBinaries() (which may build them once). */
  binaries?: Binaries
  /** Directory for etcd.log and kube-apiserver.log; default the data directory (removed on stop). */
  logDir?: string
  /**
   * When start fails, or a component died while running, keep the log files (the rest of the
   * data directory is removed) and name them in the error / on stop. Default false.
   */
  keepLogsOnFailure?: boolean
  /** How long to wait for /readyz to answer ok. Default 90 s. */
  readyTimeoutMs?: number
  /** How long stop() waits after SIGTERM before SIGKILL. Default 10 s. */
  stopGraceMs?: number
  /** Progress messages (building binaries, starting, ready). */
  logger?: BinariesLogger
}

const REAPER = join(dirname(fileURLToPath(import.meta.url)), 'reaper.ts')
const START_ATTEMPTS = 3

interface Component {
  name: 'etcd' | 'kube-apiserver'
  child: ChildProcess
  pid: number
  logPath: string
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  exited: boolean
  /** `code N` or `signal S` once exited. */
  exitStatus?: string
}

/** Process groups and data directories that the process 'exit' hook must clean up. */
const live = new Set<{ components: Component[]; dataDir: string }>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const entry of live) {
      for (const c of entry.components) killGroup(c.pid, 'SIGKILL')
      try {
        rmSync(entry.dataDir, { recursive: true, force: true })
      } catch {
        // best effort while exiting
      }
    }
  })
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // the group is gone already
  }
}

/** Asks the OS for `count` distinct free loopback ports. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer()
          srv.once('error', reject)
          srv.listen(0, '127.0.0.1', () => resolve(srv))
        }),
    ),
  )
  const ports = servers.map((s) => {
    const addr = s.address()
    if (addr === null || typeof addr === 'string') throw new Error('could not read a free port')
    return addr.port
  })
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  return ports
}

/** The last `lines` lines of a log file (at most the last 16 KiB are read). */
export function logTail(path: string, lines = 30): string {
  try {
    const size = statSync(path).size
    const length = Math.min(size, 16 * 1024)
    const buf = Buffer.alloc(length)
    const fd = openSync(path, 'r')
    try {
      readSync(fd, buf, 0, length, size - length)
    } finally {
      closeSync(fd)
    }
    const text = buf.toString('utf8').trimEnd()
    return text ? text.split('\n').slice(-lines).join('\n') : '(empty)'
  } catch {
    return '(no log output)'
  }
}

function childEnv(): NodeJS.ProcessEnv {
  // etcd reads ETCD_* variables as flags; keep the caller's environment from changing ours.
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ETCD_')) env[key] = value
  }
  return env
}

function startComponent(name: Component['name'], bin: string, args: string[], logPath: string): Component {
  const fd = openSync(logPath, 'a')
  let child: ChildProcess
  try {
    child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd], env: childEnv() })
  } finally {
    closeSync(fd)
  }
  if (child.pid === undefined) {
    throw new Error(`could not start ${name} from ${bin}`)
  }
  const component: Component = {
    name,
    child,
    pid: child.pid,
    logPath,
    exited: false,
    exit: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        component.exited = true
        component.exitStatus = signal ? `signal ${signal}` : `code ${code}`
        resolve({ code, signal })
      })
    }),
  }
  // Spawn errors after the pid was assigned surface as an exit; keep them off the process.
  child.on('error', () => {})
  // The control plane must not keep the process alive; the 'exit' hook and the reaper end it.
  child.unref()
  return component
}

async function terminate(c: Component, graceMs: number): Promise<void> {
  if (!c.exited) {
    // Keep the event loop alive until the exit is seen (components are unref'd while running).
    c.child.ref()
    killGroup(c.pid, 'SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      c.exit.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs)
      }),
    ])
    clearTimeout(timer)
    if (timedOut) {
      killGroup(c.pid, 'SIGKILL')
      await c.exit
    }
  }
  // Anything the component left in its group goes too.
  killGroup(c.pid, 'SIGKILL')
}

function startReaper(dataDir: string): { track(pid: number): void; release(): void } {
  const child = spawn(process.execPath, [REAPER, dataDir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  })
  child.on('error', () => {})
  child.unref()
  const stdin = child.stdin
  ;(stdin as unknown as Socket | null)?.unref?.()
  stdin?.on('error', () => {})
  return {
    track(pid) {
      stdin?.write(`pid ${pid}\n`)
    },
    release() {
      stdin?.end('release\n')
    },
  }
}

class StartError extends Error {
  readonly portInUse: boolean
  constructor(message: string, portInUse: boolean) {
    super(message)
    this.name = 'StartError'
    this.portInUse = portInUse
  }
}

function failure(c: Component, what: string): StartError {
  const tail = logTail(c.logPath)
  return new StartError(
    `${c.name} ${what}. Last lines of ${basename(c.logPath)}:\n${tail}\n`,
    /address already in use/i.test(tail),
  )
}

interface ProbeResult {
  status: number
  body: string
}

function probe(url: string, opts: { ca?: string; token?: string; timeoutMs: number }): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const requestFn = u.protocol === 'https:' ? httpsRequest : httpRequest
    const req = requestFn(
      u,
      {
        method: 'GET',
        timeout: opts.timeoutMs,
        ...(opts.ca ? { ca: opts.ca } : {}),
        ...(opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : {}),
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          body += chunk
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end()
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `check` every 250 ms until it returns true, a watched component exits, or the
 * deadline passes.
 */
async function waitFor(
  what: string,
  deadline: number,
  watched: Component[],
  check: () => Promise<boolean>,
  lastError: () => string,
): Promise<void> {
  for (;;) {
    for (const c of watched) {
      if (c.exitStatus) throw failure(c, `exited (${c.exitStatus}) before ${what} answered`)
    }
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) {
      const culprit = watched[watched.length - 1]
      const detail = lastError()
      const message = `timed out waiting for ${what}${detail ? ` (last answer: ${detail})` : ''}`
      if (culprit) throw failure(culprit, `did not get ready: ${message}`)
      throw new StartError(message, false)
    }
    await sleep(250)
  }
}

interface Secrets {
  token: string
  tokenFile: string
  saPublicKey: string
  saPrivateKey: string
}

function writeSecrets(dataDir: string): Secrets {
  const token = randomBytes(32).toString('base64url')
  const tokenFile = join(dataDir, 'tokens.csv')
  // token,user,uid,"groups"
  writeFileSync(tokenFile, `${token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 })

  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
  const saPublicKey = join(dataDir, 'sa.pub')
  const saPrivateKey = join(dataDir, 'sa.key')
  writeFileSync(saPublicKey, publicKey, { mode: 0o600 })
  writeFileSync(saPrivateKey, privateKey, { mode: 0o600 })
  return { token, tokenFile, saPublicKey, saPrivateKey }
}

function writeKubeconfig(path: string, server: string, ca: string, token: string): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: CONTEXT_NAME,
        cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') },
      },
    ],
    users: [{ name: ADMIN_USER, user: { token } }],
    contexts: [{ name: CONTEXT_NAME, context: { cluster: CONTEXT_NAME, user: ADMIN_USER } }],
    'current-context': CONTEXT_NAME,
  }
  writeFileSync(path, stringify(config), { mode: 0o600 })
}

/** Removes the data directory; with `keepLogs`, only the log files in it survive. */
function removeDataDir(dataDir: string, logDir: string, keepLogs: boolean): void {
  if (!keepLogs || logDir !== dataDir) {
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 })
    return
  }
  for (const entry of readdirSync(dataDir)) {
    if (!entry.endsWith('.log')) rmSync(join(dataDir, entry), { recursive: true, force: true, maxRetries: 3 })
  }
}

/**
 * Starts etcd and kube-apiserver on free loopback ports, the way controller-runtime's envtest
 * does, and resolves once /readyz answers ok. The admin identity is a static token in group
 * system:masters; the serving certificate is the one kube-apiserver generates for itself, and the
 * kubeconfig trusts exactly that certificate.
 */
export async function startControlPlane(opts: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = opts.binaries ?? (await findBinaries(opts.logger ? { logger: opts.logger } : {}))
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000
  const graceMs = opts.stopGraceMs ?? 10_000
  const keepLogsOnFailure = opts.keepLogsOnFailure ?? false

  installExitHook()
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-cp-'))
  const logDir = opts.logDir ?? dataDir
  const entry = { components: [] as Component[], dataDir }
  live.add(entry)
  const reaper = startReaper(dataDir)

  const started = Date.now()
  try {
    mkdirSync(logDir, { recursive: true })
    const secrets = writeSecrets(dataDir)
    const certDir = join(dataDir, 'certs')
    mkdirSync(certDir, { recursive: true, mode: 0o700 })

    for (let attempt = 1; ; attempt++) {
      const [etcdPort, peerPort, apiPort] = (await freePorts(3)) as [number, number, number]
      try {
        const server = await startOnce({
          binaries,
          dataDir,
          logDir,
          certDir,
          secrets,
          etcdPort,
          peerPort,
          apiPort,
          deadline: started + readyTimeoutMs,
          entry,
          reaper,
        })
        opts.logger?.info(`control plane ready at ${server} in ${Date.now() - started} ms`)
        const again = (): Promise<string> =>
          startOnce({
            binaries,
            dataDir,
            logDir,
            certDir,
            secrets,
            etcdPort,
            peerPort,
            apiPort,
            deadline: Date.now() + readyTimeoutMs,
            entry,
            reaper,
          })
        return makeHandle({ server, dataDir, logDir, entry, reaper, graceMs, keepLogsOnFailure, again })
      } catch (err) {
        for (const c of [...entry.components].reverse()) await terminate(c, 2_000)
        entry.components = []
        if (err instanceof StartError && err.portInUse && attempt < START_ATTEMPTS) {
          rmSync(join(dataDir, 'etcd'), { recursive: true, force: true })
          continue
        }
        throw err
      }
    }
  } catch (err) {
    live.delete(entry)
    removeDataDir(dataDir, logDir, keepLogsOnFailure)
    reaper.release()
    const kept = keepLogsOnFailure || logDir !== dataDir ? ` Logs are in ${logDir}.` : ''
    if (err instanceof Error) err.message = `local control plane did not start: ${err.message}${kept}`
    throw err
  }
}

interface StartOnceArgs {
  binaries: Binaries
  dataDir: string
  logDir: string
  certDir: string
  secrets: Secrets
  etcdPort: number
  peerPort: number
  apiPort: number
  deadline: number
  entry: { components: Component[] }
  reaper: { track(pid: number): void }
}

async function startOnce(a: StartOnceArgs): Promise<string> {
  const etcdUrl = `http://127.0.0.1:${a.etcdPort}`
  const peerUrl = `http://127.0.0.1:${a.peerPort}`
  const etcd = startComponent(
    'etcd',
    a.binaries.etcd,
    [
      '--name=switchboard',
      `--data-dir=${join(a.dataDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=switchboard=${peerUrl}`,
      '--unsafe-no-fsync=true',
    ],
    join(a.logDir, 'etcd.log'),
  )
  a.entry.components.push(etcd)
  a.reaper.track(etcd.pid)

  let last = ''
  await waitFor(
    '/health',
    a.deadline,
    [etcd],
    async () => {
      const res = await probe(`${etcdUrl}/health`, { timeoutMs: 2_000 })
      last = `${res.status} ${res.body.slice(0, 200)}`
      return res.status === 200 && /"health"\s*:\s*"true"/.test(res.body)
    },
    () => last,
  )

  const server = `https://127.0.0.1:${a.apiPort}`
  const apiserver = startComponent(
    'kube-apiserver',
    a.binaries.kubeApiserver,
    [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${a.certDir}`,
      `--secure-port=${a.apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      '--authorization-mode=RBAC',
      `--token-auth-file=${a.secrets.tokenFile}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${a.secrets.saPublicKey}`,
      `--service-account-signing-key-file=${a.secrets.saPrivateKey}`,
    ],
    join(a.logDir, 'kube-apiserver.log'),
  )
  a.entry.components.push(apiserver)
  a.reaper.track(apiserver.pid)

  const certFile = join(a.certDir, 'apiserver.crt')
  let ca = ''
  last = ''
  await waitFor(
    '/readyz',
    a.deadline,
    [etcd, apiserver],
    async () => {
      if (!ca) {
        if (!existsSync(certFile)) return false
        ca = readFileSync(certFile, 'utf8')
        if (!ca.includes('END CERTIFICATE')) {
          ca = ''
          return false
        }
      }
      const res = await probe(`${server}/readyz`, { ca, token: a.secrets.token, timeoutMs: 5_000 })
      last = `${res.status} ${res.body.slice(-300)}`
      return res.status === 200 && res.body.trim() === 'ok'
    },
    () => last,
  )

  writeKubeconfig(join(a.dataDir, 'kubeconfig'), server, ca, a.secrets.token)
  return server
}

interface HandleArgs {
  server: string
  dataDir: string
  logDir: string
  entry: { components: Component[]; dataDir: string }
  reaper: { release(): void }
  graceMs: number
  keepLogsOnFailure: boolean
  /** Starts both components again with the first start's ports, data and certificate. */
  again(): Promise<string>
}

function makeHandle(h: HandleArgs): ControlPlane {
  const kubeconfigPath = join(h.dataDir, 'kubeconfig')
  let stopping: Promise<void> | undefined
  return {
    server: h.server,
    kubeconfigPath,
    dataDir: h.dataDir,
    logDir: h.logDir,
    kubeConfig() {
      const kc = new KubeConfig()
      kc.loadFromFile(kubeconfigPath)
      return kc
    },
    stop() {
      stopping ??= (async () => {
        // A component that died on its own while running counts as a failure.
        const died = h.entry.components.filter((c) => c.exited)
        const [etcd, apiserver] = h.entry.components
        if (apiserver) await terminate(apiserver, h.graceMs)
        if (etcd) await terminate(etcd, h.graceMs)
        live.delete(h.entry)
        const keepLogs = h.keepLogsOnFailure && died.length > 0
        removeDataDir(h.dataDir, h.logDir, keepLogs)
        h.reaper.release()
        if (died.length > 0 && (keepLogs || h.logDir !== h.dataDir)) {
          process.emitWarning(
            `${died.map((c) => c.name).join(' and ')} exited before stop(); logs are in ${h.logDir}`,
          )
        }
      })()
      return stopping
    },
    async restart(opts = {}) {
      if (stopping) throw new Error('the control plane was stopped')
      const [etcd, apiserver] = h.entry.components
      if (apiserver) await terminate(apiserver, h.graceMs)
      if (etcd) await terminate(etcd, h.graceMs)
      h.entry.components = []
      if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs))
      await h.again()
    },
  }
}
