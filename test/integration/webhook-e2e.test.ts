import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createOperator, type Operator } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, casinoRequest, type Sandbox, send } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  sleep,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const PUBLIC_URL = 'https://hooks.switchboard.example'
const WEBHOOK_SECRET = 'e2e-webhook-secret-0001'

function streamStatus(obj: { status?: Record<string, unknown> }, name: string) {
  const streams = (obj.status?.streams ?? []) as Array<{ name: string; lastSyncTime?: string }>
  return streams.find((s) => s.name === name)
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))))
    })
  })
}

// The whole path a provider's webhook takes: sandbox → `switchboard webhooks` (its own process)
// → API server (annotation) → controller → sync from the platform's API.
describe('a casino platform webhook, end to end', () => {
  let c: Clients
  // debug: the burst below counts this object's reconciles from the log
  const logs = capturedLogger('debug')
  let operator: Operator
  let sandbox: Sandbox
  let webhooks: ChildProcess
  let hooksUrl: string
  const credentials = { apiKey: 'e2e-key', apiSecret: 'e2e-S3CRET-signing' }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials,
            settings: { casinoId: 'e2e' },
            size: { players: 5, transactions: 40, games: 5 },
          },
        ],
      },
    })
    await sandbox.listen()
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl: PUBLIC_URL,
    })
    await operator.start()
    const port = await freePort()
    hooksUrl = `http://127.0.0.1:${port}`
    webhooks = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, '../../bin/switchboard.ts'),
        'webhooks',
        '--kubeconfig',
        inject('kubeconfigPath'),
        '--bind-address',
        `127.0.0.1:${port}`,
        '--public-url',
        PUBLIC_URL,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    await waitFor(
      'the webhook server to be ready',
      async () => ((await fetch(`${hooksUrl}/readyz`)).ok ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    )
  })

  afterAll(async () => {
    webhooks?.kill('SIGTERM')
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  it('a signed delivery triggers a sync that fetches the new records; a forged one changes nothing', async () => {
    const ns = await createNamespace(c.core, 'hooks-e2e')
    await createSecret(c.core, ns, 'cdp', { writeKey: `wk-${ns}` })
    // an empty webhook secret first: the API works, webhooks are reported as not ready
    await createSecret(c.core, ns, 'platform', { ...credentials, webhookSecret: '\n' })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await createResource(c, 'CasinoIntegration', ns, 'casino', {
      provider: 'softswiss',
      softswiss: { casinoId: 'e2e' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'platform' },
      // Hours between syncs: only the webhook can explain a sync within the test.
      streams: [
        { name: 'transactions', interval: '6h' },
        { name: 'players', interval: '6h' },
      ],
      destinationRefs: [{ name: 'cdp' }],
    })
    const ready = await waitForCondition(
      c,
      'casinointegrations',
      ns,
      'casino',
      'Ready',
      'True',
      undefined,
      30_000,
    )
    expect(condition(ready, 'WebhookReady')).toMatchObject({
      status: 'False',
      reason: 'WebhookSecretMissing',
    })
    expect(condition(ready, 'WebhookReady')?.message).toContain('"webhookSecret" is empty')
    await c.core.patchNamespacedSecret(
      { namespace: ns, name: 'platform', body: { stringData: { webhookSecret: WEBHOOK_SECRET } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    const hooked = await waitForCondition(c, 'casinointegrations', ns, 'casino', 'WebhookReady', 'True')
    const hook = hooked.status?.webhook as { path: string; url: string }
    expect(hook.path).toMatch(/^\/hooks\/softswiss\/[A-Za-z0-9_-]{40,}$/)
    expect(hook.url).toBe(`${PUBLIC_URL}${hook.path}`)
    const writeKey = `wk-${ns}`
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(45)
    const playersSyncedAt = streamStatus(hooked, 'players')?.lastSyncTime

    // New records at the platform, and the platform says so.
    sandbox.casino.append('softswiss', 'e2e', 'transactions', 9)
    const body = { stream: 'transactions', event: 'transactions.updated', casino_id: 'e2e' }

    // A forged delivery first: refused, nothing patched, nothing synced.
    const before = await getObj(c.custom, 'casinointegrations', ns, 'casino')
    const forged = await send(casinoRequest({ url: hook.url, secret: 'not-the-secret', body }), {
      baseUrl: hooksUrl,
    })
    expect(forged.status).toBe(401)
    // signed with the platform's API secret (as a request Switchboard sends is): refused too
    const withApiSecret = await send(casinoRequest({ url: hook.url, secret: credentials.apiSecret, body }), {
      baseUrl: hooksUrl,
    })
    expect(withApiSecret.status).toBe(401)
    await sleep(1_500)
    const untouched = await getObj(c.custom, 'casinointegrations', ns, 'casino')
    expect(untouched.metadata.resourceVersion).toBe(before.metadata.resourceVersion)
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(45)

    // The webhook server may take a moment to index the new path (it watches the kind).
    const res = await waitFor('the webhook server to accept the delivery', async () => {
      const r = await send(casinoRequest({ url: hook.url, secret: WEBHOOK_SECRET, body }), {
        baseUrl: hooksUrl,
      })
      return r.status === 200 || r.status === 202 || r.status === 204 ? r : undefined
    })
    expect(res.ok).toBe(true)
    await waitFor(
      'the sync the webhook asked for',
      () => sandbox.segment.uniqueMessageIds(writeKey) === 54 || undefined,
      {
        timeoutMs: 20_000,
      },
    )
    // The delivery named the transactions stream: that one synced again, players did not.
    const after = await waitFor('the transactions sync in status', async () => {
      const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
      const t = streamStatus(o, 'transactions')?.lastSyncTime
      return t && t !== streamStatus(hooked, 'transactions')?.lastSyncTime ? o : undefined
    })
    expect(streamStatus(after, 'players')?.lastSyncTime).toBe(playersSyncedAt)
    const annotations = (after.metadata as { annotations?: Record<string, string> }).annotations
    expect(annotations?.['switchboard.dev/requested-streams']).toMatch(/^transactions=/)
    expect(sandbox.segment.duplicates(writeKey)).toBe(0)

    // A burst: 500 deliveries while records keep arriving. The reconciles are coalesced to a
    // handful, and the last sync still sees every record.
    // This object's reconciles, not those of what other test files left in the API server.
    const reconcilesOfThis = () =>
      logs
        .text()
        .split('\n')
        .filter(
          (l) =>
            l.includes(`"namespace":"${ns}"`) &&
            l.includes('"controller":"casinointegration"') &&
            (l.includes('"msg":"reconciled"') || l.includes('"msg":"reconcile failed"')),
        ).length
    const reconcilesBefore = reconcilesOfThis()
    let accepted = 0
    for (let round = 0; round < 10; round++) {
      sandbox.casino.append('softswiss', 'e2e', 'transactions', 3)
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          send(casinoRequest({ url: hook.url, secret: WEBHOOK_SECRET, body }), { baseUrl: hooksUrl }),
        ),
      )
      accepted += answers.filter((r) => r.ok).length
    }
    // The server's per-path rate limit may refuse some of a burst (429); the accepted ones suffice.
    expect(accepted).toBeGreaterThan(0)
    await waitFor(
      'every record of the burst',
      () => sandbox.segment.uniqueMessageIds(writeKey) === 54 + 30 || undefined,
      {
        timeoutMs: 30_000,
      },
    )
    await sleep(2_000)
    const reconciles = reconcilesOfThis() - reconcilesBefore
    expect(reconciles).toBeGreaterThan(0)
    expect(reconciles).toBeLessThanOrEqual(25)
    expect(sandbox.segment.duplicates(writeKey)).toBe(0)
    process.stderr.write(`[webhook burst] 500 deliveries (${accepted} accepted) → ${reconciles} reconciles\n`)
  })
})
