/**
 * The tables a Postgres destination keeps: one per casino stream, typed columns for the fields
 * every platform has, `extra` (jsonb) for anything else a record carries, `synced_at` for when
 * Switchboard last wrote the row, and the primary key (casino, id), the record's natural key
 * within the CasinoIntegration (`namespace/name`) it came from. Beside them the cursor table,
 * owned by Switchboard, holds each stream's cursor, written in the same transaction as its rows.
 */
import type { DeliveryRecord } from '../delivery.ts'

export type ColumnType = 'text' | 'bigint' | 'integer' | 'timestamp with time zone' | 'jsonb'

export interface Column {
  name: string
  type: ColumnType
  /** The record's value for this column (undefined → NULL). */
  value: (r: DeliveryRecord) => unknown
  /** Property names this column takes from `properties` (left out of `extra`). */
  from?: string
  notNull?: boolean
}

export interface TableShape {
  stream: 'players' | 'transactions' | 'games'
  columns: Column[]
}

/** The columns of the primary key, in order. */
export const KEY_COLUMNS = ['casino', 'id'] as const

const prop = (name: string) => (r: DeliveryRecord) => r.properties[name]
const col = (name: string, type: ColumnType, from: string, notNull = false): Column => ({
  name,
  type,
  value: prop(from),
  from,
  notNull,
})

// Columns every table has, first and last.
const head: Column[] = [
  col('casino', 'text', 'casino', true),
  { name: 'id', type: 'text', value: (r) => r.key, notNull: true },
  col('provider', 'text', 'provider', true),
]
const tail: Column[] = [col('updated_at', 'timestamp with time zone', 'updatedAt', true)]

export const TABLE_SHAPES: Record<TableShape['stream'], TableShape> = {
  players: {
    stream: 'players',
    columns: [
      ...head,
      col('email', 'text', 'email'),
      col('country', 'text', 'country'),
      col('currency', 'text', 'currency'),
      col('status', 'text', 'status'),
      col('registered_at', 'timestamp with time zone', 'registeredAt'),
      ...tail,
    ],
  },
  transactions: {
    stream: 'transactions',
    columns: [
      ...head,
      { name: 'player_id', type: 'text', value: (r) => r.userId, notNull: true },
      col('type', 'text', 'type'),
      col('status', 'text', 'status'),
      col('amount_minor', 'bigint', 'amountMinor'),
      col('currency', 'text', 'currency'),
      col('game_session_id', 'text', 'gameSessionId'),
      col('created_at', 'timestamp with time zone', 'createdAt'),
      ...tail,
    ],
  },
  games: {
    stream: 'games',
    columns: [
      ...head,
      { name: 'player_id', type: 'text', value: (r) => r.userId, notNull: true },
      col('game_id', 'text', 'gameId'),
      col('game_name', 'text', 'gameName'),
      col('studio', 'text', 'studio'),
      col('currency', 'text', 'currency'),
      col('total_bet_minor', 'bigint', 'totalBetMinor'),
      col('total_win_minor', 'bigint', 'totalWinMinor'),
      col('rounds', 'integer', 'rounds'),
      col('started_at', 'timestamp with time zone', 'startedAt'),
      col('ended_at', 'timestamp with time zone', 'endedAt'),
      ...tail,
    ],
  },
}

/** Properties that never go to `extra`: the key and the origin, already in columns. */
const NOT_EXTRA = new Set(['transactionId', 'gameSessionId'])

/** Everything a record carries that has no column of its own (and its event name), or null. */
const takenByShape = new WeakMap<TableShape, Set<string>>()

export function extraOf(shape: TableShape, r: DeliveryRecord): string | null {
  let taken = takenByShape.get(shape)
  if (!taken) {
    taken = new Set(shape.columns.map((c) => c.from).filter((f): f is string => !!f))
    takenByShape.set(shape, taken)
  }
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r.properties)) {
    if (!taken.has(k) && !NOT_EXTRA.has(k) && v !== undefined) extra[k] = v
  }
  if (r.event) extra.event = r.event
  return Object.keys(extra).length > 0 ? JSON.stringify(extra) : null
}

/** Every column of a stream's table, as written: the typed ones, `extra`, `synced_at`. */
export function allColumns(shape: TableShape): Array<{ name: string; type: ColumnType; notNull?: boolean }> {
  return [
    ...shape.columns,
    { name: 'extra', type: 'jsonb' },
    { name: 'synced_at', type: 'timestamp with time zone', notNull: true },
  ]
}

/** The cursor table's columns (primary key integration, stream). */
export const CURSOR_TABLE = 'switchboard_cursors'
export const CURSOR_COLUMNS: Array<{ name: string; type: ColumnType; notNull?: boolean }> = [
  { name: 'integration', type: 'text', notNull: true },
  { name: 'stream', type: 'text', notNull: true },
  { name: 'cursor', type: 'text', notNull: true },
  { name: 'records', type: 'bigint', notNull: true },
  { name: 'updated_at', type: 'timestamp with time zone', notNull: true },
]
export const CURSOR_KEY = ['integration', 'stream'] as const

/** A quoted identifier. Names come from the schema-validated spec, but quote anyway. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** Types a column of an existing table may have for a column we need (information_schema names). */
export function compatible(need: ColumnType, have: string): boolean {
  if (need === 'text') return have === 'text' || have === 'character varying'
  if (need === 'bigint') return have === 'bigint' || have === 'numeric'
  if (need === 'integer') return have === 'integer' || have === 'bigint'
  return have === need
}

export function createTableSql(
  schema: string,
  table: string,
  columns: ReadonlyArray<{ name: string; type: ColumnType; notNull?: boolean }>,
  key: readonly string[],
): string {
  const defs = columns.map((c) => `${ident(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}`)
  defs.push(`PRIMARY KEY (${key.map(ident).join(', ')})`)
  return `CREATE TABLE IF NOT EXISTS ${ident(schema)}.${ident(table)} (${defs.join(', ')})`
}

/** Largest number of bind parameters in one statement (the protocol's limit is 65535). */
const MAX_PARAMS = 65_535

/**
 * The multi-row upsert of a stream's rows: `INSERT ... VALUES (...), (...) ON CONFLICT (casino,
 * id) DO UPDATE ... WHERE updated_at <= EXCLUDED.updated_at`, so a re-sent older version never
 * overwrites a newer row. Returns one statement per chunk of at most 65535 parameters; a key
 * that appears twice keeps its last (newest) version, as Postgres refuses to touch a row twice
 * in one statement.
 */
export function upsertStatements(
  schema: string,
  table: string,
  shape: TableShape,
  records: readonly DeliveryRecord[],
): Array<{ text: string; values: unknown[] }> {
  const cols = allColumns(shape).filter((c) => c.name !== 'synced_at')
  const byKey = new Map<string, DeliveryRecord>()
  for (const r of records) byKey.set(`${String(r.properties.casino)}\0${r.key}`, r)
  const rows = [...byKey.values()]
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / cols.length))
  const names = [...cols.map((c) => ident(c.name)), ident('synced_at')].join(', ')
  const updates = cols
    .filter((c) => !KEY_COLUMNS.includes(c.name as (typeof KEY_COLUMNS)[number]))
    .map((c) => `${ident(c.name)} = EXCLUDED.${ident(c.name)}`)
    .concat(`${ident('synced_at')} = EXCLUDED.${ident('synced_at')}`)
    .join(', ')
  const target = `${ident(schema)}.${ident(table)}`
  const out: Array<{ text: string; values: unknown[] }> = []
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement)
    const values: unknown[] = []
    const tuples: string[] = []
    for (const r of chunk) {
      const ph: string[] = []
      for (const c of shape.columns) {
        values.push(c.value(r) ?? null)
        ph.push(`$${values.length}`)
      }
      values.push(extraOf(shape, r))
      ph.push(`$${values.length}`)
      ph.push('now()')
      tuples.push(`(${ph.join(', ')})`)
    }
    out.push({
      text:
        `INSERT INTO ${target} AS t (${names}) VALUES ${tuples.join(', ')} ` +
        `ON CONFLICT (${KEY_COLUMNS.map(ident).join(', ')}) DO UPDATE SET ${updates} ` +
        `WHERE t.${ident('updated_at')} <= EXCLUDED.${ident('updated_at')}`,
      values,
    })
  }
  return out
}
