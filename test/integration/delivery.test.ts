import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DeliveryRecord } from '../../connectors/index.ts'
import { createOperator, type Operator } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createSecret,
  GROUP,
  getObj,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'

function records(prefix: string, n: number): DeliveryRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    messageId: `${prefix}-${i}`,
    type: 'track' as const,
    userId: `player-${i % 7}`,
    event: 'Transaction Completed',
    properties: { amountMinor: i * 100, currency: 'EUR' },
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  }))
}

describe('records handed to a Segment Destination', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  const logs = capturedLogger('debug')
  const writeKey = 'wk-delivery-S3CRET-0001'

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({ segment: { writeKeys: [writeKey] } })
    await sandbox.listen()
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      statusFlushDelayMs: 200,
    })
    await operator.start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  async function readyDestination(name: string, key = writeKey, maxRetries = 3): Promise<string> {
    const ns = await createNamespace(c.core, `deliver-${name}`)
    await createSecret(c.core, ns, 'cdp', { writeKey: key })
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: 'destinations',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Destination',
        metadata: { name, namespace: ns },
        spec: {
          credentialsSecretRef: { name: 'cdp' },
          segment: { host: sandbox.url, maxRetries, timeout: '5s' },
        },
      },
    })
    await waitForCondition(c, 'destinations', ns, name, 'Ready', 'True')
    return ns
  }

  it('arrive once each with stable message ids, and the counts reach status', async () => {
    const ns = await readyDestination('once')
    const batch = records(`${ns}-once`, 50)
    const result = await operator.destinations.get(ns, 'once').deliver(batch)
    expect(result.delivered).toBe(50)
    const ids = sandbox.segment.messageIds(writeKey)
    for (const r of batch) expect(ids.has(r.messageId)).toBe(true)
    expect(sandbox.segment.duplicates(writeKey)).toBe(0)

    const obj = await waitFor('delivery counters in status', async () => {
      const o = await getObj(c.custom, 'destinations', ns, 'once')
      const d = o.status?.delivery as { recordsDelivered?: number } | undefined
      return d?.recordsDelivered === 50 ? o : undefined
    })
    expect(obj.status?.delivery).toMatchObject({
      recordsDelivered: 50,
      recordsFailed: 0,
      batchesDelivered: 1,
    })
    expect(obj.status?.lastSyncTime).toBeTruthy()
  })

  it('still arrive after injected 5xx and 429 with Retry-After, none lost', async () => {
    const ns = await readyDestination('faults')
    sandbox.faults.inject({ provider: 'segment', status: 503, times: 2 })
    sandbox.faults.inject({ provider: 'segment', status: 429, retryAfterSeconds: 1, times: 1 })
    const before = sandbox.requests.list('segment').length
    const batch = records(`${ns}-faults`, 40)
    const started = Date.now()
    await operator.destinations.get(ns, 'faults').deliver(batch)
    const ids = sandbox.segment.messageIds(writeKey)
    expect(batch.filter((r) => !ids.has(r.messageId))).toEqual([])
    const attempts = sandbox.requests.list('segment').slice(before)
    expect(attempts.filter((r) => r.status === 503).length).toBe(2)
    const limited = attempts.find((r) => r.status === 429)
    const next = attempts.find((r) => limited && r.at > limited.at)
    expect(limited && next && next.at - limited.at).toBeGreaterThanOrEqual(1_000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000)
  })

  it('report a 400 instead of retrying it forever', async () => {
    const ns = await readyDestination('rejected')
    sandbox.faults.inject({ provider: 'segment', status: 400, times: 1, body: { error: 'invalid batch' } })
    const before = sandbox.requests.list('segment').length
    const batch = records(`${ns}-rejected`, 5)
    await expect(operator.destinations.get(ns, 'rejected').deliver(batch)).rejects.toMatchObject({
      reason: 'DestinationRejected',
    })
    expect(sandbox.requests.list('segment').length - before).toBe(1)
    const obj = await waitFor('the rejection in status', async () => {
      const o = await getObj(c.custom, 'destinations', ns, 'rejected')
      const d = o.status?.delivery as { lastError?: { reason: string } } | undefined
      return d?.lastError?.reason === 'DestinationRejected' ? o : undefined
    })
    expect(obj.status?.delivery).toMatchObject({ recordsFailed: 5 })
  })

  it('stall the Destination when the write key is refused, without printing it anywhere', async () => {
    const badKey = 'wk-unknown-S3CRET-9999'
    const ns = await readyDestination('refused', badKey)
    await expect(
      operator.destinations.get(ns, 'refused').deliver(records(`${ns}-refused`, 3)),
    ).rejects.toMatchObject({
      reason: 'Unauthorized',
    })
    const obj = await waitForCondition(c, 'destinations', ns, 'refused', 'Ready', 'False', 'Unauthorized')
    expect(JSON.stringify(obj)).not.toContain(badKey)
    expect(logs.text()).not.toContain(badKey)
    expect(logs.text()).not.toContain(writeKey)

    // Fixing the Secret recovers without touching the Destination.
    await c.core.replaceNamespacedSecret({
      name: 'cdp',
      namespace: ns,
      body: { metadata: { name: 'cdp', namespace: ns }, stringData: { writeKey } },
    })
    await waitForCondition(c, 'destinations', ns, 'refused', 'Ready', 'True')
    await operator.destinations.get(ns, 'refused').deliver(records(`${ns}-fixed`, 3))
  })
})
