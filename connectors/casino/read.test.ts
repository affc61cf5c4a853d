import { describe, expect, it, vi } from 'vitest'
import { Reason, SwitchboardError } from '../errors.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'
import { type PageRequest, readPages } from './read.ts'
import type { CasinoRecord, Page, Player } from './types.ts'

const T0 = Date.UTC(2024, 0, 1)

/** n players, two per millisecond-second, ids P00..; a fetcher that pages them like a platform. */
function platform(n: number) {
  const players: Player[] = Array.from({ length: n }, (_, i) => ({
    id: `P${String(i).padStart(4, '0')}`,
    currency: 'EUR',
    status: 'active',
    registeredAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0 + Math.floor(i / 2) * 1000).toISOString(),
  }))
  const calls: PageRequest[] = []
  const fetchPage = vi.fn(async (req: PageRequest) => {
    calls.push(req)
    const since = req.since.getTime()
    const start = players.findIndex((p) => {
      const at = Date.parse(p.updatedAt)
      return at > since || (at === since && (req.afterId === undefined || p.id > req.afterId))
    })
    const from = start < 0 ? n : start
    const slice = players.slice(from, from + req.limit)
    return {
      records: slice.map((record): CasinoRecord => ({ stream: 'players', record })),
      hasMore: from + req.limit < n,
    }
  })
  return { players, calls, fetchPage }
}

async function collect(gen: AsyncGenerator<Page>): Promise<Page[]> {
  const out: Page[] = []
  for await (const p of gen) out.push(p)
  return out
}

const ids = (pages: Page[]) => pages.flatMap((p) => p.records.map((r) => r.record.id))

async function rejection(p: Promise<unknown>): Promise<SwitchboardError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(SwitchboardError)
  return err as SwitchboardError
}

describe('readPages', () => {
  it('pages through everything in order with a cursor per page', async () => {
    const p = platform(11)
    const pages = await collect(
      readPages({ provider: 'softswiss', stream: 'players', fetchPage: p.fetchPage, pageSize: 3 }),
    )
    expect(pages.map((pg) => pg.records.length)).toEqual([3, 3, 3, 2])
    expect(ids(pages)).toEqual(p.players.map((x) => x.id))
    expect(decodeCursor('softswiss', 'players', pages[1]?.cursor ?? '')).toEqual({
      updatedAt: p.players[5]?.updatedAt,
      id: 'P0005',
    })
    expect(p.calls[0]).toMatchObject({ since: new Date(0), afterId: undefined, limit: 3 })
    expect(p.calls[1]).toMatchObject({ since: new Date(T0 + 1000), afterId: 'P0002' })
  })

  it('is lazy: one request per page pulled, nothing held between pages', async () => {
    const p = platform(10)
    const gen = readPages({ provider: 'softswiss', stream: 'players', fetchPage: p.fetchPage, pageSize: 2 })
    expect(p.fetchPage).not.toHaveBeenCalled()
    await gen.next()
    expect(p.fetchPage).toHaveBeenCalledTimes(1)
    await gen.return(undefined)
    expect(p.fetchPage).toHaveBeenCalledTimes(1)
  })

  it('starts from startFrom, or with lookback from before the cursor', async () => {
    const p = platform(10)
    const fromStart = await collect(
      readPages({
        provider: 'softswiss',
        stream: 'players',
        fetchPage: p.fetchPage,
        startFrom: new Date(T0 + 3000),
      }),
    )
    expect(ids(fromStart)).toEqual(['P0006', 'P0007', 'P0008', 'P0009'])
    const cursor = encodeCursor('softswiss', 'players', {
      updatedAt: new Date(T0 + 3000).toISOString(),
      id: 'P0006',
    })
    const resumed = await collect(
      readPages({ provider: 'softswiss', stream: 'players', fetchPage: p.fetchPage, cursor }),
    )
    expect(ids(resumed)).toEqual(['P0007', 'P0008', 'P0009'])
    const lookedBack = await collect(
      readPages({
        provider: 'softswiss',
        stream: 'players',
        fetchPage: p.fetchPage,
        cursor,
        lookbackMs: 1000,
      }),
    )
    expect(ids(lookedBack)).toEqual(['P0004', 'P0005', 'P0006', 'P0007', 'P0008', 'P0009'])
  })

  it('yields nothing when there is nothing new (the cursor stays where it was)', async () => {
    const p = platform(4)
    const cursor = encodeCursor('softswiss', 'players', {
      updatedAt: p.players[3]?.updatedAt ?? '',
      id: 'P0003',
    })
    expect(
      await collect(readPages({ provider: 'softswiss', stream: 'players', fetchPage: p.fetchPage, cursor })),
    ).toEqual([])
  })

  const page =
    (records: Player[], hasMore = false) =>
    async () => ({
      records: records.map((record): CasinoRecord => ({ stream: 'players', record })),
      hasMore,
    })
  const player = (id: string, at: number): Player => ({
    id,
    currency: 'EUR',
    status: 'active',
    registeredAt: new Date(T0).toISOString(),
    updatedAt: new Date(at).toISOString(),
  })

  it.each([
    [
      'out of order',
      page([player('a', T0 + 2000), player('b', T0 + 1000)]),
      /out of updatedAt order \(at index 1\)/,
    ],
    ['empty but more', page([], true), /empty page/],
    ['too many', page([player('a', T0), player('b', T0), player('c', T0)]), /3 records for a page of 2/],
  ])('refuses a page that is %s: MalformedResponse', async (_what, fetchPage, message) => {
    const err = await rejection(
      collect(readPages({ provider: 'altenar', stream: 'players', fetchPage, pageSize: 2 })),
    )
    expect(err.reason).toBe(Reason.MalformedResponse)
    expect(err.kind).toBe('transient')
    expect(err.message).toMatch(message)
  })

  it('refuses a page from before the cursor or one that does not advance', async () => {
    const cursor = encodeCursor('altenar', 'players', {
      updatedAt: new Date(T0 + 5000).toISOString(),
      id: 'm',
    })
    const before = await rejection(
      collect(
        readPages({
          provider: 'altenar',
          stream: 'players',
          cursor,
          fetchPage: page([player('z', T0)], true),
        }),
      ),
    )
    expect(before.message).toMatch(/before the position asked for/)
    const stuck = await rejection(
      collect(
        readPages({
          provider: 'altenar',
          stream: 'players',
          cursor,
          fetchPage: page([player('m', T0 + 5000)], true),
        }),
      ),
    )
    expect(stuck.message).toMatch(/does not advance/)
  })

  it('refuses bad options as spec errors', async () => {
    const p = platform(1)
    const base = { provider: 'softswiss' as const, stream: 'players' as const, fetchPage: p.fetchPage }
    expect((await rejection(collect(readPages({ ...base, pageSize: 0 })))).reason).toBe(Reason.InvalidSpec)
    expect((await rejection(collect(readPages({ ...base, pageSize: 1001 })))).reason).toBe(Reason.InvalidSpec)
    expect((await rejection(collect(readPages({ ...base, lookbackMs: -1 })))).reason).toBe(Reason.InvalidSpec)
    expect((await rejection(collect(readPages({ ...base, startFrom: new Date('nope') })))).reason).toBe(
      Reason.InvalidSpec,
    )
  })

  it('stops between pages when the signal aborts', async () => {
    const p = platform(10)
    const controller = new AbortController()
    const gen = readPages({
      provider: 'softswiss',
      stream: 'players',
      fetchPage: p.fetchPage,
      pageSize: 2,
      signal: controller.signal,
    })
    await gen.next()
    controller.abort()
    const err = await rejection(gen.next())
    expect(err.reason).toBe(Reason.Timeout)
    expect(p.fetchPage).toHaveBeenCalledTimes(1)
  })
})
