#!/usr/bin/env node
/**
 * Webhook server throughput: signed deliveries per second and p99 latency on one core, beside a
 * bare Fastify handler that returns 200, measured in the same run with autocannon; then each
 * provider's p99 at a fixed rate of half the bare handler's maximum of the same round.
 *
 *   node bench/webhooks.bench.ts [--rounds 3] [--duration 5] [--warmup 1] [--connections 16]
 *                                [--only casino|twitch|twilio] [--json]
 *
 * The servers run in a child process pinned to CPU 0 (`taskset -c 0`, when available); the load
 * generator (this process) runs beside it, pinned to CPU 1. Beside each rate, the server's CPU time
 * per request (`process.cpuUsage` of the server process around each measurement): what a request
 * costs, which moves less than a rate does when other work shares the machine. The webhook app is the real one (`buildApp`): per-path
 * rate limit on (set high enough not to trigger), metrics, dedupe, coalescing requester; only
 * the Kubernetes patch is replaced by a no-op, since it happens after the response anyway.
 * See bench/webhooks.md for results and how to read them.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { createLogger } from '../connectors/index.ts'
import { type ProviderId, webhookPath } from '../controller/api/index.ts'
import {
  casinoRequest,
  toInject,
  twilioStatusCallback,
  twitchRequest,
} from '../test/sandbox/webhooks/index.ts'
import { buildApp, CoalescingRequester, MemoryTargetResolver, WebhookMetrics } from '../webhooks/index.ts'

const PUBLIC_URL = 'https://hooks.example.com'
const PATHS_PER_PROVIDER = 100
const SECRETS: Partial<Record<ProviderId, Record<string, string>>> = {
  softswiss: { signingSecret: 'bench-casino-secret' },
  twitch: { eventsubSecret: 'bench-twitch-secret' },
  twilio: { authToken: 'bench-twilio-token' },
}
/** Deterministic tokens, so the load generator knows the paths without asking. */
const pathsFor = (provider: ProviderId) =>
  Array.from({ length: PATHS_PER_PROVIDER }, (_, i) =>
    webhookPath(provider, `${provider.replace(/[^a-z]/g, '')}${String(i).padStart(6, '0')}`.padEnd(43, 'x')),
  )
const CASINO_BODY = JSON.stringify({
  stream: 'transactions',
  event: 'transaction.created',
  transaction: { id: 'tx-000000001', playerId: 'p-42', amount: 1250, currency: 'EUR', type: 'deposit' },
  sentAt: '2030-01-01T00:00:00Z',
})

// --- the server side (child process) ---------------------------------------------------------

async function serve(): Promise<void> {
  const resolver = new MemoryTargetResolver()
  for (const provider of Object.keys(SECRETS) as ProviderId[]) {
    for (const [i, path] of pathsFor(provider).entries()) {
      resolver.set({ name: `${provider}-${i}`, provider, path, secrets: SECRETS[provider] ?? {} })
    }
  }
  let patches = 0
  const requester = new CoalescingRequester({
    patch: async () => {
      patches++
    },
  })
  const app = buildApp({
    resolver,
    requester,
    metrics: new WebhookMetrics(),
    logger: createLogger({ level: 'warn', name: 'webhooks-bench' }),
    publicUrl: PUBLIC_URL,
    rateLimit: { max: 1_000_000, timeWindowMs: 1000 },
  })
  const bare = Fastify({ logger: false })
  bare.post('/bare', async (_req, reply) => reply.code(200).send())
  // what blocks the server's event loop: its delay and the GC pauses since the last reset, read by
  // the load generator around each fixed-rate measurement (is a p99 the server's own stall?)
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  const gc = { count: 0, totalMs: 0, maxMs: 0 }
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++
      gc.totalMs += e.duration
      gc.maxMs = Math.max(gc.maxMs, e.duration)
    }
  }).observe({ entryTypes: ['gc'] })
  bare.post('/loop/reset', async (_req, reply) => {
    loop.reset()
    Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0 })
    return reply.code(204).send()
  })
  bare.get('/loop', async () => ({
    p99Ms: loop.percentile(99) / 1e6,
    maxMs: loop.max / 1e6,
    gcCount: gc.count,
    gcTotalMs: gc.totalMs,
    gcMaxMs: gc.maxMs,
  }))
  // the server process's CPU time so far (µs), read by the load generator around each measurement
  bare.get('/cpu', async () => {
    const u = process.cpuUsage()
    return { us: u.user + u.system }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await bare.listen({ host: '127.0.0.1', port: 0 })
  const port = (a: ReturnType<typeof app.server.address>) => (a && typeof a === 'object' ? a.port : 0)
  process.stdout.write(
    `READY ${JSON.stringify({ webhooks: port(app.server.address()), bare: port(bare.server.address()) })}\n`,
  )
  process.on('SIGTERM', () => {
    process.stderr.write(`patches sent: ${patches}\n`)
    void Promise.all([app.close(), bare.close(), requester.close()]).then(() => process.exit(0))
  })
}

// --- the load generator ----------------------------------------------------------------------

interface ACRequest {
  method: string
  path: string
  headers: Record<string, string>
  body?: string
}
interface ACResult {
  requests: { average: number; total: number }
  /** Requests answered (any status). */
  totalCompletedRequests?: number
  latency: { p50: number; p99: number; average: number }
  non2xx: number
  errors: number
  timeouts: number
}
type Autocannon = (opts: Record<string, unknown>) => Promise<ACResult>

interface Scenario {
  name: string
  port: 'bare' | 'webhooks'
  /** One request; called for every request sent. */
  next(i: number): ACRequest
}

function scenarios(): Scenario[] {
  const casinoPaths = pathsFor('softswiss')
  const twitchPaths = pathsFor('twitch')
  const twilioPaths = pathsFor('twilio')
  const twilioSigned = twilioPaths.map((p) =>
    toInject(
      twilioStatusCallback({
        url: `${PUBLIC_URL}${p}`,
        authToken: SECRETS.twilio?.authToken ?? '',
        messageSid: 'SM00000000000000000000000000000001',
        status: 'delivered',
        idempotencyToken: null,
      }),
    ),
  )
  const twitchBody = JSON.stringify({
    subscription: { id: 'sub-1', type: 'channel.update', version: '1', status: 'enabled' },
    event: { broadcaster_user_id: '1337', title: 'bench' },
  })
  return [
    {
      name: 'bare Fastify handler (200)',
      port: 'bare',
      next: () => ({
        method: 'POST',
        path: '/bare',
        headers: { 'content-type': 'application/json' },
        body: CASINO_BODY,
      }),
    },
    {
      name: 'casino (HMAC-SHA256 of id+timestamp+body, X-Delivery-Id)',
      port: 'webhooks',
      // the delivery id and timestamp are signed, so every request is signed anew here
      next: (i) => {
        const r = toInject(
          casinoRequest({
            url: `${PUBLIC_URL}${casinoPaths[i % casinoPaths.length]}`,
            secret: SECRETS.softswiss?.signingSecret ?? '',
            body: CASINO_BODY,
          }),
        )
        return { method: 'POST', path: r.url, headers: r.headers, body: r.payload }
      },
    },
    {
      name: 'twitch (HMAC of id+timestamp+body, JSON)',
      port: 'webhooks',
      next: (i) => {
        const r = toInject(
          twitchRequest({
            url: `${PUBLIC_URL}${twitchPaths[i % twitchPaths.length]}`,
            secret: SECRETS.twitch?.eventsubSecret ?? '',
            type: 'notification',
            body: twitchBody,
          }),
        )
        return { method: 'POST', path: r.url, headers: r.headers, body: r.payload }
      },
    },
    {
      name: 'twilio (SDK signature, form body)',
      port: 'webhooks',
      next: (i) => {
        const r = twilioSigned[i % twilioSigned.length]
        if (!r) throw new Error('no request')
        return {
          method: 'POST',
          path: r.url,
          headers: { ...r.headers, 'i-twilio-idempotency-token': randomUUID() },
          body: r.payload,
        }
      },
    },
  ]
}

async function run(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '16' },
      json: { type: 'boolean', default: false },
      serve: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  })
  if (values.serve) return serve()

  const autocannon = (await import('autocannon' as string)).default as Autocannon
  const pinned = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset')
  const cmd = pinned ? 'taskset' : process.execPath
  const args = pinned
    ? ['-c', '0', process.execPath, import.meta.filename, '--serve']
    : [import.meta.filename, '--serve']
  // the load generator keeps off the server's core: every thread of this process on CPU 1
  if (pinned) spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const ports = await new Promise<{ webhooks: number; bare: number }>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8')
      const m = /READY (\{.*\})/.exec(out)
      if (m?.[1]) resolve(JSON.parse(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })

  const duration = Number(values.duration)
  const warmup = Number(values.warmup)
  const connections = Number(values.connections)
  const rounds = Math.max(1, Number(values.rounds))
  const only = values.only?.toLowerCase()
  const chosen = scenarios().filter(
    (s) => !only || s.port === 'bare' || s.name.toLowerCase().startsWith(only),
  )
  const samples = new Map<
    string,
    Array<{ rps: number; p50: number; p99: number; cpuUs: number; non2xx: number; errors: number }>
  >()
  /** The server process's CPU time (µs); both servers share it, and they are measured in turn. */
  const serverCpuUs = async () => {
    const res = await fetch(`http://127.0.0.1:${ports.bare}/cpu`)
    return ((await res.json()) as { us: number }).us
  }
  interface LoopStats {
    p99Ms: number
    maxMs: number
    gcCount: number
    gcTotalMs: number
    gcMaxMs: number
  }
  const resetLoop = async () => {
    await fetch(`http://127.0.0.1:${ports.bare}/loop/reset`, { method: 'POST' })
  }
  const loopStats = async () =>
    (await (await fetch(`http://127.0.0.1:${ports.bare}/loop`)).json()) as LoopStats
  const ratios = new Map<string, number[]>()
  /** Bare handler's CPU per request over the provider's, per round: the throughput ratio on a core the server has alone. */
  const cpuRatios = new Map<string, number[]>()
  /** p99 (ms) of each provider at half the bare handler's maximum rate of the same round. */
  const atHalf = new Map<string, Array<{ rate: number; p99: number; non2xx: number; loop: LoopStats }>>()
  const loadBefore = loadavg()[0] ?? 0
  try {
    // Rounds interleave the scenarios, and each ratio compares runs of the same round, so a
    // change in background load on a shared machine hits both sides of a ratio alike.
    for (let round = 0; round < rounds; round++) {
      let bareRps = 0
      let bareCpuUs = 0
      for (const s of chosen) {
        let i = 0
        const opts = (seconds: number, overallRate?: number) => ({
          url: `http://127.0.0.1:${ports[s.port]}`,
          connections,
          duration: seconds,
          ...(overallRate ? { overallRate } : {}),
          requests: [{ setupRequest: (req: Record<string, unknown>) => Object.assign(req, s.next(i++)) }],
        })
        if (warmup > 0) await autocannon(opts(warmup))
        const cpuBefore = await serverCpuUs()
        const r = await autocannon(opts(duration))
        const cpuAfter = await serverCpuUs()
        const sample = {
          rps: Math.round(r.requests.average),
          p50: r.latency.p50,
          p99: r.latency.p99,
          // server CPU per answered request: what one request costs, whatever else the machine runs
          cpuUs: Math.round((cpuAfter - cpuBefore) / Math.max(1, r.requests.total)),
          non2xx: r.non2xx,
          errors: r.errors + r.timeouts,
        }
        if (s.port === 'bare') {
          bareRps = sample.rps
          bareCpuUs = sample.cpuUs
        }
        if (bareCpuUs > 0 && sample.cpuUs > 0)
          cpuRatios.set(s.name, [...(cpuRatios.get(s.name) ?? []), bareCpuUs / sample.cpuUs])
        samples.set(s.name, [...(samples.get(s.name) ?? []), sample])
        if (bareRps > 0) ratios.set(s.name, [...(ratios.get(s.name) ?? []), sample.rps / bareRps])
        process.stderr.write(
          `round ${round + 1}: ${s.name}: ${sample.rps} req/s, p99 ${sample.p99} ms, server CPU ${sample.cpuUs} µs/request\n`,
        )
        if (s.port !== 'bare' && bareRps > 0) {
          const rate = Math.round(bareRps / 2)
          await resetLoop()
          // the load generator's own stalls delay the requests it sends and the answers it times
          const genLoop = monitorEventLoopDelay({ resolution: 1 })
          genLoop.enable()
          const fixed = await autocannon(opts(duration, rate))
          genLoop.disable()
          const loop = await loopStats()
          atHalf.set(s.name, [
            ...(atHalf.get(s.name) ?? []),
            { rate, p99: fixed.latency.p99, non2xx: fixed.non2xx, loop },
          ])
          process.stderr.write(
            `round ${round + 1}: ${s.name}: at ${rate} req/s, p99 ${fixed.latency.p99} ms; server event-loop delay ` +
              `p99 ${loop.p99Ms.toFixed(1)} ms, max ${loop.maxMs.toFixed(1)} ms; ${loop.gcCount} GC pauses, ` +
              `${loop.gcTotalMs.toFixed(0)} ms in all, longest ${loop.gcMaxMs.toFixed(1)} ms; load generator's ` +
              `event-loop delay p99 ${(genLoop.percentile(99) / 1e6).toFixed(1)} ms, max ${(genLoop.max / 1e6).toFixed(1)} ms\n`,
          )
        }
      }
    }
  } finally {
    child.kill('SIGTERM')
  }
  const loadAfter = loadavg()[0] ?? 0

  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b)
    const mid = Math.floor(sorted.length / 2)
    return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
  }
  const rows = chosen.map((s) => {
    const xs = samples.get(s.name) ?? []
    return {
      name: s.name,
      rps: Math.round(median(xs.map((x) => x.rps))),
      p50: median(xs.map((x) => x.p50)),
      p99: median(xs.map((x) => x.p99)),
      ratio: median(ratios.get(s.name) ?? []),
      cpuUs: Math.round(median(xs.map((x) => x.cpuUs))),
      cpuRatio: median(cpuRatios.get(s.name) ?? []),
      halfRate: Math.round(median((atHalf.get(s.name) ?? []).map((x) => x.rate))),
      p99AtHalf: median((atHalf.get(s.name) ?? []).map((x) => x.p99)),
      loopP99AtHalf: median((atHalf.get(s.name) ?? []).map((x) => x.loop.p99Ms)),
      loopMaxAtHalf: median((atHalf.get(s.name) ?? []).map((x) => x.loop.maxMs)),
      gcMaxAtHalf: median((atHalf.get(s.name) ?? []).map((x) => x.loop.gcMaxMs)),
      non2xx: xs.reduce((a, x) => a + x.non2xx, 0),
      errors: xs.reduce((a, x) => a + x.errors, 0),
    }
  })
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ pinned, rounds, duration, connections, loadBefore, loadAfter, rows, samples: Object.fromEntries(samples) }, null, 2)}\n`,
    )
    return
  }
  process.stdout.write(
    `\nServer pinned to one core: ${pinned ? 'yes (taskset -c 0)' : 'no (taskset not found)'}; ` +
      `${connections} connections; ${rounds} rounds of ${duration} s per scenario (after ${warmup} s warm-up each); ` +
      `medians over the rounds; Node ${process.version}; load average ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}.\n\n` +
      '| scenario | req/s | p50 ms | p99 ms | req/s vs bare (same round) | server CPU µs/request | bare CPU/request ÷ this | p99 ms at half the bare maximum | at half: server event-loop delay p99 / max ms, longest GC pause ms | non-2xx | errors |\n' +
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n',
  )
  for (const r of rows) {
    const half = r.halfRate > 0 ? `${r.p99AtHalf} (at ${r.halfRate} req/s)` : '-'
    const loop =
      r.halfRate > 0
        ? `${r.loopP99AtHalf.toFixed(1)} / ${r.loopMaxAtHalf.toFixed(1)}, ${r.gcMaxAtHalf.toFixed(1)}`
        : '-'
    process.stdout.write(
      `| ${r.name} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.ratio.toFixed(2)} | ${r.cpuUs} | ${r.cpuRatio.toFixed(2)} | ${half} | ${loop} | ${r.non2xx} | ${r.errors} |\n`,
    )
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
