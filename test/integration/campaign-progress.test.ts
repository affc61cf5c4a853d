/**
 * The campaign's progress records against the real API server: a commit writes only the records
 * whose entries changed (so the bytes per commit do not grow with the campaign), 100,000
 * recipients fit, and two writers that loaded the same records cannot both commit intents.
 */
import { randomBytes } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { CHUNK_ENTRIES, type Entry, Progress, type ProgressOwner } from '../../controller/campaign/index.ts'
import { type Clients, clients, createNamespace } from './helpers.ts'

const id = (i: number) => `r${String(i).padStart(15, '0')}`
const sid = () => `SM${randomBytes(16).toString('hex')}`
const sent = (): Entry => ({
  state: 's',
  sid: sid(),
  delivery: 'undelivered',
  code: 30003,
  sentMs: Math.floor(Date.now() / 1000) * 1000, // kept to the second
})

describe('MessageCampaign progress records', () => {
  let c: Clients
  let ns: string
  let n = 0

  beforeAll(async () => {
    c = clients()
    ns = await createNamespace(c.core, 'mc-progress')
  })

  /** An owner of its own (a ConfigMap) for each test: its records are named after it. */
  async function owner(): Promise<ProgressOwner> {
    const name = `campaign-${n++}`
    const cm = await c.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name } } })
    return { namespace: ns, name, uid: cm.metadata?.uid ?? '', apiVersion: 'v1', kind: 'ConfigMap' }
  }

  it('a batch commit writes only the records its entries are in, however many there are', async () => {
    const o = await owner()
    const p = await Progress.load(c.core, o, { perChunk: 1000 })
    const written: Array<{ records: number; bytes: number }> = []
    // 20 batches of 500, as the controller sends them at rate 1000: intents, then outcomes
    for (let b = 0; b < 20; b++) {
      for (let i = b * 500; i < (b + 1) * 500; i++) p.set(id(i), { state: 'q', intentMs: Date.now() })
      written.push(await p.commit())
      for (let i = b * 500; i < (b + 1) * 500; i++) p.set(id(i), sent())
      // a late callback for a message of the batch before
      if (b > 0)
        p.set(id(b * 500 - 1), { ...(p.get(id(b * 500 - 1)) as Entry & { state: 's' }), delivery: 'read' })
      written.push(await p.commit())
    }
    expect(p.records).toBe(10)
    expect(Math.max(...written.map((w) => w.records))).toBeLessThanOrEqual(2)
    // the last commits write no more than the first full record did: nothing grows with the list
    const full = written[3]?.bytes ?? 0
    expect(full).toBeGreaterThan(0)
    expect(written.at(-1)?.bytes).toBeLessThanOrEqual(full * 1.01)
    expect(written.at(-1)?.bytes).toBeLessThan(written.reduce((a, w) => a + w.bytes, 0) / 20)

    const again = await Progress.load(c.core, o, { perChunk: 1000 })
    expect(again.entries.size).toBe(10_000)
    expect(again.get(id(499))).toMatchObject({ state: 's', delivery: 'read' })
    expect(again.get(id(9_999))).toMatchObject({ state: 's', delivery: 'undelivered', code: 30003 })
    expect(again.bySid.size).toBe(10_000)
    // an update of an old entry writes its record only; a deleted entry is gone after a reload
    again.set(id(3), sent())
    again.delete(id(4))
    expect(await again.commit()).toMatchObject({ records: 1 })
    const third = await Progress.load(c.core, o)
    expect(third.get(id(4))).toBeUndefined()
    expect(third.get(id(3))).toEqual(again.get(id(3)))
  })

  it('100,000 recipients fit, each record far under the 1 MiB a Secret may hold', async () => {
    const o = await owner()
    const p = await Progress.load(c.core, o)
    for (let i = 0; i < 100_000; i++) p.set(id(i), sent())
    await p.commit()
    expect(p.records).toBe(100_000 / CHUNK_ENTRIES)
    const list = await c.core.listNamespacedSecret({
      namespace: ns,
      labelSelector: `switchboard.dev/message-campaign=${o.name}`,
    })
    const sizes = list.items.map((s) => Buffer.from(s.data?.entries ?? '', 'base64').length)
    expect(sizes).toHaveLength(100)
    expect(Math.max(...sizes)).toBeLessThan(100 * 1024)
    expect((await Progress.load(c.core, o)).entries.size).toBe(100_000)
  }, 120_000)

  it('two writers that loaded the same records: the second to commit intents gets a conflict', async () => {
    const o = await owner()
    const seed = await Progress.load(c.core, o, { perChunk: 10 })
    for (let i = 0; i < 5; i++) seed.set(id(i), sent())
    await seed.commit()

    // both add intents to the last record (it has room)
    const a = await Progress.load(c.core, o, { perChunk: 10 })
    const b = await Progress.load(c.core, o, { perChunk: 10 })
    a.set(id(100), { state: 'q', intentMs: 1 })
    b.set(id(100), { state: 'q', intentMs: 2 })
    await a.commit()
    await expect(b.commit()).rejects.toThrow(/written by someone else meanwhile/)

    // a stale writer whose view of the last record had room, after another filled it and started the next
    const stale = await Progress.load(c.core, o, { perChunk: 10 })
    const fresh = await Progress.load(c.core, o, { perChunk: 10 })
    for (let i = 200; i < 210; i++) fresh.set(id(i), { state: 'q', intentMs: 3 })
    await fresh.commit()
    expect(fresh.records).toBe(2)
    stale.set(id(300), { state: 'q', intentMs: 4 })
    await expect(stale.commit()).rejects.toThrow(/written by someone else meanwhile/)

    // both see the last record full: both create the next one, the second fails
    const filler = await Progress.load(c.core, o, { perChunk: 10 })
    for (let i = 600; i < 604; i++) filler.set(id(i), sent())
    expect(await filler.commit()).toMatchObject({ records: 1 })
    const full1 = await Progress.load(c.core, o, { perChunk: 10 })
    const full2 = await Progress.load(c.core, o, { perChunk: 10 })
    for (let i = 400; i < 405; i++) full1.set(id(i), { state: 'q', intentMs: 5 })
    await full1.commit()
    full2.set(id(500), { state: 'q', intentMs: 6 })
    await expect(full2.commit()).rejects.toThrow(/written by someone else meanwhile/)

    const end = await Progress.load(c.core, o, { perChunk: 10 })
    expect(end.get(id(100))).toEqual({ state: 'q', intentMs: 1 })
    expect(end.get(id(300))).toBeUndefined()
    expect(end.get(id(500))).toBeUndefined()
    expect(end.records).toBe(3)
    expect(end.entries.size).toBe(5 + 1 + 10 + 4 + 5)
  })

  it('a record names the Destinations that had every outcome in it; a reload hands those entries over once', async () => {
    const o = await owner()
    const p = await Progress.load(c.core, o, { perChunk: 2 })
    for (let i = 0; i < 3; i++) p.set(id(i), sent())
    await p.commit('cdp,warehouse')
    p.set(id(3), sent()) // into the second record, written for no Destination
    await p.commit('')
    const q = await Progress.load(c.core, o, { perChunk: 2 })
    expect(q.takeReported('cdp').map(([i]) => i)).toEqual([])
    const r = await Progress.load(c.core, o, { perChunk: 2 })
    expect(
      r
        .takeReported('cdp,warehouse')
        .map(([i]) => i)
        .sort(),
    ).toEqual([id(0), id(1)])
    expect(r.takeReported('cdp,warehouse')).toEqual([])
  })

  it('a Secret of a record name that is not the campaign’s is named, not written over', async () => {
    const o = await owner()
    await c.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: Progress.chunkName(o.name, 0) }, stringData: { mine: 'yes' } },
    })
    const p = await Progress.load(c.core, o)
    p.set(id(1), { state: 'q', intentMs: 1 })
    await expect(p.commit()).rejects.toThrow(/exists but belongs to something else/)
    const s = await c.core.readNamespacedSecret({ namespace: ns, name: Progress.chunkName(o.name, 0) })
    expect(Object.keys(s.data ?? {})).toEqual(['mine'])
  })
})
