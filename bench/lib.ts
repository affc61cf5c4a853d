/**
 * What the benches share: the controller as its own process, from the TypeScript sources or from
 * the production bundle (what the image runs), with the image's NODE_OPTIONS; /proc readings of a
 * process's memory and CPU; a free loopback port.
 */
import { type ChildProcess, execFile, type StdioOptions, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { promisify } from 'node:util'

export const ROOT = resolve(import.meta.dirname, '..')

let dockerfile: string | undefined
/** A variable the image's ENV sets (read from the Dockerfile), or '' when it sets none. */
function imageEnvValue(name: string): string {
  dockerfile ??= readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8')
  return new RegExp(`\\b${name}=("[^"]*"|\\S+)`).exec(dockerfile)?.[1]?.replace(/^"|"$/g, '') ?? ''
}

/** The NODE_OPTIONS the image sets, so a controller runs as in a pod. */
export function imageNodeOptions(): string {
  return imageEnvValue('NODE_OPTIONS')
}

/**
 * How a controller process is run: from the .ts sources, or from the production bundle, both with
 * the image's glibc malloc setting (GLIBC_TUNABLES: blocks of 32 KiB or more in mappings of their
 * own, returned to the system when freed; V8's parser and compiler zones are such blocks, which
 * glibc's default keeps in its heap, fragmented, after start-up); and, to measure what that setting
 * does, the bundle with glibc's default malloc.
 */
export type ControllerBuild = 'ts' | 'bundle' | 'bundle-glibc-default' | 'baseline'
export const CONTROLLER_BUILDS: readonly ControllerBuild[] = [
  'ts',
  'bundle',
  'bundle-glibc-default',
  'baseline',
]

/**
 * `baseline`: a bundle built earlier, from another commit, run as `bundle` is (the image's
 * environment), to measure a change side by side with what came before it. Its entry file is
 * `$BENCH_BASELINE_BUNDLE`, e.g. from `git archive REV | tar -x -C DIR` (with node_modules
 * linked) and `node DIR/hack/ship/bundle.ts --out-dir DIR/out`: DIR/out/switchboard.mjs.
 */
function baselineEntry(): string {
  const file = process.env.BENCH_BASELINE_BUNDLE
  if (!file)
    throw new Error('the baseline build runs $BENCH_BASELINE_BUNDLE: set it to a built switchboard.mjs')
  if (!existsSync(file)) throw new Error(`BENCH_BASELINE_BUNDLE: no file ${file}`)
  return file
}
function buildEnv(build: ControllerBuild): Record<string, string> {
  const tunables = imageEnvValue('GLIBC_TUNABLES')
  return build === 'bundle-glibc-default' || !tunables ? {} : { GLIBC_TUNABLES: tunables }
}

export function parseBuilds(list: string): ControllerBuild[] {
  const builds = list.split(',').filter(Boolean)
  for (const b of builds)
    if (!CONTROLLER_BUILDS.includes(b as ControllerBuild))
      throw new Error(`unknown controller build "${b}" (one of ${CONTROLLER_BUILDS.join(', ')})`)
  return builds as ControllerBuild[]
}

const BUNDLE_DIR = resolve(ROOT, '.cache/bench-bundle')
let bundled: Promise<string> | undefined

/**
 * The entry file of a build. The bundle is built from the current sources once per bench run
 * (into .cache/bench-bundle), so it never measures a stale one.
 */
export async function controllerEntry(build: ControllerBuild): Promise<string> {
  if (build === 'ts') return resolve(ROOT, 'bin/switchboard.ts')
  if (build === 'baseline') return baselineEntry()
  // every other build runs the bundle
  bundled ??= promisify(execFile)(process.execPath, [
    resolve(ROOT, 'hack/ship/bundle.ts'),
    '--out-dir',
    BUNDLE_DIR,
  ]).then(() => {
    const file = resolve(BUNDLE_DIR, 'switchboard.mjs')
    if (!existsSync(file)) throw new Error(`the bundle was not written to ${file}`)
    return file
  })
  return bundled
}

export interface ProcStat {
  rssMiB: number
  /** Peak RSS (VmHWM). */
  hwmMiB: number
  /** User + system CPU time. */
  cpuMs: number
}

/** Memory and CPU of a process, from /proc. */
export function procStat(pid: number): ProcStat {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of /proc/pid/stat, in clock ticks (100 per second here).
  const ticks = Number(fields[11]) + Number(fields[12])
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024, cpuMs: ticks * 10 }
}

/** Samples a process every `everyMs` and keeps the last reading (the process may exit meanwhile). */
export function sampleProc(pid: number, everyMs = 50): { last(): ProcStat; stop(): void } {
  let last: ProcStat = { rssMiB: 0, hwmMiB: 0, cpuMs: 0 }
  const timer = setInterval(() => {
    try {
      last = procStat(pid)
    } catch {
      // exited
    }
  }, everyMs)
  return { last: () => last, stop: () => clearInterval(timer) }
}

export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as { port: number }
  await new Promise((r) => srv.close(r))
  return port
}

export interface ControllerProcess {
  child: ChildProcess
  pid: number
  /** The port of /metrics, /healthz and /readyz (0 when `metrics: false`). */
  port: number
  exited: Promise<number | null>
  /** SIGTERM, then resolves when it has exited. */
  stop(): Promise<void>
}

/**
 * `switchboard controller --kubeconfig K --log-level warn --allow-loopback-endpoints ...args` as its
 * own process, with the image's NODE_OPTIONS unless `nodeOptions` says otherwise.
 */
export async function startController(opts: {
  kubeconfig: string
  build?: ControllerBuild
  args?: string[]
  /** Serve /metrics and /readyz on a free port (default), or not at all. */
  metrics?: boolean
  nodeOptions?: string
  stdio?: StdioOptions
}): Promise<ControllerProcess> {
  const port = opts.metrics === false ? 0 : await freePort()
  const entry = await controllerEntry(opts.build ?? 'ts')
  const child = spawn(
    process.execPath,
    [
      entry,
      'controller',
      '--kubeconfig',
      opts.kubeconfig,
      '--metrics-bind-address',
      port ? `127.0.0.1:${port}` : '0',
      '--log-level',
      'warn',
      // the benches' providers are on loopback (the sandbox, or an address nothing listens on)
      '--allow-loopback-endpoints',
      ...(opts.args ?? []),
    ],
    {
      stdio: opts.stdio ?? ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        NODE_OPTIONS: opts.nodeOptions ?? imageNodeOptions(),
        ...buildEnv(opts.build ?? 'ts'),
      },
    },
  )
  const exited = new Promise<number | null>((r) => child.once('exit', r))
  return {
    child,
    pid: child.pid as number,
    port,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** Resolves at the first 200 from /readyz (caches synced, first reconciles queued). */
export async function untilReadyz(c: ControllerProcess): Promise<number> {
  let gone = false
  void c.exited.then(() => {
    gone = true
  })
  for (;;) {
    if (gone) throw new Error('the controller exited before it was ready')
    const ok = await fetch(`http://127.0.0.1:${c.port}/readyz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return performance.now()
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The load average, reported beside every number (the machines are shared). */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}
