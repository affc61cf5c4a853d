import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type CasinoProvider, decodeCursor } from '../../connectors/index.ts'
import { createOperator, type Operator, REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { mergePatch } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
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
  GROUP,
  getObj,
  type Obj,
  sleep,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const PLURAL = 'casinointegrations'
const SIZES = { players: 30, transactions: 70, games: 45 }

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
    credentials: { apiKey: 'ss-key-1', apiSecret: 'ss-S3CRET-0001' },
    settings: { casinoId: 'casino-ss-1' },
    settingsField: 'softswiss',
    casinoKey: 'casino-ss-1',
  },
  {
    provider: 'altenar',
    credentials: { username: 'alt-user', password: 'alt-S3CRET-0001' },
    settings: { operatorId: 'op7', brandId: 'brand3' },
    settingsField: 'altenar',
    casinoKey: 'op7:brand3',
  },
  {
    provider: 'betsoftware',
    credentials: { apiKey: 'bs-key-1', hashKey: 'bs-S3CRET-0001' },
    settings: { partnerId: 'p12', siteId: 's4' },
    settingsField: 'betsoftware',
    casinoKey: 'p12:s4',
  },
  {
    provider: 'playtech-pam',
    credentials: { clientId: 'pt-client-1', clientSecret: 'pt-S3CRET-0001', licenseKey: 'pt-license-1' },
    settings: { region: 'eu' },
    settingsField: 'playtechPam',
    casinoKey: 'pt-client-1',
  },
]

describe('CasinoIntegration against the real API server and the sandbox', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
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
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      statusFlushDelayMs: 200,
      providerHttp: { timeoutMs: 1_000, retry: { maxRetryAfterMs: 3_000 } },
    })
    await operator.start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  async function setup(
    prefix: string,
    account: Account,
    opts: { credentials?: Record<string, string>; streams?: unknown[]; writeKey?: string } = {},
  ) {
    const ns = await createNamespace(c.core, prefix)
    const writeKey = opts.writeKey ?? `wk-${ns}`
    await createSecret(c.core, ns, 'cdp', { writeKey })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await createSecret(c.core, ns, 'platform', opts.credentials ?? account.credentials)
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'CasinoIntegration',
        metadata: { name: 'casino', namespace: ns },
        spec: {
          provider: account.provider,
          [account.settingsField]: account.settings,
          endpoint: sandbox.casinoEndpoint(account.provider),
          credentialsSecretRef: { name: 'platform' },
          streams: opts.streams ?? [
            { name: 'players', pageSize: 20 },
            { name: 'transactions', pageSize: 20 },
            { name: 'games', pageSize: 20 },
          ],
          destinationRefs: [{ name: 'cdp' }],
        },
      },
    })
    return { ns, writeKey }
  }

  const streamStatus = (obj: Obj, name: string) =>
    (obj.status?.streams as Array<Record<string, unknown>> | undefined)?.find((s) => s.name === name)

  const requestSync = async (ns: string) => {
    const at = new Date().toISOString()
    await annotate(c, PLURAL, ns, 'casino', { [REQUESTED_AT_ANNOTATION]: at })
    return waitFor('the sync request to be handled', async () => {
      const o = await getObj(c.custom, PLURAL, ns, 'casino')
      return o.status?.lastHandledRequestAt === at && condition(o, 'Ready')?.status === 'True' ? o : undefined
    })
  }

  for (const account of ACCOUNTS) {
    it(`${account.provider}: syncs every stream, and status, sandbox and destination agree`, async () => {
      const { ns, writeKey } = await setup(`casino-${account.provider}`, account)
      const obj = await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'True', undefined, 60_000)
      expect(condition(obj, 'CredentialsValid')?.status).toBe('True')
      expect(condition(obj, 'Synced')?.status).toBe('True')
      const total = SIZES.players + SIZES.transactions + SIZES.games
      for (const [stream, size] of Object.entries(SIZES)) {
        // totals, not the last run's count: a transient error on the way (a slow page on a busy
        // machine) makes a second run that continues from the committed cursor.
        expect(streamStatus(obj, stream)).toMatchObject({ totalRecordsSynced: size })
        expect(streamStatus(obj, stream)?.lastError).toBeUndefined()
        expect(streamStatus(obj, stream)?.cursor).toBeTruthy()
      }
      expect(obj.status?.totalRecordsSynced).toBe(total)
      const stats = sandbox.casino.stats(account.provider, account.casinoKey)
      // The sandbox served every record once; the credentials check reads one player more.
      expect(stats.served.transactions).toBe(SIZES.transactions)
      expect(stats.served.games).toBe(SIZES.games)
      expect(stats.served.players - SIZES.players).toBeGreaterThanOrEqual(0)
      expect(stats.served.players - SIZES.players).toBeLessThanOrEqual(1)
      expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(total)
      expect(sandbox.segment.duplicates(writeKey)).toBe(0)
    })
  }

  it('wrong credentials stall without a retry loop; fixing the Secret recovers', async () => {
    const account = ACCOUNTS[0] as Account
    const wrong = { apiKey: account.credentials.apiKey as string, apiSecret: 'not-the-S3CRET' }
    const { ns } = await setup('casino-badcreds', account, { credentials: wrong })
    const stalled = await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'False', 'Unauthorized', 30_000)
    expect(condition(stalled, 'CredentialsValid')).toMatchObject({ status: 'False', reason: 'Unauthorized' })
    expect(condition(stalled, 'Stalled')?.status).toBe('True')
    // This object's reconciles (each logs "reconcile failed" while stalled), not the other tests'.
    const reconcilesOfThis = () =>
      logs
        .text()
        .split('\n')
        .filter((l) => l.includes(`"namespace":"${ns}"`) && l.includes('"msg":"reconcile failed"')).length
    const before = reconcilesOfThis()
    await sleep(3_000)
    expect(reconcilesOfThis() - before).toBeLessThanOrEqual(1)
    expect(JSON.stringify(stalled) + logs.text()).not.toContain('not-the-S3CRET')

    await c.core.replaceNamespacedSecret({
      name: 'platform',
      namespace: ns,
      body: { metadata: { name: 'platform', namespace: ns }, stringData: account.credentials },
    })
    const ready = await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'True', undefined, 30_000)
    expect(condition(ready, 'CredentialsValid')?.status).toBe('True')
  })

  it('incremental: the next sync delivers only the records that appeared', async () => {
    const account = ACCOUNTS[1] as Account
    sandbox.casino.reset()
    const { ns, writeKey } = await setup('casino-incr', account, {
      streams: [{ name: 'transactions', pageSize: 25, interval: '1h' }],
    })
    await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'True', undefined, 60_000)
    const servedBefore = sandbox.casino.stats(account.provider, account.casinoKey).served.transactions
    const idsBefore = sandbox.segment.uniqueMessageIds(writeKey)
    expect(idsBefore).toBe(SIZES.transactions)

    sandbox.casino.append(account.provider, account.casinoKey, 'transactions', 13)
    const obj = await requestSync(ns)
    expect(sandbox.casino.stats(account.provider, account.casinoKey).served.transactions - servedBefore).toBe(
      13,
    )
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.transactions + 13)
    expect(sandbox.segment.duplicates(writeKey)).toBe(0)
    expect(streamStatus(obj, 'transactions')).toMatchObject({
      recordsSynced: 13,
      totalRecordsSynced: SIZES.transactions + 13,
    })

    // A full resync reads everything again; the destination drops what it has by message id.
    const resyncAt = new Date().toISOString()
    await annotate(c, PLURAL, ns, 'casino', { 'switchboard.dev/resync-requested-at': resyncAt })
    const resynced = await waitFor('the full resync', async () => {
      const o = await getObj(c.custom, PLURAL, ns, 'casino')
      return o.status?.lastHandledResyncAt === resyncAt && condition(o, 'Ready')?.status === 'True'
        ? o
        : undefined
    })
    expect(streamStatus(resynced, 'transactions'), JSON.stringify(resynced.status)).toMatchObject({
      recordsSynced: SIZES.transactions + 13,
    })
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.transactions + 13)
    expect(sandbox.segment.duplicates(writeKey)).toBe(SIZES.transactions + 13)
  })

  it('a page refused part-way: the cursor stays at the last acknowledged page, pages read ahead are dropped, the next sync resumes there', async () => {
    const account = ACCOUNTS[0] as Account
    sandbox.casino.reset()
    sandbox.faults.clear('segment')
    // pages of 10 (one Segment request each): the first two are acknowledged, slowly, so the
    // next page is read while each is delivered; from the third on, every page is refused
    sandbox.faults.inject({ provider: 'segment', delayMs: 300, times: 2, path: '/v1/batch' })
    sandbox.faults.inject({ provider: 'segment', status: 400, times: 100_000, path: '/v1/batch' })
    // the heap may be compacted after each acknowledged page (--sync-heap-growth), never after another
    const settled = vi.spyOn(operator.manager.settler, 'during')
    const { ns, writeKey } = await setup('casino-refused', account, {
      streams: [{ name: 'transactions', pageSize: 10, interval: '1h' }],
    })
    try {
      const failed = await waitForCondition(
        c,
        PLURAL,
        ns,
        'casino',
        'Ready',
        'False',
        'DestinationRejected',
        60_000,
      )
      const st = streamStatus(failed, 'transactions')
      expect(st, JSON.stringify(failed.status)).toMatchObject({ totalRecordsSynced: 20 })
      const dataset = sandbox.casino.dataset(account.provider, account.casinoKey)
      // the cursor is the one of page 2's last record: not the refused page's, nor one read ahead
      expect(decodeCursor(account.provider, 'transactions', String(st?.cursor)).id).toBe(
        dataset.id('transactions', 19),
      )
      expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(20)
      // pages after the second were read (the refused one, and ahead of it), none acknowledged
      expect(sandbox.casino.stats(account.provider, account.casinoKey).served.transactions).toBeGreaterThan(
        20,
      )
      expect(settled).toHaveBeenCalledTimes(2)
    } finally {
      sandbox.faults.clear('segment')
    }
    const obj = await requestSync(ns)
    // and after pages 3 to 7
    expect(settled).toHaveBeenCalledTimes(7)
    settled.mockRestore()
    expect(streamStatus(obj, 'transactions')).toMatchObject({ totalRecordsSynced: SIZES.transactions })
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.transactions)
    // the refused pages never reached Segment's store: nothing was sent twice
    expect(sandbox.segment.duplicates(writeKey)).toBe(0)
  })

  it('faults: Retry-After is honoured, 5xx and timeouts retried, malformed JSON named; nothing lost or doubled', async () => {
    const account = ACCOUNTS[3] as Account
    sandbox.casino.reset()
    const { ns, writeKey } = await setup('casino-faults', account, {
      streams: [{ name: 'players', pageSize: 10, interval: '1h' }],
    })
    await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'True', undefined, 60_000)
    sandbox.casino.append(account.provider, account.casinoKey, 'players', 25)

    // 429 with Retry-After: no request reaches the platform before it.
    const logBefore = sandbox.requests.list(account.provider).length
    sandbox.faults.inject({
      provider: account.provider,
      status: 429,
      retryAfterSeconds: 2,
      times: 1,
      path: '/playtech-pam/pam/v1',
    })
    sandbox.faults.inject({ provider: account.provider, status: 503, times: 2, path: '/playtech-pam/pam/v1' })
    sandbox.faults.inject({
      provider: account.provider,
      delayMs: 2_500,
      times: 1,
      path: '/playtech-pam/pam/v1',
    })
    await requestSync(ns)
    const attempts = sandbox.requests.list(account.provider).slice(logBefore)
    const limited = attempts.find((r) => r.status === 429)
    expect(limited).toBeDefined()
    const after = attempts.filter((r) => limited && r.at > limited.at)
    expect(after.length).toBeGreaterThan(0)
    expect(Math.min(...after.map((r) => r.at)) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(2_000)
    expect(attempts.filter((r) => r.status === 503).length).toBe(2)
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.players + 25)

    // Malformed JSON (not retried inside one sync): a clear reason, then recovery on the next.
    sandbox.casino.append(account.provider, account.casinoKey, 'players', 7)
    sandbox.faults.inject({
      provider: account.provider,
      status: 200,
      body: '{not json',
      times: 2,
      path: '/playtech-pam/pam/v1',
    })
    const at = new Date().toISOString()
    await annotate(c, PLURAL, ns, 'casino', { [REQUESTED_AT_ANNOTATION]: at })
    const failing = await waitForCondition(
      c,
      PLURAL,
      ns,
      'casino',
      'Ready',
      'False',
      'MalformedResponse',
      30_000,
    )
    expect(condition(failing, 'Ready')?.message).toMatch(/JSON|json/)
    expect(condition(failing, 'Stalled')).toBeUndefined()
    // The faults run out; the retry (with backoff) completes the sync.
    await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'True', undefined, 60_000)
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.players + 25 + 7)
    expect(sandbox.segment.duplicates(writeKey)).toBe(0)

    // A Retry-After longer than the client waits inside a sync: degraded, not failed, and the
    // controller comes back when the platform said.
    sandbox.casino.append(account.provider, account.casinoKey, 'players', 4)
    sandbox.faults.inject({
      provider: account.provider,
      status: 429,
      retryAfterSeconds: 5,
      times: 1,
      path: '/playtech-pam/pam/v1',
    })
    const limitedAt = new Date().toISOString()
    await annotate(c, PLURAL, ns, 'casino', { [REQUESTED_AT_ANNOTATION]: limitedAt })
    const degraded = await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'False', 'RateLimited', 30_000)
    expect(condition(degraded, 'Degraded')).toMatchObject({ status: 'True', reason: 'RateLimited' })
    expect(condition(degraded, 'Stalled')).toBeUndefined()
    const recovered = await waitForCondition(c, PLURAL, ns, 'casino', 'Ready', 'True', undefined, 30_000)
    expect(condition(recovered, 'Degraded')).toBeUndefined()
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(SIZES.players + 25 + 7 + 4)
  })

  it('two casinos in two namespaces: no cross-namespace references, each sees only its own data', async () => {
    const a = await setup('casino-ns-a', ACCOUNTS[0] as Account, {
      streams: [{ name: 'players', pageSize: 50 }],
    })
    const b = await setup('casino-ns-b', ACCOUNTS[2] as Account, {
      streams: [{ name: 'players', pageSize: 50 }],
    })
    await waitForCondition(c, PLURAL, a.ns, 'casino', 'Ready', 'True', undefined, 60_000)
    await waitForCondition(c, PLURAL, b.ns, 'casino', 'Ready', 'True', undefined, 60_000)
    const idsA = sandbox.segment.messageIds(a.writeKey)
    const idsB = sandbox.segment.messageIds(b.writeKey)
    expect(idsA.size).toBe(SIZES.players)
    expect(idsB.size).toBe(SIZES.players)
    for (const id of idsA) expect(idsB.has(id)).toBe(false)
    for (const id of idsA) expect(id).toContain(':softswiss:')
    for (const id of idsB) expect(id).toContain(':betsoftware:')

    // The schema has no namespace field for a reference: the API server refuses one.
    await expect(
      c.custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: a.ns,
          plural: PLURAL,
          name: 'casino',
          fieldValidation: 'Strict',
          body: { spec: { credentialsSecretRef: { name: 'platform', namespace: b.ns } } },
        },
        mergePatch,
      ),
    ).rejects.toSatisfy((err: { code?: number; body?: unknown }) => {
      const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body)
      return (
        (err.code === 400 || err.code === 422) && body.includes('unknown field') && body.includes('namespace')
      )
    })

    // A Destination that exists only in the other namespace is not found from here.
    await c.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: a.ns,
      plural: 'destinations',
      name: 'cdp',
    })
    await c.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: a.ns,
        plural: PLURAL,
        name: 'casino',
        body: {
          spec: { destinationRefs: [{ name: 'cdp' }] },
          metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: 'x' } },
        },
      },
      mergePatch,
    )
    const waiting = await waitForCondition(
      c,
      PLURAL,
      a.ns,
      'casino',
      'Ready',
      'False',
      'DestinationNotFound',
      30_000,
    )
    expect(condition(waiting, 'Ready')?.message).toContain(`namespace "${a.ns}"`)
  })
})
