import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CasinoProvider } from '../../connectors/index.ts'
import { createOperator, type Operator, REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { startPostgres } from '../postgres/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  annotate,
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  waitFor,
  waitForCondition,
} from './helpers.ts'
import { createDatabase, pgServer, rows, type TestDatabase } from './pg.ts'

const CASINOS = 'casinointegrations'
const DESTS = 'destinations'
const SIZES = { players: 40, transactions: 120, games: 60 }

interface Account {
  provider: CasinoProvider
  credentials: Record<string, string>
  settings: Record<string, string>
  settingsField: string
  casinoKey: string
}

const ACCOUNTS: Account[] = [
  {
    provider: 'softswiss',
    credentials: { apiKey: 'pg-ss-key', apiSecret: 'pg-ss-S3CRET-0001' },
    settings: { casinoId: 'pg-ss' },
    settingsField: 'softswiss',
    casinoKey: 'pg-ss',
  },
  {
    provider: 'altenar',
    credentials: { username: 'pg-alt', password: 'pg-alt-S3CRET-0001' },
    settings: { operatorId: 'op9', brandId: 'b1' },
    settingsField: 'altenar',
    casinoKey: 'op9:b1',
  },
  {
    provider: 'betsoftware',
    credentials: { apiKey: 'pg-bs-key', hashKey: 'pg-bs-S3CRET-0001' },
    settings: { partnerId: 'p9', siteId: 's9' },
    settingsField: 'betsoftware',
    casinoKey: 'p9:s9',
  },
  {
    provider: 'playtech-pam',
    credentials: { clientId: 'pg-pt-client', clientSecret: 'pg-pt-S3CRET-0001', licenseKey: 'pg-pt-lic' },
    settings: { region: 'eu' },
    settingsField: 'playtechPam',
    casinoKey: 'pg-pt-client',
  },
]

const TABLES = { players: 'players', transactions: 'transactions', games: 'game_sessions' } as const

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0))
    })
  })
}

describe('Postgres Destination against a real PostgreSQL, the API server and the sandbox', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  const dbs: TestDatabase[] = []
  const logs = capturedLogger('info')

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      casino: {
        accounts: ACCOUNTS.map((a) => ({
          provider: a.provider,
          credentials: a.credentials,
          settings: a.provider === 'playtech-pam' ? {} : a.settings,
          size: SIZES,
        })),
      },
    })
    await sandbox.listen()
    operator = createOperator({
      kubeConfig: c.kc,
      logger: logs.logger,
      statusFlushDelayMs: 200,
      providerHttp: { timeoutMs: 2_000, retry: { maxRetryAfterMs: 3_000 } },
      // the platforms are the sandbox, on loopback
      endpoints: { allowLoopback: true },
    })
    await operator.start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
    for (const db of dbs) await db.drop()
  })

  async function database(prefix: string) {
    const db = await createDatabase(prefix)
    dbs.push(db)
    return db
  }

  async function casino(ns: string, account: Account, dest: string) {
    await createSecret(c.core, ns, `platform-${account.provider}`, account.credentials)
    await createResource(c, 'CasinoIntegration', ns, account.provider, {
      provider: account.provider,
      [account.settingsField]: account.settings,
      endpoint: sandbox.casinoEndpoint(account.provider),
      credentialsSecretRef: { name: `platform-${account.provider}` },
      streams: [
        { name: 'players', pageSize: 25 },
        { name: 'transactions', pageSize: 50 },
        { name: 'games', pageSize: 25 },
      ],
      destinationRefs: [{ name: dest }],
    })
  }

  it('the four casino platforms into one database: row counts equal the sandbox, an update updates its row', async () => {
    const db = await database('casinos')
    const ns = await createNamespace(c.core, 'pg-casinos')
    await createSecret(c.core, ns, 'warehouse', { url: db.url })
    await createResource(c, 'Destination', ns, 'warehouse', {
      credentialsSecretRef: { name: 'warehouse' },
      postgres: { sslMode: 'disable', schema: 'casino' },
    })
    const dest = await waitForCondition(c, DESTS, ns, 'warehouse', 'Ready', 'True', undefined, 30_000)
    expect(dest.status?.type).toBe('postgres')
    for (const a of ACCOUNTS) await casino(ns, a, 'warehouse')
    for (const a of ACCOUNTS)
      await waitForCondition(c, CASINOS, ns, a.provider, 'Ready', 'True', undefined, 90_000)

    // typed columns, as created by the controller
    const cols = await rows<{ column_name: string; data_type: string }>(
      db.pool,
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'casino' AND table_name = 'transactions'`,
    )
    const typeOf = Object.fromEntries(cols.map((r) => [r.column_name, r.data_type]))
    expect(typeOf).toMatchObject({
      casino: 'text',
      id: 'text',
      player_id: 'text',
      amount_minor: 'bigint',
      updated_at: 'timestamp with time zone',
      extra: 'jsonb',
    })

    for (const a of ACCOUNTS) {
      const key = `${ns}/${a.provider}`
      const dataset = sandbox.casino.dataset(a.provider, a.casinoKey)
      for (const [stream, table] of Object.entries(TABLES) as Array<[keyof typeof TABLES, string]>) {
        const [r] = await rows<{ n: string; d: string }>(
          db.pool,
          `SELECT count(*) AS n, count(DISTINCT id) AS d FROM casino.${table} WHERE casino = $1`,
          [key],
        )
        expect({ provider: a.provider, stream, n: Number(r?.n), d: Number(r?.d) }).toEqual({
          provider: a.provider,
          stream,
          n: dataset.distinct(stream),
          d: dataset.distinct(stream),
        })
      }
      // a record's values land in their columns
      const tx = dataset.recordAt('transactions', 7)
      const [row] = await rows(db.pool, 'SELECT * FROM casino.transactions WHERE casino = $1 AND id = $2', [
        key,
        tx.id,
      ])
      expect(row).toMatchObject({
        player_id: tx.playerId,
        type: tx.type,
        status: tx.status,
        amount_minor: String(tx.amountMinor),
        currency: tx.currency,
        provider: a.provider,
      })
      expect((row?.updated_at as Date | undefined)?.toISOString()).toBe(tx.updatedAt)
      // the cursor table holds what status holds, written with the rows
      const obj = await getObj(c.custom, CASINOS, ns, a.provider)
      const cursors = await rows<{ stream: string; cursor: string }>(
        db.pool,
        'SELECT stream, cursor FROM casino.switchboard_cursors WHERE integration = $1 ORDER BY stream',
        [`CasinoIntegration/${key}`],
      )
      const status = ((obj.status?.streams ?? []) as Array<{ name: string; cursor?: string }>).map((s) => ({
        stream: s.name,
        cursor: s.cursor,
      }))
      expect(cursors).toEqual(status.sort((x, y) => x.stream.localeCompare(y.stream)))
    }

    // an edited record at the platform: its row changes, no row is added
    const a = ACCOUNTS[1] as Account
    const key = `${ns}/${a.provider}`
    const dataset = sandbox.casino.dataset(a.provider, a.casinoKey)
    const before = dataset.recordAt('players', 3)
    const id = sandbox.casino.update(a.provider, a.casinoKey, 'players', 3)
    expect(id).toBe(before.id)
    const after = dataset.recordAt('players', dataset.size('players') - 1)
    expect(after.status).not.toBe(before.status)
    const at = new Date().toISOString()
    await annotate(c, CASINOS, ns, a.provider, { [REQUESTED_AT_ANNOTATION]: at })
    await waitFor(
      'the updated player in its row',
      async () => {
        const [r] = await rows<{ status: string }>(
          db.pool,
          'SELECT status FROM casino.players WHERE casino = $1 AND id = $2',
          [key, id],
        )
        return r?.status === after.status || undefined
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    )
    const [count] = await rows<{ n: string }>(
      db.pool,
      'SELECT count(*) AS n FROM casino.players WHERE casino = $1',
      [key],
    )
    expect(Number(count?.n)).toBe(dataset.distinct('players'))
  }, 180_000)

  it('the database is the truth of where a stream stands: an emptied database is filled again', async () => {
    const a = ACCOUNTS[3] as Account
    const db = await database('refill')
    const ns = await createNamespace(c.core, 'pg-refill')
    await createSecret(c.core, ns, 'warehouse', { url: db.url })
    await createResource(c, 'Destination', ns, 'warehouse', {
      credentialsSecretRef: { name: 'warehouse' },
      postgres: { sslMode: 'disable' },
    })
    await casino(ns, a, 'warehouse')
    await waitForCondition(c, CASINOS, ns, a.provider, 'Ready', 'True', undefined, 60_000)
    const count = async () =>
      Number((await rows<{ n: string }>(db.pool, 'SELECT count(*) AS n FROM switchboard.transactions'))[0]?.n)
    const expected = sandbox.casino.dataset(a.provider, a.casinoKey).distinct('transactions')
    expect(await count()).toBe(expected)
    // status still has its cursor; the database has nothing: the next sync reads everything again
    await db.pool.query('TRUNCATE switchboard.transactions')
    await db.pool.query(`DELETE FROM switchboard.switchboard_cursors WHERE stream = 'transactions'`)
    const at = new Date().toISOString()
    await annotate(c, CASINOS, ns, a.provider, { [REQUESTED_AT_ANNOTATION]: at })
    await waitFor('the table filled again', async () => ((await count()) === expected ? true : undefined), {
      timeoutMs: 30_000,
    })
  }, 90_000)

  it('Postgres beside Segment: Segment at least once from the status cursor, the table complete', async () => {
    const a = ACCOUNTS[2] as Account
    sandbox.casino.reset()
    const db = await database('mixed')
    const ns = await createNamespace(c.core, 'pg-mixed')
    const writeKey = `wk-${ns}`
    await createSecret(c.core, ns, 'cdp', { writeKey })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await createSecret(c.core, ns, 'warehouse', { url: db.url })
    await createResource(c, 'Destination', ns, 'warehouse', {
      credentialsSecretRef: { name: 'warehouse' },
      postgres: { sslMode: 'disable' },
    })
    await createSecret(c.core, ns, 'platform', a.credentials)
    await createResource(c, 'CasinoIntegration', ns, 'casino', {
      provider: a.provider,
      [a.settingsField]: a.settings,
      endpoint: sandbox.casinoEndpoint(a.provider),
      credentialsSecretRef: { name: 'platform' },
      streams: [{ name: 'transactions', pageSize: 50 }],
      destinationRefs: [{ name: 'cdp' }, { name: 'warehouse' }],
    })
    await waitForCondition(c, CASINOS, ns, 'casino', 'Ready', 'True', undefined, 60_000)
    const count = async () =>
      Number((await rows<{ n: string }>(db.pool, 'SELECT count(*) AS n FROM switchboard.transactions'))[0]?.n)
    expect(await count()).toBe(SIZES.transactions)
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.transactions)
    // With another destination beside it, the sync resumes from status, not from the database:
    // forgetting the database's cursor re-reads nothing.
    await db.pool.query('DELETE FROM switchboard.switchboard_cursors')
    const served = sandbox.casino.stats(a.provider, a.casinoKey).served.transactions
    sandbox.casino.append(a.provider, a.casinoKey, 'transactions', 5)
    const at = new Date().toISOString()
    await annotate(c, CASINOS, ns, 'casino', { [REQUESTED_AT_ANNOTATION]: at })
    await waitFor(
      'the five new transactions in the table',
      async () => ((await count()) === SIZES.transactions + 5 ? true : undefined),
      {
        timeoutMs: 30_000,
      },
    )
    expect(sandbox.casino.stats(a.provider, a.casinoKey).served.transactions - served).toBe(5)
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.transactions + 5)
  }, 90_000)

  it('an unreachable database: Ready=False DestinationUnavailable, retried until it answers', async () => {
    const port = await freePort()
    const ns = await createNamespace(c.core, 'pg-down')
    await createSecret(c.core, ns, 'db', {
      host: '127.0.0.1',
      port: String(port),
      database: 'postgres',
      user: 'switchboard',
      password: 'late-S3CRET-pass',
    })
    await createResource(c, 'Destination', ns, 'db', {
      credentialsSecretRef: { name: 'db' },
      postgres: { sslMode: 'disable', timeout: '2s' },
    })
    const down = await waitForCondition(
      c,
      DESTS,
      ns,
      'db',
      'Ready',
      'False',
      'DestinationUnavailable',
      30_000,
    )
    expect(condition(down, 'Stalled')?.status).not.toBe('True')
    // host, port, database and user are values of the Secret, so the runtime redacts them too
    expect(condition(down, 'Ready')?.message).toMatch(/^PostgreSQL at .*ECONNREFUSED/)
    expect(JSON.stringify(down.status)).not.toContain('late-S3CRET-pass')
    // the server comes up on that port: the retries find it
    const late = await startPostgres({ port, password: 'late-S3CRET-pass' })
    try {
      await waitForCondition(c, DESTS, ns, 'db', 'Ready', 'True', undefined, 90_000)
    } finally {
      await late.stop()
    }
  }, 150_000)

  it('a wrong password: Ready=False Unauthorized, stalled, and the password appears nowhere', async () => {
    const s = pgServer()
    const wrong = 'not-the-S3CRET-password'
    const ns = await createNamespace(c.core, 'pg-auth')
    await createSecret(c.core, ns, 'db', {
      url: `postgres://${s.user}:${wrong}@${s.host}:${s.port}/postgres`,
    })
    await createResource(c, 'Destination', ns, 'db', {
      credentialsSecretRef: { name: 'db' },
      postgres: { sslMode: 'disable' },
    })
    const obj = await waitForCondition(c, DESTS, ns, 'db', 'Ready', 'False', 'Unauthorized', 30_000)
    expect(condition(obj, 'Stalled')?.status).toBe('True')
    expect(condition(obj, 'CredentialsValid')).toMatchObject({ status: 'False', reason: 'Unauthorized' })
    expect(JSON.stringify(obj.status)).not.toContain(wrong)
    expect(logs.text()).not.toContain(wrong)
  }, 60_000)

  it('an existing table with an incompatible column: InvalidSpec naming table and column; nothing changed', async () => {
    const db = await database('clash')
    await db.pool.query('CREATE SCHEMA crm')
    await db.pool.query(
      'CREATE TABLE crm.players (casino text, id text, updated_at text, note text, PRIMARY KEY (casino, id))',
    )
    await db.pool.query(`INSERT INTO crm.players VALUES ('x', '1', 'yesterday', 'kept')`)
    const ns = await createNamespace(c.core, 'pg-clash')
    await createSecret(c.core, ns, 'db', { url: db.url })
    await createResource(c, 'Destination', ns, 'db', {
      credentialsSecretRef: { name: 'db' },
      postgres: { sslMode: 'disable', schema: 'crm' },
    })
    const obj = await waitForCondition(c, DESTS, ns, 'db', 'Ready', 'False', 'InvalidSpec', 30_000)
    expect(condition(obj, 'Stalled')?.status).toBe('True')
    const message = condition(obj, 'Ready')?.message ?? ''
    expect(message).toContain('"crm.players"')
    expect(message).toContain('"updated_at"')
    const cols = await rows<{ column_name: string; data_type: string }>(
      db.pool,
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'crm' AND table_name = 'players' ORDER BY ordinal_position`,
    )
    expect(cols).toEqual([
      { column_name: 'casino', data_type: 'text' },
      { column_name: 'id', data_type: 'text' },
      { column_name: 'updated_at', data_type: 'text' },
      { column_name: 'note', data_type: 'text' },
    ])
    expect(await rows(db.pool, 'SELECT * FROM crm.players')).toEqual([
      { casino: 'x', id: '1', updated_at: 'yesterday', note: 'kept' },
    ])
    // nothing else was created either: the check stops at the first table
    const tables = await rows<{ table_name: string }>(
      db.pool,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'crm' ORDER BY table_name`,
    )
    expect(tables.map((t) => t.table_name)).toEqual(['players'])
  }, 60_000)
})
