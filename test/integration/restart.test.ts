/**
 * The API server and etcd restarted under a running controller, on the same ports with the same
 * data: the controller is not restarted, its watches come back, a change made after the restart
 * is reconciled, records that arrived meanwhile are delivered, and nothing is delivered twice.
 * Runs its own control plane (the shared one stays up for the other files).
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOperator, type Operator, REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { type ControlPlane, startControlPlane } from '../controlplane/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  annotate,
  type Clients,
  capturedLogger,
  createNamespace,
  createResource,
  createSecret,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const credentials = { apiKey: 'restart-key', apiSecret: 'restart-S3CRET-0001' }

describe('API server and etcd restarted under a running controller', () => {
  let cp: ControlPlane
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  const logs = capturedLogger('info')

  beforeAll(async () => {
    cp = await startControlPlane({ stopGraceMs: 5_000 })
    const kc = cp.kubeConfig()
    c = { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) }
    await installCrds(kc)
    sandbox = await buildSandbox({
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials,
            settings: { casinoId: 'rs' },
            size: { players: 4, transactions: 20, games: 3 },
          },
        ],
      },
    })
    await sandbox.listen()
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: kc,
      logger: logs.logger,
      statusFlushDelayMs: 200,
      providerHttp: { timeoutMs: 1_000 },
    })
    await operator.start()
  }, 180_000)

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
    await cp?.stop()
  })

  it('recovers without a controller restart, loses no work and sends no duplicate', async () => {
    const ns = await createNamespace(c.core, 'restart')
    const writeKey = `wk-${ns}`
    await createSecret(c.core, ns, 'cdp', { writeKey })
    await createSecret(c.core, ns, 'platform', credentials)
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    const casino = (interval: string, destination = 'cdp') => ({
      provider: 'softswiss',
      softswiss: { casinoId: 'rs' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'platform' },
      // hours between syncs: only the requests below explain a sync
      streams: [{ name: 'transactions', interval }],
      destinationRefs: [{ name: destination }],
    })
    await createResource(c, 'CasinoIntegration', ns, 'casino', casino('6h'))
    await waitForCondition(c, 'casinointegrations', ns, 'casino', 'Ready', 'True', undefined, 30_000)
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(20)
    const reconcilesBefore = operator.manager.controllers.find(
      (x) => x.name === 'casinointegration',
    )?.reconcileCount

    // records keep arriving at the platform while the API server is away
    sandbox.casino.append('softswiss', 'rs', 'transactions', 7)
    const t0 = Date.now()
    await cp.restart({ downMs: 3_000 })
    const downFor = Date.now() - t0

    // a change made after the restart reaches the controller through its (re-established) watch
    await waitFor(
      'the API server to take writes again',
      async () => {
        try {
          await annotate(c, 'casinointegrations', ns, 'casino', {
            [REQUESTED_AT_ANNOTATION]: new Date().toISOString(),
          })
          return true
        } catch {
          return undefined
        }
      },
      { timeoutMs: 30_000 },
    )
    await waitFor(
      'the records that arrived meanwhile',
      () => (sandbox.segment.uniqueMessageIds(writeKey) === 27 ? true : undefined),
      { timeoutMs: 60_000 },
    )
    // and objects created after the restart are reconciled too (their own Destination)
    await createSecret(c.core, ns, 'cdp2', { writeKey: `${writeKey}-2` })
    await createResource(c, 'Destination', ns, 'cdp2', {
      credentialsSecretRef: { name: 'cdp2' },
      segment: { host: sandbox.url },
    })
    await createResource(c, 'CasinoIntegration', ns, 'second', casino('6h', 'cdp2'))
    await waitForCondition(c, 'casinointegrations', ns, 'second', 'Ready', 'True', undefined, 60_000)
    await waitForCondition(c, 'casinointegrations', ns, 'casino', 'Ready', 'True', undefined, 30_000)
    expect(sandbox.segment.duplicates(writeKey)).toBe(0)
    expect(sandbox.segment.uniqueMessageIds(`${writeKey}-2`)).toBe(27)
    expect(sandbox.segment.duplicates(`${writeKey}-2`)).toBe(0)
    const reconcilesAfter = operator.manager.controllers.find(
      (x) => x.name === 'casinointegration',
    )?.reconcileCount
    expect((reconcilesAfter ?? 0) - (reconcilesBefore ?? 0)).toBeGreaterThan(0)
    process.stderr.write(
      `[restart] control plane down ${downFor} ms; ${(reconcilesAfter ?? 0) - (reconcilesBefore ?? 0)} reconciles after\n`,
    )
  })
})
