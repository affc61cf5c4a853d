import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildSandbox, type Sandbox } from '../../test/sandbox/index.ts'
import { BudgetRegistry } from '../http/budget.ts'
import { softswiss } from '../softswiss/index.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const N = 100_000

describe('reading a large stream', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await buildSandbox({
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials: { apiKey: 'mem-key', apiSecret: 'mem-secret' },
            settings: { casinoId: 'big' },
            size: { players: 1000, transactions: N, games: 0 },
          },
        ],
      },
    })
    await sb.listen()
  })
  afterAll(() => sb.close())

  it(`keeps the heap bounded by a page while streaming ${N} records`, async () => {
    const client = softswiss.create({
      endpoint: sb.casinoEndpoint('softswiss'),
      credentials: { apiKey: 'mem-key', apiSecret: 'mem-secret' },
      settings: softswiss.settings.parse({ casinoId: 'big' }),
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      budgets: new BudgetRegistry({ limits: { softswiss: { ratePerSecond: 10_000, burst: 10_000 } } }),
    })
    gc()
    const baseline = process.memoryUsage().heapUsed
    let count = 0
    let pages = 0
    let lastId = ''
    let peak = 0
    for await (const page of client.read('transactions', { pageSize: 1000 })) {
      count += page.records.length
      lastId = page.records.at(-1)?.record.id ?? lastId
      if (++pages % 20 === 0) {
        gc()
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
      }
    }
    expect(count).toBe(N)
    expect(lastId).toBe(sb.casino.dataset('softswiss', 'big').id('transactions', N - 1))
    // measured: ~3.5 MB streaming; ~30 MB when the records are kept (so this can fail)
    expect(peak).toBeLessThan(12 * 1024 * 1024)
  }, 60_000)
})
