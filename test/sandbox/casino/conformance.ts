/**
 * The conformance suite every casino connector runs against its sandbox plugin: health check,
 * wrong credentials, reading every stream exactly (ids in order, no gaps, no duplicates, every
 * field as the sandbox holds it), resuming from a cursor, incremental reads of appended records,
 * lookback, cursor validation, and isolation between two casinos. Called from each connector's
 * own test file, which adds the provider's specific cases.
 */
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type {
  CasinoClient,
  CasinoConnector,
  CasinoProvider,
  Page,
  ReadOptions,
  StreamName,
} from '../../../connectors/index.ts'
import { BudgetRegistry, Reason, SwitchboardError } from '../../../connectors/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox.ts'
import type { CasinoAccountSpec } from './state.ts'

export const STREAMS: readonly StreamName[] = ['players', 'transactions', 'games']

export interface ConformanceOptions {
  provider: CasinoProvider
  connector: CasinoConnector
  /** Two accounts of the provider (two casinos); the first is the one most cases use. */
  accounts: [CasinoAccountSpec, CasinoAccountSpec]
  /** The first account's credentials with one value wrong. */
  wrongCredentials: Record<string, string>
}

export interface ConnectorHarness {
  sb: Sandbox
  /** A client of account `n` (0 or 1), with its own budget registry and fast HTTP settings. */
  client(n?: 0 | 1, credentials?: Record<string, string>): CasinoClient
  casinoKey(n?: 0 | 1): string
}

/** Starts a sandbox with the accounts and returns a harness; closes it after the suite. */
export function useConnectorHarness(opts: ConformanceOptions): ConnectorHarness {
  const harness = {} as ConnectorHarness & { keys: string[] }
  beforeAll(async () => {
    harness.sb = await buildSandbox({ casino: { accounts: opts.accounts } })
    await harness.sb.listen()
    harness.keys = harness.sb.casino.accounts(opts.provider).map((a) => a.casinoKey)
  })
  afterAll(() => harness.sb.close())
  beforeEach(() => harness.sb.reset())
  harness.casinoKey = (n = 0) => harness.keys[n] as string
  harness.client = (n = 0, credentials) => {
    const account = opts.accounts[n]
    const settings = opts.connector.settings.parse(account.settings ?? {})
    return opts.connector.create({
      endpoint: harness.sb.casinoEndpoint(opts.provider),
      credentials: credentials ?? account.credentials,
      settings,
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      budgets: new BudgetRegistry({ limits: { [opts.provider]: { ratePerSecond: 10_000, burst: 10_000 } } }),
      http: { timeoutMs: 2000, retry: { limit: 1, backoffBaseMs: 10 } },
    })
  }
  return harness
}

/** Reads a stream to its end; returns the pages. */
export async function readAll(
  client: CasinoClient,
  stream: StreamName,
  opts: ReadOptions = {},
): Promise<Page[]> {
  const pages: Page[] = []
  for await (const page of client.read(stream, opts)) pages.push(page)
  return pages
}

const ids = (pages: Page[]) => pages.flatMap((p) => p.records.map((r) => r.record.id))

export async function expectSwitchboardError(
  promise: Promise<unknown>,
  reason: string,
): Promise<SwitchboardError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(SwitchboardError)
  expect((err as SwitchboardError).reason).toBe(reason)
  return err as SwitchboardError
}

export function describeCasinoConformance(opts: ConformanceOptions): ConnectorHarness {
  const h = useConnectorHarness(opts)
  const { provider } = opts
  const dataset = (n: 0 | 1 = 0) => h.sb.casino.dataset(provider, h.casinoKey(n))

  describe(`${provider} connector conformance`, () => {
    it('passes the health check with good credentials', async () => {
      await h.client().healthCheck()
      expect(h.sb.casino.stats(provider, h.casinoKey()).requests).toBeGreaterThan(0)
    })

    it('fails the health check with wrong credentials: Unauthorized (stalling)', async () => {
      const err = await expectSwitchboardError(
        h.client(0, opts.wrongCredentials).healthCheck(),
        Reason.Unauthorized,
      )
      expect(err.kind).toBe('stalling')
      for (const value of Object.values(opts.wrongCredentials)) expect(err.message).not.toContain(value)
      expect(h.sb.casino.stats(provider, h.casinoKey()).unauthorized).toBeGreaterThan(0)
    })

    for (const stream of STREAMS) {
      it(`reads every ${stream} record exactly as the platform holds it, with small pages`, async () => {
        const d = dataset()
        const pages = await readAll(h.client(), stream, { pageSize: 7 })
        const records = pages.flatMap((p) => p.records)
        expect(records).toHaveLength(d.size(stream))
        records.forEach((r, i) => {
          expect(r.stream).toBe(stream)
          expect(r.record).toEqual(d.recordAt(stream, i))
        })
        expect(new Set(ids(pages)).size).toBe(records.length)
        expect(pages.slice(0, -1).every((p) => p.records.length === 7)).toBe(true)
        expect(h.sb.casino.stats(provider, h.casinoKey()).served[stream]).toBe(d.size(stream))
      })
    }

    it('resumes from a page cursor right after that page', async () => {
      const d = dataset()
      const pages = await readAll(h.client(), 'transactions', { pageSize: 5 })
      const resumed = await readAll(h.client(), 'transactions', { pageSize: 5, cursor: pages[1]?.cursor })
      const expected = Array.from({ length: d.size('transactions') - 10 }, (_, i) =>
        d.id('transactions', i + 10),
      )
      expect(ids(resumed)).toEqual(expected)
    })

    it('reads only appended records from the last cursor, then nothing more', async () => {
      const client = h.client()
      const first = await readAll(client, 'players', { pageSize: 50 })
      const cursor = first.at(-1)?.cursor
      expect(cursor).toBeTypeOf('string')
      expect(await readAll(client, 'players', { cursor })).toEqual([])
      const before = dataset().size('players')
      h.sb.casino.append(provider, h.casinoKey(), 'players', 12)
      const next = await readAll(client, 'players', { cursor, pageSize: 5 })
      expect(ids(next)).toEqual(Array.from({ length: 12 }, (_, i) => dataset().id('players', before + i)))
      expect(await readAll(client, 'players', { cursor: next.at(-1)?.cursor })).toEqual([])
    })

    it('re-reads the lookback window before the cursor', async () => {
      const d = dataset()
      const pages = await readAll(h.client(), 'games', { pageSize: 40 })
      const cursor = pages.at(-1)?.cursor
      const last = d.size('games') - 1
      const lastAt = d.updatedAtMs('games', last)
      const lookbackMs = 5 * 20_000
      const again = await readAll(h.client(), 'games', { cursor, lookbackMs, pageSize: 4 })
      const from = d.firstAfter('games', lastAt - lookbackMs, undefined)
      expect(from).toBeLessThan(last)
      expect(ids(again)).toEqual(
        Array.from({ length: d.size('games') - from }, (_, i) => d.id('games', from + i)),
      )
    })

    it('starts at startFrom when there is no cursor', async () => {
      const d = dataset()
      const at = d.updatedAtMs('transactions', 30)
      const pages = await readAll(h.client(), 'transactions', { startFrom: new Date(at), pageSize: 100 })
      expect(ids(pages)[0]).toBe(d.id('transactions', d.firstAfter('transactions', at, undefined)))
      expect(ids(pages)).toHaveLength(d.size('transactions') - d.firstAfter('transactions', at, undefined))
    })

    it('refuses a cursor of another stream or a corrupt one: InvalidCursor naming the stream', async () => {
      const [page] = await readAll(h.client(), 'players', { pageSize: 3 })
      const err = await expectSwitchboardError(
        readAll(h.client(), 'games', { cursor: page?.cursor }),
        Reason.InvalidCursor,
      )
      expect(err.message).toContain('games')
      expect(err.kind).toBe('stalling')
      await expectSwitchboardError(readAll(h.client(), 'players', { cursor: 'c1.!!!' }), Reason.InvalidCursor)
    })

    it('keeps two casinos apart: each reads only its own records', async () => {
      const pageSize = opts.connector.maxPageSize
      const a = await readAll(h.client(0), 'players', { pageSize })
      const b = await readAll(h.client(1), 'players', { pageSize })
      expect(a.flatMap((p) => p.records.map((r) => r.record))).toEqual(
        Array.from({ length: dataset(0).size('players') }, (_, i) => dataset(0).recordAt('players', i)),
      )
      expect(b.flatMap((p) => p.records.map((r) => r.record))).toEqual(
        Array.from({ length: dataset(1).size('players') }, (_, i) => dataset(1).recordAt('players', i)),
      )
      expect(h.sb.casino.stats(provider, h.casinoKey(1)).served.players).toBe(dataset(1).size('players'))
      expect(h.sb.casino.stats(provider, h.casinoKey(0)).served.players).toBe(dataset(0).size('players'))
    })

    it('rejects a page size above the platform maximum as a spec error', async () => {
      await expectSwitchboardError(
        readAll(h.client(), 'players', { pageSize: opts.connector.maxPageSize + 1 }),
        Reason.InvalidSpec,
      )
    })
  })
  return h
}
