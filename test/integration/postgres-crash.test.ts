import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  clients,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  sleep,
  waitFor,
  waitForCondition,
} from './helpers.ts'
import { createDatabase, rows, type TestDatabase } from './pg.ts'
import { type ControllerProcess, spawnController } from './process.ts'

const RECORDS = 100_000
const PAGE = 1_000
const KILLS = 22
const FIRST_ID = 5_000_000 // the sandbox's numeric transaction ids (SOFTSWISS style) start here

/** A small seeded generator, so a failing run can be repeated (the seed is printed). */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return s / 2 ** 32
  }
}

describe('a controller SIGKILLed at 20+ points of a 100,000-record sync into PostgreSQL', () => {
  let c: Clients
  let sandbox: Sandbox
  let db: TestDatabase
  const procs: ControllerProcess[] = []

  const start = () => {
    const p = spawnController(['--kubeconfig', inject('kubeconfigPath'), '--metrics-bind-address', '0'], {
      LOG_LEVEL: 'warn',
    })
    procs.push(p)
    return p
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    db = await createDatabase('crash')
    sandbox = await buildSandbox({
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials: { apiKey: 'pgcrash-key', apiSecret: 'pgcrash-secret' },
            settings: { casinoId: 'pgcrash' },
            size: { players: 10, transactions: RECORDS, games: 10 },
          },
        ],
      },
    })
    await sandbox.listen()
  })

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
    await sandbox?.close()
    await db?.drop()
  })

  it('0 duplicate rows, 0 missing rows, every row written once, status and database agree', async () => {
    const seed = Number(process.env.SWITCHBOARD_CRASH_SEED ?? Date.now() % 1_000_000)
    process.stderr.write(`[pg-crash] seed ${seed} (SWITCHBOARD_CRASH_SEED=${seed} repeats it)\n`)
    const random = rng(seed)
    const ns = await createNamespace(c.core, 'pgcrash')
    await createSecret(c.core, ns, 'db', { url: db.url })
    await createSecret(c.core, ns, 'platform', { apiKey: 'pgcrash-key', apiSecret: 'pgcrash-secret' })
    await createResource(c, 'Destination', ns, 'db', {
      credentialsSecretRef: { name: 'db' },
      postgres: { sslMode: 'disable', schema: 'lake' },
    })
    let proc = start()
    await waitForCondition(c, 'destinations', ns, 'db', 'Ready', 'True', undefined, 60_000)
    // Every committed write of a row leaves one audit row (rolled back with its transaction): a
    // page committed twice would leave two for each of its records.
    await db.pool.query('CREATE TABLE lake.audit (id text NOT NULL)')
    await db.pool.query(
      `CREATE FUNCTION lake.audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO lake.audit VALUES (NEW.id); RETURN NEW; END $$`,
    )
    await db.pool.query(
      'CREATE TRIGGER audit AFTER INSERT OR UPDATE ON lake.transactions FOR EACH ROW EXECUTE FUNCTION lake.audit_row()',
    )
    await createResource(c, 'CasinoIntegration', ns, 'casino', {
      provider: 'softswiss',
      softswiss: { casinoId: 'pgcrash' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'platform' },
      streams: [{ name: 'transactions', pageSize: PAGE }],
      destinationRefs: [{ name: 'db' }],
    })

    const integration = `CasinoIntegration/${ns}/casino`
    const dbCursor = async () => {
      const [r] = await rows<{ cursor: string; records: string }>(
        db.pool,
        'SELECT cursor, records FROM lake.switchboard_cursors WHERE integration = $1 AND stream = $2',
        [integration, 'transactions'],
      )
      return r ? { cursor: r.cursor, records: Number(r.records) } : { cursor: undefined, records: 0 }
    }
    const statusCursor = async () => {
      const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
      return (o.status?.streams as Array<{ name: string; cursor?: string }> | undefined)?.find(
        (s) => s.name === 'transactions',
      )?.cursor
    }

    let kills = 0
    let betweenCommitAndStatus = 0
    const killedAt: number[] = []
    while (kills < KILLS) {
      const before = (await dbCursor()).records
      if (before >= RECORDS - 2 * PAGE) break
      // wait for the next commit; then kill at once (the status write has most likely not
      // happened yet) or a little later (mid-page, mid-transaction, mid-status write)
      const immediate = kills % 2 === 0
      const delayMs = immediate ? 0 : Math.floor(random() * 400)
      await waitFor(
        'a page to be committed',
        async () => ((await dbCursor()).records > before ? true : undefined),
        { timeoutMs: 90_000, intervalMs: 2 },
      )
      if (delayMs) await sleep(delayMs)
      proc.kill('SIGKILL')
      await proc.exited
      kills++
      const committed = await dbCursor()
      killedAt.push(committed.records)
      if (committed.cursor !== (await statusCursor())) betweenCommitAndStatus++
      proc = start()
    }

    const done = await waitFor(
      'the sync to finish after the last restart',
      async () => {
        const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
        const st = (
          o.status?.streams as Array<{ name: string; totalRecordsSynced?: number }> | undefined
        )?.find((s) => s.name === 'transactions')
        return st?.totalRecordsSynced === RECORDS && o.status?.totalRecordsSynced === RECORDS ? o : undefined
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    )
    process.stderr.write(
      `[pg-crash] ${kills} kills (records committed at each: ${killedAt.join(', ')}); ` +
        `${betweenCommitAndStatus} between a database commit and the status write\n`,
    )
    expect(kills).toBeGreaterThanOrEqual(20)
    expect(betweenCommitAndStatus).toBeGreaterThanOrEqual(1)

    const [t] = await rows<{ n: string; d: string; lo: string; hi: string }>(
      db.pool,
      'SELECT count(*) AS n, count(DISTINCT id) AS d, min(id::bigint) AS lo, max(id::bigint) AS hi FROM lake.transactions',
    )
    // 100,000 distinct ids, all within the sandbox's range: none missing, none twice
    expect({ n: Number(t?.n), d: Number(t?.d), lo: Number(t?.lo), hi: Number(t?.hi) }).toEqual({
      n: RECORDS,
      d: RECORDS,
      lo: FIRST_ID,
      hi: FIRST_ID + RECORDS - 1,
    })
    // every row committed exactly once: no page was written again after a restart
    const [a] = await rows<{ n: string; d: string }>(
      db.pool,
      'SELECT count(*) AS n, count(DISTINCT id) AS d FROM lake.audit',
    )
    expect({ writes: Number(a?.n), rows: Number(a?.d) }).toEqual({ writes: RECORDS, rows: RECORDS })
    // the rows hold the sandbox's values
    const dataset = sandbox.casino.dataset('softswiss', 'pgcrash')
    for (const i of [0, 1, 49_999, 99_999]) {
      const rec = dataset.recordAt('transactions', i)
      const [row] = await rows(
        db.pool,
        'SELECT player_id, amount_minor, status FROM lake.transactions WHERE id = $1',
        [rec.id],
      )
      expect(row).toEqual({
        player_id: rec.playerId,
        amount_minor: String(rec.amountMinor),
        status: rec.status,
      })
    }
    // status and the database agree on where the stream is and how much it holds
    const final = await dbCursor()
    expect(final.records).toBe(RECORDS)
    const st = ((done.status?.streams ?? []) as Array<{ name: string; cursor?: string }>).find(
      (s) => s.name === 'transactions',
    )
    expect(st?.cursor).toBe(final.cursor)
  }, 480_000)
})
