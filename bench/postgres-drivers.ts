/**
 * How the Postgres destination's driver was chosen: `pg` (node-postgres, pg-pool) and `postgres`
 * (postgres.js) each upsert the same pages of transaction-shaped rows into a fresh table on one
 * throwaway server, with the same multi-row `INSERT ... ON CONFLICT DO UPDATE` statement and the
 * same page size, one page per transaction; the table is truncated between runs and the drivers
 * alternate. Prints records/s of each.
 *
 *   node bench/postgres-drivers.ts [rows=100000] [page=1000] [rounds=3]
 *
 * Needs both drivers installed (`npm install --no-save postgres` beside the `pg` dependency).
 */
import pg from 'pg'
import { startPostgres } from '../test/postgres/index.ts'

const ROWS = Number(process.argv[2] ?? 100_000)
const PAGE = Number(process.argv[3] ?? 1_000)
const ROUNDS = Number(process.argv[4] ?? 3)
const COLS = ['id', 'player_id', 'type', 'amount_minor', 'currency', 'status', 'updated_at', 'extra']

function page(p: number): unknown[][] {
  const rows: unknown[][] = []
  for (let i = p * PAGE; i < Math.min(ROWS, (p + 1) * PAGE); i++) {
    rows.push([
      `T${i}`,
      `P${i % 977}`,
      'bet',
      100 + (i % 5000),
      'EUR',
      'completed',
      new Date(1_700_000_000_000 + i * 1000).toISOString(),
      JSON.stringify({ provider: 'softswiss', casino: 'bench' }),
    ])
  }
  return rows
}

function statement(n: number): string {
  const values: string[] = []
  for (let r = 0; r < n; r++) values.push(`(${COLS.map((_, c) => `$${r * COLS.length + c + 1}`).join(',')})`)
  return `INSERT INTO t (${COLS.join(',')}) VALUES ${values.join(',')} ON CONFLICT (id) DO UPDATE SET ${COLS.slice(
    1,
  )
    .map((c) => `${c} = EXCLUDED.${c}`)
    .join(', ')} WHERE t.updated_at <= EXCLUDED.updated_at`
}

const server = await startPostgres()
const ddl = `CREATE TABLE t (id text PRIMARY KEY, player_id text, type text, amount_minor bigint, currency text, status text, updated_at timestamptz, extra jsonb)`
const pages = Math.ceil(ROWS / PAGE)
const data = Array.from({ length: pages }, (_, p) => page(p))

async function runPg(): Promise<number> {
  const pool = new pg.Pool({ connectionString: server.url, max: 2 })
  await pool.query('DROP TABLE IF EXISTS t')
  await pool.query(ddl)
  const t0 = performance.now()
  for (const rows of data) {
    const c = await pool.connect()
    try {
      await c.query('BEGIN')
      await c.query(statement(rows.length), rows.flat())
      await c.query('COMMIT')
    } finally {
      c.release()
    }
  }
  const ms = performance.now() - t0
  await pool.end()
  return ROWS / (ms / 1000)
}

async function runPostgresJs(): Promise<number | undefined> {
  // postgres.js is not a dependency: loaded by name when installed for this comparison.
  interface Sql {
    unsafe(q: string, values?: unknown[]): Promise<unknown>
    begin(fn: (tx: Sql) => Promise<unknown>): Promise<unknown>
    end(): Promise<void>
  }
  let postgres: (url: string, o: object) => Sql
  try {
    const name = 'postgres'
    postgres = ((await import(name)) as { default: typeof postgres }).default
  } catch {
    return undefined
  }
  const sql = postgres(server.url, { max: 2, onnotice: () => {} })
  await sql.unsafe('DROP TABLE IF EXISTS t')
  await sql.unsafe(ddl)
  const t0 = performance.now()
  for (const rows of data) {
    await sql.begin(async (tx) => {
      await tx.unsafe(statement(rows.length), rows.flat())
    })
  }
  const ms = performance.now() - t0
  await sql.end()
  return ROWS / (ms / 1000)
}

const results: Record<string, number[]> = { pg: [], postgres: [] }
for (let r = 0; r < ROUNDS; r++) {
  results.pg?.push(await runPg())
  const p = await runPostgresJs()
  if (p !== undefined) results.postgres?.push(p)
}
await server.stop()
for (const [name, list] of Object.entries(results)) {
  if (list.length === 0) {
    console.log(`${name}: not installed`)
    continue
  }
  const sorted = [...list].sort((a, b) => a - b)
  console.log(
    `${name}: median ${Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0)} records/s (runs: ${list.map((x) => Math.round(x)).join(', ')})`,
  )
}
