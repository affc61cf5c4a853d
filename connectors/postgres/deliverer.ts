/**
 * Delivers casino records into PostgreSQL tables (see tables.ts) through `pg` (node-postgres,
 * pure JavaScript) with a pool of connections. One `deliver` is one transaction: the page's rows
 * of each stream as multi-row upserts, and, when the sync passes `opts.checkpoint`, the stream's
 * cursor in `switchboard_cursors`. Either all of it is committed or none of it, so a sync that
 * resumes from `cursors.read()` neither loses nor repeats a page.
 *
 * Tables are prepared once per deliverer (and again by every `check`): the schema and missing
 * tables are created; an existing table is used when it has every column with a compatible type
 * and a primary key or unique index on (casino, id). A table Switchboard created (its comment
 * says so) gets missing columns added; any other mismatch is a stalling `InvalidSpec` naming the
 * table and the column, and nothing is dropped or altered.
 *
 * Errors: a refused password or missing privilege → stalling `Unauthorized`; an unknown database
 * → stalling `InvalidSpec`; connection failures, timeouts, server shutdowns, serialization
 * failures → transient `DestinationUnavailable` (the controller retries with backoff); rows the
 * server refuses → stalling `DestinationRejected`. Messages name host, port, database and user,
 * never the password.
 */
import type { ConnectionOptions } from 'node:tls'
import pg from 'pg'
import {
  type CursorStore,
  type Deliverer,
  type DeliverOptions,
  type DeliveryRecord,
  type DeliveryResult,
  describeError,
  silentLogger,
  validateRecords,
  withAbort,
} from '../delivery.ts'
import { Reason, StallingError, SwitchboardError, sanitizeMessage, TransientError } from '../errors.ts'
import type { Logger } from '../log.ts'
import {
  allColumns,
  type ColumnType,
  CURSOR_COLUMNS,
  CURSOR_KEY,
  CURSOR_TABLE,
  compatible,
  createTableSql,
  ident,
  KEY_COLUMNS,
  TABLE_SHAPES,
  type TableShape,
  upsertStatements,
} from './tables.ts'

export type PostgresSslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full'

export interface PostgresConnection {
  host: string
  port: number
  database: string
  user: string
  password: string
}

export interface PostgresDelivererOptions {
  connection: PostgresConnection
  sslMode: PostgresSslMode
  /** PEM CA bundle for verify-ca / verify-full; default the system roots. */
  ca?: string
  schema: string
  /** Table name per stream. */
  tables: Record<TableShape['stream'], string>
  /** Pool size. Default 4. */
  maxConnections?: number
  /** Connect and per-transaction timeout in ms. Default 30000. */
  timeoutMs?: number
  logger?: Logger
}

const MANAGED_COMMENT = 'managed by Switchboard'

/** Parses a `postgres://` or `postgresql://` URL; throws a message that never holds the password. */
export function parsePostgresUrl(url: string): PostgresConnection {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new Error('is not a URL')
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new Error('must start with postgres://')
  if (!u.hostname) throw new Error('has no host')
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''))
  if (!database) throw new Error('has no database (postgres://user:password@host:port/database)')
  if (!u.username) throw new Error('has no user')
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port ? Number(u.port) : 5432,
    database,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  }
}

function sslOptions(mode: PostgresSslMode, ca: string | undefined): false | ConnectionOptions {
  switch (mode) {
    case 'disable':
      return false
    case 'require':
      return { rejectUnauthorized: false }
    case 'verify-ca':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined }
    case 'verify-full':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}) }
  }
}

const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** Maps a driver or server error to a Switchboard error (see the file header). */
export function errorFor(err: unknown, where: string, secrets: readonly string[]): SwitchboardError {
  const e = err as { code?: unknown; message?: unknown }
  const code = typeof e?.code === 'string' ? e.code : ''
  const text = (m: string) => sanitizeMessage(`PostgreSQL at ${where}: ${m}`, secrets)
  const detail = describeError(err)
  if (code === '28P01' || code === '28000' || code === '42501') {
    return new StallingError(
      Reason.Unauthorized,
      text(`${detail} [${code}] (check the credentials and grants)`),
    )
  }
  if (code === '3D000') {
    return new StallingError(Reason.InvalidSpec, text(`${detail} [${code}]`), { field: 'database' })
  }
  if (TLS_CODES.has(code)) {
    return new StallingError(
      Reason.DestinationRejected,
      text(`TLS verification failed: ${detail} (check spec.postgres.sslMode and the Secret's ca.crt)`),
      { field: 'spec.postgres.sslMode' },
    )
  }
  if (/does not support SSL/i.test(detail)) {
    return new StallingError(Reason.InvalidSpec, text(`${detail} (set spec.postgres.sslMode)`), {
      field: 'spec.postgres.sslMode',
    })
  }
  // SQLSTATE classes: 08 connection, 40 transaction rollback, 53 resources, 57 operator
  // intervention (shutdown), 58 system; anything without a SQLSTATE is the network.
  if (!/^[0-9A-Z]{5}$/.test(code) || /^(08|40|53|57|58)/.test(code)) {
    return new TransientError(Reason.DestinationUnavailable, text(`${detail} (retried with backoff)`))
  }
  return new StallingError(Reason.DestinationRejected, text(`${detail} [${code}]`))
}

export function createPostgresDeliverer(
  opts: PostgresDelivererOptions,
): Deliverer & { cursors: CursorStore } {
  const { connection: conn, schema, tables } = opts
  const log = opts.logger ?? silentLogger()
  const timeoutMs = opts.timeoutMs ?? 30_000
  const where = `${conn.host}:${conn.port}/${conn.database} (user "${conn.user}")`
  const secrets = conn.password ? [conn.password] : []
  const pool = new pg.Pool({
    host: conn.host,
    port: conn.port,
    database: conn.database,
    user: conn.user,
    password: conn.password,
    ssl: sslOptions(opts.sslMode, opts.ca),
    max: opts.maxConnections ?? 4,
    connectionTimeoutMillis: timeoutMs,
    idleTimeoutMillis: 30_000,
    query_timeout: timeoutMs,
    application_name: 'switchboard',
  })
  // An idle connection that the server closed: the pool drops it; the next checkout reconnects.
  pool.on('error', (err) => log.warn({ err: describeError(err) }, 'idle PostgreSQL connection closed'))
  let prepared: Promise<void> | undefined
  let closed = false
  let inFlight = 0
  const idle: Array<() => void> = []

  const fail = (err: unknown) => errorFor(err, where, secrets)

  async function prepare(): Promise<void> {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      // One preparer at a time per schema (several controllers, or Destinations sharing a database).
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`switchboard:${schema}`])
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`)
      for (const shape of Object.values(TABLE_SHAPES)) {
        await ensureTable(
          client,
          tables[shape.stream],
          allColumns(shape),
          KEY_COLUMNS,
          `spec.postgres.tables.${shape.stream}`,
        )
      }
      await ensureTable(client, CURSOR_TABLE, CURSOR_COLUMNS, CURSOR_KEY, 'spec.postgres.schema')
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async function ensureTable(
    client: pg.PoolClient,
    table: string,
    columns: ReadonlyArray<{ name: string; type: ColumnType; notNull?: boolean }>,
    key: readonly string[],
    field: string,
  ): Promise<void> {
    const qualified = `${schema}.${table}`
    const found = await client.query<{ oid: number; comment: string | null }>(
      `SELECT c.oid, obj_description(c.oid, 'pg_class') AS comment FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [schema, table],
    )
    const rel = found.rows[0]
    if (!rel) {
      await client.query(createTableSql(schema, table, columns, key))
      await client.query(`COMMENT ON TABLE ${ident(schema)}.${ident(table)} IS '${MANAGED_COMMENT}'`)
      log.info({ table: qualified }, 'table created')
      return
    }
    const managed = rel.comment === MANAGED_COMMENT
    const have = await client.query<{ column_name: string; data_type: string }>(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
      [schema, table],
    )
    const types = new Map(have.rows.map((r) => [r.column_name, r.data_type]))
    const invalid = (message: string) =>
      new StallingError(
        Reason.InvalidSpec,
        `PostgreSQL table "${qualified}" ${message}; nothing was changed`,
        {
          field,
        },
      )
    // a column of the wrong type first: that is the conflict to fix; then the missing ones
    for (const c of columns) {
      const t = types.get(c.name)
      if (t !== undefined && !compatible(c.type, t)) {
        throw invalid(
          `has column "${c.name}" of type ${t}, Switchboard writes ${c.type} there; change the column, or name another table in ${field}`,
        )
      }
    }
    const missing = columns.filter((c) => !types.has(c.name))
    const refused = missing.find((c) => !managed || key.includes(c.name))
    if (refused) {
      throw invalid(
        `has no column "${refused.name}" (${refused.type}); add it, or name another table in ${field}`,
      )
    }
    for (const c of missing) {
      await client.query(`ALTER TABLE ${ident(schema)}.${ident(table)} ADD COLUMN ${ident(c.name)} ${c.type}`)
      log.info({ table: qualified, column: c.name }, 'column added')
    }
    const unique = await client.query<{ cols: string[] }>(
      `SELECT array_agg(a.attname::text ORDER BY a.attname) AS cols FROM pg_index i
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL GROUP BY i.indexrelid`,
      [rel.oid],
    )
    const want = [...key].sort().join(',')
    if (!unique.rows.some((r) => [...r.cols].sort().join(',') === want)) {
      throw invalid(`has no primary key or unique index on (${key.join(', ')}), which upserts need`)
    }
  }

  function ensurePrepared(): Promise<void> {
    prepared ??= prepare().catch((err) => {
      prepared = undefined
      throw err
    })
    return prepared
  }

  function shapeOf(r: DeliveryRecord, i: number): TableShape {
    const shape = r.stream ? TABLE_SHAPES[r.stream as TableShape['stream']] : undefined
    if (!shape || !r.key) {
      throw new StallingError(
        Reason.DestinationRejected,
        `PostgreSQL destination: record ${i} (${r.messageId}) is not a casino record (stream ${String(r.stream).slice(0, 32)}); only players, transactions and games have tables`,
      )
    }
    return shape
  }

  async function write(records: readonly DeliveryRecord[], opts: DeliverOptions): Promise<void> {
    const byStream = new Map<TableShape, DeliveryRecord[]>()
    records.forEach((r, i) => {
      const shape = shapeOf(r, i)
      const list = byStream.get(shape) ?? []
      list.push(r)
      byStream.set(shape, list)
    })
    await ensurePrepared()
    const client = await pool.connect()
    let broken = false
    try {
      await client.query('BEGIN')
      for (const [shape, rows] of byStream) {
        for (const st of upsertStatements(schema, tables[shape.stream], shape, rows)) await client.query(st)
      }
      const cp = opts.checkpoint
      if (cp) {
        await client.query(
          `INSERT INTO ${ident(schema)}.${ident(CURSOR_TABLE)} AS c (integration, stream, cursor, records, updated_at)
           VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (integration, stream) DO UPDATE SET cursor = EXCLUDED.cursor,
             records = c.records + EXCLUDED.records, updated_at = now()`,
          [cp.integration, cp.stream, cp.cursor, records.length],
        )
      }
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true
      })
      throw err
    } finally {
      client.release(broken)
    }
  }

  const track = async <T>(task: () => Promise<T>): Promise<T> => {
    if (closed) throw new TransientError(Reason.DestinationUnavailable, 'PostgreSQL destination is closed')
    inFlight++
    try {
      return await task()
    } finally {
      inFlight--
      if (inFlight === 0) for (const w of idle.splice(0)) w()
    }
  }

  return {
    type: 'postgres',
    async deliver(records, dopts = {}): Promise<DeliveryResult> {
      validateRecords(records, 'PostgreSQL destination')
      const started = performance.now()
      return track(async () => {
        try {
          await withAbort(write(records, dopts), dopts.signal, 'PostgreSQL destination')
        } catch (err) {
          throw err instanceof SwitchboardError ? err : fail(err)
        }
        return { delivered: records.length, durationMs: Math.round(performance.now() - started) }
      })
    },
    async check(signal) {
      await track(async () => {
        try {
          // Prepared again: someone may have changed a table since.
          prepared = withAbort(prepare(), signal, 'PostgreSQL destination')
          await prepared
        } catch (err) {
          prepared = undefined
          throw err instanceof SwitchboardError ? err : fail(err)
        }
      })
    },
    cursors: {
      async read(integration, stream, signal) {
        return track(async () => {
          try {
            await withAbort(ensurePrepared(), signal, 'PostgreSQL destination')
            const res = await withAbort(
              pool.query<{ cursor: string; records: string }>(
                `SELECT cursor, records FROM ${ident(schema)}.${ident(CURSOR_TABLE)} WHERE integration = $1 AND stream = $2`,
                [integration, stream],
              ),
              signal,
              'PostgreSQL destination',
            )
            const row = res.rows[0]
            return row ? { cursor: row.cursor, records: Number(row.records) } : undefined
          } catch (err) {
            throw err instanceof SwitchboardError ? err : fail(err)
          }
        })
      },
    },
    async close() {
      if (closed) return
      closed = true
      if (inFlight > 0) await new Promise<void>((r) => idle.push(r))
      await pool.end()
    },
  }
}
