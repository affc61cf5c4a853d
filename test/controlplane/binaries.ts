import { spawn } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Versions the build script pins; keep in step with build-binaries.sh. */
export const DEFAULT_KUBE_VERSION = 'v1.34.4'
export const DEFAULT_ETCD_VERSION = 'v3.6.16'

export const BUILD_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'build-binaries.sh')

export interface Binaries {
  etcd: string
  kubeApiserver: string
  /** Directory of kube-apiserver (and of etcd, except when both come from different PATH entries). */
  dir: string
}

/** The subset of a pino logger the lookup needs. */
export interface BinariesLogger {
  info(msg: string): void
}

export interface FindBinariesOptions {
  /** Run build-binaries.sh when nothing is found. Default true. */
  build?: boolean
  logger?: BinariesLogger
  /** Environment to read KUBEBUILDER_ASSETS, PATH, SWITCHBOARD_CACHE, HOME and the versions from. Default process.env. */
  env?: NodeJS.ProcessEnv
}

const HOW_TO_GET = [
  `run ${BUILD_SCRIPT} (needs Go; builds both from the Go module proxy, 10-20 minutes once),`,
  'or point KUBEBUILDER_ASSETS at a directory holding etcd and kube-apiserver',
  '(for example the output of `setup-envtest use -p path`).',
].join(' ')

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function inDir(dir: string): { etcd?: string; kubeApiserver?: string } {
  const etcd = join(dir, 'etcd')
  const kubeApiserver = join(dir, 'kube-apiserver')
  return {
    ...(isExecutable(etcd) ? { etcd } : {}),
    ...(isExecutable(kubeApiserver) ? { kubeApiserver } : {}),
  }
}

function onPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

/** The directory build-binaries.sh writes to, for the given environment. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.SWITCHBOARD_CACHE || join(env.HOME || homedir(), '.cache', 'switchboard')
  const kube = env.KUBE_VERSION || DEFAULT_KUBE_VERSION
  const etcd = env.ETCD_VERSION || DEFAULT_ETCD_VERSION
  return join(cache, 'bin', `k8s-${kube}-etcd-${etcd}`)
}

/**
 * Finds etcd and kube-apiserver. Order: the KUBEBUILDER_ASSETS directory, then PATH, then the
 * cache directory of build-binaries.sh, then (unless `build: false`) building them with that script.
 */
export async function findBinaries(opts: FindBinariesOptions = {}): Promise<Binaries> {
  const env = opts.env ?? process.env

  const assets = env.KUBEBUILDER_ASSETS
  if (assets) {
    const found = inDir(assets)
    if (found.etcd && found.kubeApiserver) {
      return { etcd: found.etcd, kubeApiserver: found.kubeApiserver, dir: assets }
    }
    const missing = [found.etcd ? undefined : 'etcd', found.kubeApiserver ? undefined : 'kube-apiserver']
      .filter(Boolean)
      .join(' and ')
    throw new Error(
      `KUBEBUILDER_ASSETS is set to ${assets} but ${missing} is not an executable file there. ` +
        `Put both etcd and kube-apiserver in that directory, or unset KUBEBUILDER_ASSETS; to get them, ${HOW_TO_GET}`,
    )
  }

  const etcdOnPath = onPath('etcd', env.PATH)
  const apiserverOnPath = onPath('kube-apiserver', env.PATH)
  if (etcdOnPath && apiserverOnPath) {
    return { etcd: etcdOnPath, kubeApiserver: apiserverOnPath, dir: dirname(apiserverOnPath) }
  }

  const dir = cacheDir(env)
  const cached = inDir(dir)
  if (cached.etcd && cached.kubeApiserver) {
    return { etcd: cached.etcd, kubeApiserver: cached.kubeApiserver, dir }
  }

  const missing = [cached.etcd ? undefined : 'etcd', cached.kubeApiserver ? undefined : 'kube-apiserver']
    .filter(Boolean)
    .join(' and ')
  if (opts.build === false) {
    throw new Error(
      `${missing} not found: KUBEBUILDER_ASSETS is not set, PATH does not hold both etcd and kube-apiserver, ` +
        `and ${dir} has no ${missing}. To get them, ${HOW_TO_GET}`,
    )
  }

  opts.logger?.info(`building ${missing} into ${dir} with ${BUILD_SCRIPT} (one time)`)
  const builtDir = await runBuildScript(dir, env, opts.logger)
  const built = inDir(builtDir)
  if (!built.etcd || !built.kubeApiserver) {
    throw new Error(`${BUILD_SCRIPT} finished but ${builtDir} does not hold both etcd and kube-apiserver`)
  }
  return { etcd: built.etcd, kubeApiserver: built.kubeApiserver, dir: builtDir }
}

function runBuildScript(dest: string, env: NodeJS.ProcessEnv, logger?: BinariesLogger): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT, dest], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    const stderrTail: string[] = []
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line) continue
        stderrTail.push(line)
        if (stderrTail.length > 40) stderrTail.shift()
        if (line.startsWith('build-binaries:')) logger?.info(line)
      }
    })
    child.on('error', (err) => reject(new Error(`could not run ${BUILD_SCRIPT}: ${err.message}`)))
    child.on('close', (code, signal) => {
      if (code === 0) {
        const lines = stdout.trim().split('\n')
        resolve(lines[lines.length - 1] || dest)
        return
      }
      reject(
        new Error(
          `${BUILD_SCRIPT} failed (${signal ?? `exit ${code}`}). Last output:\n${stderrTail.join('\n')}\n` +
            'Go is needed to build; alternatively point KUBEBUILDER_ASSETS at a directory holding etcd and kube-apiserver.',
        ),
      )
    })
  })
}
