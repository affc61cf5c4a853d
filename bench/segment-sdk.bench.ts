/**
 * Bench: what the Segment SDK costs per event by itself, beside what the casino bench's raw floor
 * does for the same events, in one process and one run, with no network and no sandbox:
 *
 * - floor: the events of a page JSON-serialised in batches of 100, as the raw floor posts them.
 * - sdk: the same events through `@segment/analytics-node` (`track` per event, `flushAt` 100),
 *   with an HTTP client that answers 200 at once; the page is done when every event settled.
 *
 * Reports process CPU µs per event for each (medians over interleaved rounds). The difference
 * between `sdk` and `floor` is the SDK's own per-event work, which no deliverer calling it can
 * avoid; the casino bench's ratio cannot pass (floor + read) / (sdk + read) whatever the rest does.
 *
 *   node bench/segment-sdk.bench.ts [--events 100000] [--rounds 3]
 */
import { parseArgs } from 'node:util'
import { Analytics, type HTTPClient } from '@segment/analytics-node'
import type { DeliveryRecord } from '../connectors/index.ts'

const PAGE = 1000
const BATCH = 100

const ok: HTTPClient = {
  makeRequest: async () => ({ status: 200, statusText: 'OK', headers: {} }),
}

function page(p: number): DeliveryRecord[] {
  return Array.from({ length: PAGE }, (_, i) => {
    const n = p * PAGE + i
    return {
      messageId: `casino:softswiss:transactions:${String(n).padStart(32, '0')}`,
      type: 'track',
      userId: `player-${n % 1000}`,
      event: 'Transaction Completed',
      properties: {
        transactionId: `tx-${n}`,
        playerId: `player-${n % 1000}`,
        kind: 'bet',
        amount: '12.50',
        currency: 'EUR',
        status: 'completed',
        createdAt: '2026-03-01T10:00:00.000Z',
        updatedAt: '2026-03-01T10:00:00.000Z',
        provider: 'softswiss',
        casino: 'bench/casino',
      },
      timestamp: '2026-03-01T10:00:00.000Z',
      stream: 'transactions',
      key: `tx-${n}`,
    }
  })
}

type Runner = { deliver(records: DeliveryRecord[]): Promise<void>; close(): Promise<void> }

const runners: Record<string, () => Runner> = {
  floor: () => ({
    async deliver(records) {
      for (let i = 0; i < records.length; i += BATCH) {
        const batch = records.slice(i, i + BATCH).map((d) => ({
          type: d.type,
          messageId: d.messageId,
          userId: d.userId,
          event: d.event,
          properties: d.properties,
          timestamp: d.timestamp,
        }))
        JSON.stringify({ batch })
      }
      await Promise.resolve()
    },
    close: async () => {},
  }),
  sdk: () => {
    const analytics = new Analytics({ writeKey: 'wk', flushAt: BATCH, flushInterval: 10, httpClient: ok })
    let waiting = 0
    let done: () => void = () => {}
    analytics.on('track', () => {
      if (--waiting === 0) done()
    })
    return {
      deliver(records) {
        waiting = records.length
        const settled = new Promise<void>((resolve) => {
          done = resolve
        })
        for (const r of records) {
          analytics.track({
            userId: r.userId,
            event: r.event ?? '',
            properties: r.properties,
            timestamp: r.timestamp,
            messageId: r.messageId,
          })
        }
        return settled
      },
      close: () => analytics.closeAndFlush(),
    }
  },
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { events: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } },
  })
  const events = Number(values.events)
  const pages = Array.from({ length: 20 }, (_, p) => page(p))
  const cpu = new Map<string, number[]>()
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const [name, make] of Object.entries(runners)) {
      const runner = make()
      const before = process.cpuUsage()
      for (let sent = 0, p = 0; sent < events; sent += PAGE, p++)
        await runner.deliver(pages[p % pages.length] ?? [])
      await runner.close()
      const used = process.cpuUsage(before)
      const us = (used.user + used.system) / events
      cpu.set(name, [...(cpu.get(name) ?? []), us])
      process.stderr.write(`round ${round + 1}: ${name}: ${us.toFixed(1)} µs CPU per event\n`)
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const result = Object.fromEntries([...cpu].map(([name, xs]) => [name, Number(median(xs).toFixed(1))]))
  process.stdout.write(`${JSON.stringify({ events, page: PAGE, batch: BATCH, cpuUsPerEvent: result })}\n`)
}
