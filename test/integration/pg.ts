import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'

/** The throwaway PostgreSQL server of the global setup. */
export function pgServer() {
  return inject('postgres')
}

export interface TestDatabase {
  name: string
  /** postgres://superuser:password@127.0.0.1:port/name */
  url: string
  /** A pool on the database, for the test's own reads. */
  pool: pg.Pool
  drop(): Promise<void>
}

/** A fresh database on the shared server; each test works in its own. */
export async function createDatabase(prefix: string): Promise<TestDatabase> {
  const s = pgServer()
  const name = `${prefix}_${randomBytes(3).toString('hex')}`
  const admin = new pg.Client({
    host: s.host,
    port: s.port,
    user: s.user,
    password: s.password,
    database: 'postgres',
  })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = `postgres://${s.user}:${encodeURIComponent(s.password)}@${s.host}:${s.port}/${name}`
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end()
    },
  }
}

/** Rows of a query, typed loosely. */
export async function rows<T = Record<string, unknown>>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  return (await pool.query(text, values)).rows as T[]
}
