/**
 * Bench: N casino records (default 1,000,000 transactions) from the sandbox's SOFTSWISS plugin into
 * PostgreSQL, two ways in one run against the same sandbox and the same throwaway server
 * (Debian's postgresql, fsync off):
 *
 * - raw:      the connector reads pages; each page is written with `pg` from a pool of the same
 *             size as the Destination's, in one transaction: the same multi-row upsert statement
 *             (built by the same function) and the cursor upsert, then COMMIT. No operator: the floor.
 * - operator: `switchboard controller` (its own process, the bundle the image runs unless
 *             `--build ts`, with the image's environment) syncs a CasinoIntegration into a
 *             Postgres Destination against a real local API server: rows and cursor in one
 *             transaction per page, progress written to status every 2 s.
 *
 * Reports records/s of each, their ratio, and the controller's RSS before, after and at peak.
 *
 *   node bench/postgres.bench.ts [--records 1000000] [--page 1000] [--build bundle|ts]
 */
import { parseArgs } from 'node:util'
import pg from 'pg'
import { Registry } from 'prom-client'
import {
  CURSOR_TABLE,
  casinoConnectors,
  createLogger,
  createPostgresDeliverer,
  postgresUpsertStatements,
  TABLE_SHAPES,
  toDeliveryRecord,
} from '../connectors/index.ts'
import { startPostgres } from '../test/postgres/index.ts'
import { buildSandbox } from '../test/sandbox/index.ts'
import { runOperatorSync } from './casino-operator.ts'
import { type ControllerBuild, parseBuilds } from './lib.ts'

const TABLES = { players: 'players', transactions: 'transactions', games: 'game_sessions' }
const POOL = 4

export async function runPostgresBench(opts: { records: number; pageSize: number; build: ControllerBuild }) {
  const { records, pageSize } = opts
  const casinos = ['bench-raw', 'bench-operator']
  const sandbox = await buildSandbox({
    casino: {
      maxPageSize: Math.max(1000, pageSize),
      accounts: casinos.map((casinoId) => ({
        provider: 'softswiss' as const,
        credentials: { apiKey: `${casinoId}-key`, apiSecret: `${casinoId}-secret` },
        settings: { casinoId },
        size: { players: 1, transactions: records, games: 1 },
      })),
    },
  })
  await sandbox.listen()
  const server = await startPostgres()
  const logger = createLogger({ level: 'warn' })
  const connector = casinoConnectors.softswiss
  const report = (name: string, seconds: number) => {
    process.stderr.write(`[postgres bench] ${name}: ${records} records in ${seconds.toFixed(1)} s\n`)
    return { seconds: Number(seconds.toFixed(2)), recordsPerSecond: Math.round(records / seconds) }
  }
  const mark = (name: string, started: number) => report(name, (performance.now() - started) / 1000)
  const connection = {
    host: server.host,
    port: server.port,
    database: server.database,
    user: server.user,
    password: server.password,
  }
  const pool = new pg.Pool({ ...connection, max: POOL })
  try {
    // raw: the tables prepared as the Destination prepares them (not timed), then the loop
    const prep = createPostgresDeliverer({ connection, sslMode: 'disable', schema: 'raw', tables: TABLES })
    await prep.check?.()
    await prep.close()
    const client = connector.create({
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentials: { apiKey: 'bench-raw-key', apiSecret: 'bench-raw-secret' },
      settings: connector.settings.parse({ casinoId: 'bench-raw' }),
      logger,
      metrics: new Registry(),
    })
    const started = performance.now()
    for await (const page of client.read('transactions', { pageSize })) {
      const rows = page.records.map((r) => toDeliveryRecord('softswiss', 'bench/raw', r))
      const c = await pool.connect()
      try {
        await c.query('BEGIN')
        for (const st of postgresUpsertStatements('raw', 'transactions', TABLE_SHAPES.transactions, rows)) {
          await c.query(st)
        }
        await c.query(
          `INSERT INTO raw.${CURSOR_TABLE} AS c (integration, stream, cursor, records, updated_at)
           VALUES ($1, $2, $3, $4, now()) ON CONFLICT (integration, stream) DO UPDATE
           SET cursor = EXCLUDED.cursor, records = c.records + EXCLUDED.records, updated_at = now()`,
          ['raw', 'transactions', page.cursor, rows.length],
        )
        await c.query('COMMIT')
      } finally {
        c.release()
      }
    }
    const raw = mark('raw', started)
    const [check] = (await pool.query('SELECT count(*) AS n FROM raw.transactions')).rows as Array<{
      n: string
    }>
    if (Number(check?.n) !== records) throw new Error(`raw: ${check?.n} rows, expected ${records}`)

    // operator
    const operator = await runOperatorSync(
      {
        namespace: 'bench-postgres',
        casinoId: 'bench-operator',
        platformCredentials: { apiKey: 'bench-operator-key', apiSecret: 'bench-operator-secret' },
        endpoint: sandbox.casinoEndpoint('softswiss'),
        destination: {
          name: 'db',
          spec: { postgres: { sslMode: 'disable', schema: 'operator', maxConnections: POOL } },
          secret: { url: server.url },
        },
        records,
        pageSize,
        build: opts.build,
      },
      async () => {
        const [rows] = (await pool.query('SELECT count(*) AS n FROM operator.transactions')).rows as Array<{
          n: string
        }>
        if (Number(rows?.n) !== records) throw new Error(`operator: ${rows?.n} rows, expected ${records}`)
      },
    )
    const viaOperator = report('operator', operator.seconds)
    return {
      records,
      pageSize,
      build: opts.build,
      raw,
      operator: {
        ...viaOperator,
        ratioToRaw: Number((viaOperator.recordsPerSecond / raw.recordsPerSecond).toFixed(2)),
      },
      controllerRssMiB: operator.controllerRssMiB,
    }
  } finally {
    await pool.end()
    await server.stop()
    await sandbox.close()
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      page: { type: 'string', default: '1000' },
      build: { type: 'string', default: 'bundle' },
    },
  })
  const [build = 'bundle'] = parseBuilds(values.build)
  const result = await runPostgresBench({
    records: Number(values.records),
    pageSize: Number(values.page),
    build,
  })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
