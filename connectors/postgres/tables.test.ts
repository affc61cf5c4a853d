import { describe, expect, it } from 'vitest'
import { toDeliveryRecord } from '../casino/delivery.ts'
import type { Transaction } from '../casino/types.ts'
import { errorFor, parsePostgresUrl } from './deliverer.ts'
import { compatible, extraOf, TABLE_SHAPES, upsertStatements } from './tables.ts'

const tx = (id: string, updatedAt: string, status: Transaction['status'] = 'completed'): Transaction => ({
  id,
  playerId: 'P1',
  type: 'bet',
  amountMinor: 1234,
  currency: 'EUR',
  status,
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt,
})

describe('upsert statements', () => {
  const rec = (t: Transaction) =>
    toDeliveryRecord('softswiss', 'ns/casino', { stream: 'transactions', record: t })

  it('one multi-row upsert per page, guarded by updated_at, the key twice keeps its newest version', () => {
    const page = [
      rec(tx('1', '2024-01-01T00:00:01.000Z')),
      rec(tx('2', '2024-01-01T00:00:02.000Z')),
      rec(tx('1', '2024-01-01T00:00:03.000Z', 'cancelled')),
    ]
    const [st, more] = upsertStatements('s', 'transactions', TABLE_SHAPES.transactions, page)
    expect(more).toBeUndefined()
    expect(st?.text).toMatch(/^INSERT INTO "s"\."transactions" AS t \(/)
    expect(st?.text).toContain('ON CONFLICT ("casino", "id") DO UPDATE SET')
    expect(st?.text).toContain('WHERE t."updated_at" <= EXCLUDED."updated_at"')
    const width = TABLE_SHAPES.transactions.columns.length + 1
    expect(st?.values).toHaveLength(2 * width)
    // the second tuple is the newest version of 1 (the Map keeps first-seen order: 1, 2)
    expect(st?.values.slice(0, width)).toContain('cancelled')
    expect(st?.values.slice(0, width)).toContain('2024-01-01T00:00:03.000Z')
  })

  it('splits pages that would pass the 65535 bind parameters of one statement', () => {
    const page = Array.from({ length: 7000 }, (_, i) => rec(tx(String(i), '2024-01-01T00:00:01.000Z')))
    const statements = upsertStatements('s', 't', TABLE_SHAPES.transactions, page)
    expect(statements.length).toBeGreaterThan(1)
    for (const s of statements) expect(s.values.length).toBeLessThanOrEqual(65_535)
    expect(statements.reduce((n, s) => n + s.values.length, 0)).toBe(
      7000 * (TABLE_SHAPES.transactions.columns.length + 1),
    )
  })

  it('puts what has no column into extra, with the event name', () => {
    const r = rec(tx('9', '2024-01-01T00:00:01.000Z'))
    r.properties.bonusCode = 'WELCOME'
    expect(JSON.parse(extraOf(TABLE_SHAPES.transactions, r) ?? '{}')).toEqual({
      bonusCode: 'WELCOME',
      event: 'Transaction Completed',
    })
  })

  it('accepts only compatible existing column types', () => {
    expect(compatible('text', 'character varying')).toBe(true)
    expect(compatible('timestamp with time zone', 'text')).toBe(false)
    expect(compatible('bigint', 'integer')).toBe(false)
  })
})

describe('connection and errors', () => {
  it('parses a URL, and says what is wrong with one without repeating it', () => {
    expect(parsePostgresUrl('postgresql://u%40x:p%2Fw@db.example:6543/warehouse?sslmode=require')).toEqual({
      host: 'db.example',
      port: 6543,
      database: 'warehouse',
      user: 'u@x',
      password: 'p/w',
    })
    for (const bad of ['mysql://u:pw-S3CRET@h/db', 'postgres://u:pw-S3CRET@h', 'not a url pw-S3CRET']) {
      expect(() => parsePostgresUrl(bad)).toThrow()
      try {
        parsePostgresUrl(bad)
      } catch (err) {
        expect(String(err)).not.toContain('pw-S3CRET')
      }
    }
  })

  it('maps SQLSTATEs and network errors to stable reasons, without the password', () => {
    const of = (code: string, message = 'x') =>
      errorFor(Object.assign(new Error(message), { code }), 'h:5432/db', ['pw-S3CRET'])
    expect(of('28P01', 'password authentication failed for user "u" pw-S3CRET')).toMatchObject({
      reason: 'Unauthorized',
      kind: 'stalling',
    })
    expect(of('28P01').message).not.toContain('pw-S3CRET')
    expect(of('ECONNREFUSED')).toMatchObject({ reason: 'DestinationUnavailable', kind: 'transient' })
    expect(of('57P01')).toMatchObject({ reason: 'DestinationUnavailable', kind: 'transient' })
    expect(of('40001')).toMatchObject({ reason: 'DestinationUnavailable', kind: 'transient' })
    expect(of('3D000')).toMatchObject({ reason: 'InvalidSpec', kind: 'stalling' })
    expect(of('22P02')).toMatchObject({ reason: 'DestinationRejected', kind: 'stalling' })
    expect(of('DEPTH_ZERO_SELF_SIGNED_CERT')).toMatchObject({
      reason: 'DestinationRejected',
      kind: 'stalling',
    })
  })
})
