/**
 * Bench: a MessageCampaign of N recipients (default 10,000) beside loops sending the same messages
 * through the same SDK, in one run against the same Twilio sandbox:
 *
 * - floor:    the official `twilio` SDK client made by the connector's own `createTwilioSdkClient`
 *             (same `httpClient`, keep-alive connections, timeout, retry off), `messages.create`
 *             for N recipients with the bodies rendered by the campaign's own `render` from the
 *             same template, in the controller's batches (`min(500, 2 × rate)`), every message of a
 *             batch in flight at once, the next batch when they all answered. No pacing: the most
 *             the controller's sending could do.
 * - paced:    the same loop, each send started by the controller's own pacer at the campaign's
 *             rate (`pacer`: a `limiter` token bucket filled at the rate, holding 20 ms of it):
 *             what the rate allows.
 * - operator: `switchboard controller` (its own process, the image's NODE_OPTIONS,
 *             `--allow-loopback-endpoints`) against a fresh local API server, running a
 *             MessageCampaign at the kind's maximum rate (1,000/s): recipients from Secrets
 *             (10,000 a Secret), the credentials from a Secret, intents and outcomes committed
 *             to the progress Secrets around every batch, status written after every batch. Timed from the campaign's
 *             creation to phase Completed with every recipient sent.
 *
 * No status callbacks on either side (the controller runs without a public URL; the loops send
 * none): the bench measures sending.
 *
 * Each side's messages go to numbers of its own prefix; the bench fails unless the sandbox's
 * message list holds exactly one message to each of the N numbers of each side, with its body.
 *
 *   node bench/campaign.bench.ts [--recipients 10000] [--build ts|bundle]
 *
 * --build: the controller from the TypeScript sources (default) or the production bundle (bench/lib.ts).
 */
import { parseArgs } from 'node:util'
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node'
import { createTwilioSdkClient } from '../connectors/index.ts'
import { pacer, render } from '../controller/campaign/index.ts'
import { installCrds } from '../crds/index.ts'
import { startControlPlane } from '../test/controlplane/index.ts'
import { buildSandbox } from '../test/sandbox/index.ts'
import {
  type ControllerBuild,
  loadAverage,
  parseBuilds,
  procStat,
  sampleProc,
  startController,
  untilReadyz,
} from './lib.ts'

const GROUP = 'switchboard.dev'
const VERSION = 'v1alpha1'
const ACCOUNT = `AC${'b7'.repeat(16)}`
const AUTH_TOKEN = 'bench-campaign-auth-token'
const FROM = '+15005550006'
const TEMPLATE = 'Hey {{name}}, your course starts soon: {{link}}'
/** The kind's maximum rate (messages per second): the campaign runs at it. */
const RATE = 1000
/** The controller's batch at that rate: `min(500, 2 × rate)` messages between two commits. */
const BATCH = Math.min(500, Math.ceil(2 * RATE))
/** Recipients per list Secret. */
const LIST_SIZE = 10_000

type Side = 'warmup' | 'floor' | 'paced' | 'operator'
const PREFIX: Record<Side, string> = { warmup: '2786', floor: '2783', paced: '2785', operator: '2784' }
/** Messages sent (not timed) before the floor, so it does not pay for the first connections and JIT. */
const WARMUP = 500
const phone = (side: Side, i: number) => `+${PREFIX[side]}${String(i).padStart(7, '0')}`
const variables = (i: number) => ({ name: `Ada${i}`, link: `https://learn.example/c/${i}` })

export interface Timing {
  seconds: number
  messagesPerSecond: number
  /**
   * Where the time went, from the messages' arrivals at the sandbox (sorted, cut into the
   * batches: a batch is sent only once the one before has answered): from the start to the first
   * message, within batches (first to last message of each), between batches, and from the last
   * message to the end.
   */
  breakdownSeconds: { toFirst: number; inBatches: number; betweenBatches: number; afterLast: number }
  /** The pauses between two batches: the first, the median and the last (0 with one batch). */
  gapSeconds: {
    first: number
    median: number
    last: number
    /** Means of the first and of the last tenth of the pauses (at least one each): the trend. */
    firstTenthMean: number
    lastTenthMean: number
  }
}

export interface CampaignBenchResult {
  recipients: number
  build: ControllerBuild
  rate: number
  batch: number
  loadAverage: { before: string; after: string }
  floor: Timing & { benchCpuSeconds: number }
  paced: Timing & { benchCpuSeconds: number; ratioToFloor: number }
  operator: Timing & {
    ratioToFloor: number
    ratioToPaced: number
    /** Controller CPU (user + system) from the campaign's creation to Completed. */
    controllerCpuSeconds: number
    benchCpuSeconds: number
  }
  controllerRssMiB: { before: number; after: number; peak: number }
  /** The Secrets holding the campaign's progress when it completed (`status.progressRecords`). */
  progressRecords: number | undefined
}

export async function runCampaignBench(opts: {
  recipients: number
  build: ControllerBuild
}): Promise<CampaignBenchResult> {
  const N = opts.recipients
  const loadBefore = loadAverage()
  const sandbox = await buildSandbox({ twilio: { accounts: [{ sid: ACCOUNT, authToken: AUTH_TOKEN }] } })
  await sandbox.listen()
  const log = (m: string) => process.stderr.write(`[campaign bench] ${m}\n`)
  const bodyOf = (i: number) => {
    const out = render(TEMPLATE, variables(i))
    if ('missing' in out) throw new Error(`the template misses ${out.missing.join(', ')}`)
    return out.text
  }
  /** `startedAt` and `endedAt`: epoch ms. */
  const timing = (side: Side, startedAt: number, endedAt: number): Timing => {
    const arrivals = sandbox.twilio.messages
      .filter((m) => m.to.startsWith(`+${PREFIX[side]}`))
      .map((m) => m.receivedAt)
      .sort((a, b) => a - b)
    let inBatches = 0
    const gaps: number[] = []
    for (let i = 0; i < arrivals.length; i += BATCH) {
      inBatches += (arrivals[Math.min(arrivals.length, i + BATCH) - 1] as number) - (arrivals[i] as number)
      if (i > 0) gaps.push((arrivals[i] as number) - (arrivals[i - 1] as number))
    }
    const sortedGaps = [...gaps].sort((a, b) => a - b)
    const tenth = Math.max(1, Math.floor(gaps.length / 10))
    const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length)
    const first = arrivals[0] ?? startedAt
    const last = arrivals.at(-1) ?? endedAt
    const s = (ms: number) => Number((ms / 1000).toFixed(2))
    const seconds = (endedAt - startedAt) / 1000
    log(`${side}: ${N} messages in ${seconds.toFixed(2)} s (${Math.round(N / seconds)}/s)`)
    return {
      seconds: Number(seconds.toFixed(2)),
      messagesPerSecond: Math.round(N / seconds),
      breakdownSeconds: {
        toFirst: s(first - startedAt),
        inBatches: s(inBatches),
        betweenBatches: s(last - first - inBatches),
        afterLast: s(endedAt - last),
      },
      gapSeconds: {
        first: s(gaps[0] ?? 0),
        median: s(sortedGaps[Math.floor(sortedGaps.length / 2)] ?? 0),
        last: s(gaps.at(-1) ?? 0),
        firstTenthMean: s(mean(gaps.slice(0, tenth))),
        lastTenthMean: s(mean(gaps.slice(-tenth))),
      },
    }
  }
  /** Exactly one message to each of the side's N numbers, with its body; nothing else to its prefix. */
  const verify = (side: Side) => {
    const mine = sandbox.twilio.messages.filter((m) => m.to.startsWith(`+${PREFIX[side]}`))
    const byTo = new Map<string, string[]>()
    for (const m of mine) byTo.set(m.to, [...(byTo.get(m.to) ?? []), m.body])
    const problems: string[] = []
    if (mine.length !== N) problems.push(`${mine.length} messages, not ${N}`)
    for (let i = 0; i < N && problems.length < 5; i++) {
      const bodies = byTo.get(phone(side, i)) ?? []
      if (bodies.length !== 1) problems.push(`recipient ${i} got ${bodies.length} messages`)
      else if (bodies[0] !== bodyOf(i)) problems.push(`recipient ${i} got another body`)
    }
    if (problems.length > 0) throw new Error(`${side}: the sandbox's message list has ${problems.join('; ')}`)
  }
  const cpuSeconds = (since: NodeJS.CpuUsage) => {
    const u = process.cpuUsage(since)
    return Number(((u.user + u.system) / 1e6).toFixed(2))
  }

  try {
    const sdk = await createTwilioSdkClient({
      credentials: { accountSid: ACCOUNT, authToken: AUTH_TOKEN },
      endpoint: sandbox.twilioEndpoint,
    })
    const loop = async (side: Side, limiter?: ReturnType<typeof pacer>, count = N) => {
      for (let start = 0; start < count; start += BATCH) {
        const sends: Promise<unknown>[] = []
        for (let i = start; i < Math.min(count, start + BATCH); i++) {
          if (limiter) await limiter.removeTokens(1)
          sends.push(sdk.messages.create({ to: phone(side, i), from: FROM, body: bodyOf(i) }))
        }
        await Promise.all(sends)
      }
    }

    await loop('warmup', undefined, WARMUP)

    // floor: rate-free, the controller's batches, every message of a batch in flight at once
    let cpu = process.cpuUsage()
    let started = Date.now()
    await loop('floor')
    const floor = {
      ...timing('floor', started, Date.now()),
      benchCpuSeconds: cpuSeconds(cpu),
    }
    verify('floor')

    // paced: the same, at the campaign's rate through the controller's limiter
    cpu = process.cpuUsage()
    started = Date.now()
    await loop('paced', pacer(RATE))
    const paced = {
      ...timing('paced', started, Date.now()),
      benchCpuSeconds: cpuSeconds(cpu),
    }
    verify('paced')

    // operator
    const cp = await startControlPlane()
    try {
      const kc = cp.kubeConfig()
      await installCrds(kc)
      const core = kc.makeApiClient(CoreV1Api)
      const custom = kc.makeApiClient(CustomObjectsApi)
      const ns = 'bench-campaign'
      await core.createNamespace({ body: { metadata: { name: ns } } })
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'twilio' }, stringData: { accountSid: ACCOUNT, authToken: AUTH_TOKEN } },
      })
      // lists of at most 10,000 recipients (about 500 KB), each in a Secret of its own (1 MiB at most)
      const lists: Array<{ secretRef: { name: string }; key: string }> = []
      for (let from = 0; from < N; from += LIST_SIZE) {
        const lines = ['phone,name,link']
        for (let i = from; i < Math.min(N, from + LIST_SIZE); i++) {
          const v = variables(i)
          lines.push(`${phone('operator', i)},${v.name},${v.link}`)
        }
        const name = `players-${lists.length}`
        await core.createNamespacedSecret({
          namespace: ns,
          body: { metadata: { name }, stringData: { 'players.csv': lines.join('\n') } },
        })
        lists.push({ secretRef: { name }, key: 'players.csv' })
      }
      const controller = await startController({ kubeconfig: cp.kubeconfigPath, build: opts.build })
      const sampler = sampleProc(controller.pid)
      try {
        await untilReadyz(controller)
        // let start-up settle (caches, first reconciles) before the "before" reading
        await new Promise((r) => setTimeout(r, 2_000))
        const before = procStat(controller.pid)
        let gone = false
        void controller.exited.then(() => {
          gone = true
        })
        cpu = process.cpuUsage()
        started = Date.now()
        await custom.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: 'messagecampaigns',
          body: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'MessageCampaign',
            metadata: { name: 'course' },
            spec: {
              channel: 'sms',
              from: FROM,
              credentialsSecretRef: { name: 'twilio' },
              endpoint: sandbox.twilioEndpoint,
              template: { body: TEMPLATE },
              recipients: lists,
              rate: RATE,
            },
          },
        })
        type Campaign = {
          status?: {
            phase?: string
            progressRecords?: number
            totals?: { sent?: number; pending?: number; skipped?: number }
          }
        }
        let last: Campaign | undefined
        for (;;) {
          if (gone) throw new Error('the controller exited during the campaign')
          last = (await custom.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: ns,
            plural: 'messagecampaigns',
            name: 'course',
          })) as Campaign
          if (last.status?.phase === 'Completed') break
          if (Date.now() - started > 30 * 60_000)
            throw new Error(
              `the campaign did not complete in 30 minutes: ${JSON.stringify(last.status?.totals)}`,
            )
          await new Promise((r) => setTimeout(r, 100))
        }
        const ended = Date.now()
        const benchCpu = cpuSeconds(cpu)
        const after = procStat(controller.pid)
        const totals = last.status?.totals
        if (totals?.sent !== N || totals.skipped !== 0 || totals.pending !== 0)
          throw new Error(
            `operator: the campaign completed with totals ${JSON.stringify(totals)}, not ${N} sent`,
          )
        const operator = timing('operator', started, ended)
        verify('operator')
        const ratio = (a: Timing, b: Timing) => Number((b.seconds / a.seconds).toFixed(2))
        return {
          recipients: N,
          build: opts.build,
          rate: RATE,
          batch: BATCH,
          loadAverage: { before: loadBefore, after: loadAverage() },
          floor,
          // messages/s as a fraction of the other's: 1 is as fast
          paced: { ...paced, ratioToFloor: ratio(paced, floor) },
          operator: {
            ...operator,
            ratioToFloor: ratio(operator, floor),
            ratioToPaced: ratio(operator, paced),
            controllerCpuSeconds: Number(((after.cpuMs - before.cpuMs) / 1000).toFixed(2)),
            benchCpuSeconds: benchCpu,
          },
          controllerRssMiB: {
            before: Math.round(before.rssMiB),
            after: Math.round(after.rssMiB),
            peak: Math.round(Math.max(after.hwmMiB, sampler.last().hwmMiB)),
          },
          progressRecords: last.status?.progressRecords,
        }
      } finally {
        sampler.stop()
        await controller.stop()
      }
    } finally {
      await cp.stop()
    }
  } finally {
    await sandbox.close()
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { recipients: { type: 'string', default: '10000' }, build: { type: 'string', default: 'ts' } },
  })
  const recipients = Number(values.recipients)
  if (!Number.isInteger(recipients) || recipients < 1)
    throw new Error('--recipients must be a positive integer')
  const [build, ...more] = parseBuilds(values.build)
  if (!build || more.length > 0) throw new Error('--build takes one build')
  const result = await runCampaignBench({ recipients, build })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
