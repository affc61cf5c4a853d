import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')

export interface ControllerProcess {
  child: ChildProcess
  /** Every JSON log line so far. */
  logs: Array<Record<string, unknown>>
  /** Raw output (for assertions that nothing secret was printed). */
  output(): string
  metricsPort(): Promise<number>
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  exited: Promise<number | null>
  kill(signal: NodeJS.Signals): void
}

/**
 * Runs `switchboard controller` as its own process (for leader election and crash tests), from the
 * TypeScript sources, or from another entry file such as the production bundle (`entry`).
 */
export function spawnController(
  args: string[],
  env: Record<string, string> = {},
  entry = resolve(ROOT, 'bin/switchboard.ts'),
): ControllerProcess {
  // the tests' providers are the sandbox on 127.0.0.1: opted in here, as a test must
  const argv = [entry, 'controller', '--allow-loopback-endpoints', ...args]
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Array<Record<string, unknown>> = []
  const raw: string[] = []
  const waiters: Array<() => void> = []
  let buffer = ''
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8')
    raw.push(text)
    buffer += text
    let i = buffer.indexOf('\n')
    while (i >= 0) {
      const line = buffer.slice(0, i)
      buffer = buffer.slice(i + 1)
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>)
      } catch {
        // not a log line
      }
      i = buffer.indexOf('\n')
    }
    for (const w of waiters.splice(0)) w()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', (c: Buffer) => raw.push(c.toString('utf8')))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))

  const waitForLog = async (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = logs.find(predicate)
      if (found) return found
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(
          `controller log line not seen (exit ${child.exitCode}); output tail:\n${raw.join('').slice(-2000)}`,
        )
      }
      await new Promise<void>((r) => {
        waiters.push(r)
        setTimeout(r, 200)
      })
    }
  }
  return {
    child,
    logs,
    output: () => raw.join(''),
    metricsPort: async () => {
      const line = await waitForLog((l) => l.msg === 'serving metrics and health')
      return Number(String(line.address).split(':').pop())
    },
    waitForLog,
    exited,
    kill: (signal) => {
      if (child.exitCode === null) child.kill(signal)
    },
  }
}

export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  return res.text()
}

/** The value of a sample in a Prometheus text exposition (sum over matching label sets). */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  let found = false
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    total += Number(line.slice(line.lastIndexOf(' ') + 1))
    found = true
  }
  return found ? total : Number.NaN
}
