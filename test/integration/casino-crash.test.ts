import { Watch } from '@kubernetes/client-node'
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
  waitFor,
} from './helpers.ts'
import { type ControllerProcess, spawnController } from './process.ts'

const RECORDS = 100_000
const PAGE = 1_000
const SIGNING_SECRET = 'crash-test-signing-secret-0001'
/** The controller writes the cursor every 5 pages (and, with 1 h, never sooner by time). */
const CHECKPOINT_PAGES = 5

describe('a controller killed in the middle of a 100,000-record sync', () => {
  let c: Clients
  let sandbox: Sandbox
  const procs: ControllerProcess[] = []

  const start = () => {
    const p = spawnController(
      [
        '--kubeconfig',
        inject('kubeconfigPath'),
        '--metrics-bind-address',
        '0',
        '--checkpoint-pages',
        String(CHECKPOINT_PAGES),
        '--checkpoint-interval',
        '1h',
      ],
      { LOG_LEVEL: 'warn' },
    )
    procs.push(p)
    return p
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      http: { receivers: { lake: { signingSecret: SIGNING_SECRET } } },
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials: { apiKey: 'crash-key', apiSecret: 'crash-secret' },
            settings: { casinoId: 'crash-casino' },
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
  })

  it('resumes from the committed cursor: every record arrives, at most the pages since the last checkpoint twice, counts match', async () => {
    const ns = await createNamespace(c.core, 'crash')
    await createSecret(c.core, ns, 'lake', { signingSecret: SIGNING_SECRET })
    await createSecret(c.core, ns, 'platform', { apiKey: 'crash-key', apiSecret: 'crash-secret' })
    await createResource(c, 'Destination', ns, 'lake', {
      credentialsSecretRef: { name: 'lake' },
      http: { url: `${sandbox.url}/http/lake`, batchSize: PAGE },
    })
    await createResource(c, 'CasinoIntegration', ns, 'casino', {
      provider: 'softswiss',
      softswiss: { casinoId: 'crash-casino' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'platform' },
      streams: [{ name: 'transactions', pageSize: PAGE }],
      destinationRefs: [{ name: 'lake' }],
    })

    // Status writes of the integration while the first controller syncs.
    let writes = 0
    const watching = await new Watch(c.kc).watch(
      `/apis/switchboard.dev/v1alpha1/namespaces/${ns}/casinointegrations`,
      {},
      (type) => {
        if (type === 'MODIFIED') writes++
      },
      () => {},
    )
    const first = start()
    await waitFor(
      'a third of the records to arrive',
      () => sandbox.http.received('lake') >= RECORDS / 3 || undefined,
      {
        timeoutMs: 90_000,
        intervalMs: 20,
      },
    )
    first.kill('SIGKILL')
    await first.exited
    watching.abort()
    const atKill = sandbox.http.uniqueMessageIds('lake')
    expect(atKill).toBeLessThan(RECORDS)
    // One cursor write per 5 pages, plus the few writes of the first reconciles (conditions,
    // webhook): far fewer than one per page.
    const pagesAtKill = Math.floor(atKill / PAGE)
    expect(writes).toBeLessThanOrEqual(Math.ceil(pagesAtKill / CHECKPOINT_PAGES) + 4)

    start()
    const done = await waitFor(
      'the sync to finish after the restart',
      async () => {
        const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
        const st = (
          o.status?.streams as Array<{ name: string; totalRecordsSynced?: number }> | undefined
        )?.find((s) => s.name === 'transactions')
        // the stream's total is checkpointed per page; the resource's total at the end of the sync
        return st?.totalRecordsSynced === RECORDS && o.status?.totalRecordsSynced === RECORDS ? o : undefined
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    )
    expect(sandbox.http.uniqueMessageIds('lake')).toBe(RECORDS)
    const duplicates = sandbox.http.duplicates('lake')
    expect(duplicates).toBeLessThanOrEqual(CHECKPOINT_PAGES * PAGE)
    expect(done.status?.totalRecordsSynced).toBe(RECORDS)
    process.stderr.write(
      `[crash] killed at ${atKill} records (${pagesAtKill} pages, ${writes} status writes); ${duplicates} re-sent after the restart\n`,
    )
  }, 240_000)
})
