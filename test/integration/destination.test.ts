import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOperator, type Operator, REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createSecret,
  eventsFor,
  GROUP,
  getObj,
  sleep,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const PLURAL = 'destinations'

describe('Destination lifecycle against a real API server', () => {
  let c: Clients
  let operator: Operator
  const logs = capturedLogger('debug')

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      jitter: 0,
    })
    await operator.start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
  })

  const controller = () => {
    const ctl = operator.manager.controllers.find((x) => x.name === 'destination')
    if (!ctl) throw new Error('no destination controller')
    return ctl
  }

  async function createDestination(namespace: string, name: string, spec: Record<string, unknown>) {
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'Destination', metadata: { name, namespace }, spec },
    })
  }

  async function patchDestination(namespace: string, name: string, body: Record<string, unknown>) {
    const { mergePatch } = await import('../../controller/runtime/index.ts')
    await c.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body },
      mergePatch,
    )
  }

  it('stalls on a missing Secret without retrying in a loop, and recovers when the Secret appears', async () => {
    const ns = await createNamespace(c.core, 'dest-missing')
    await createDestination(ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp-credentials' },
      segment: { host: 'http://127.0.0.1:9' },
    })
    const stalled = await waitForCondition(c, PLURAL, ns, 'cdp', 'Ready', 'False', 'SecretNotFound')
    expect(condition(stalled, 'Stalled')).toMatchObject({ status: 'True', reason: 'SecretNotFound' })
    expect(condition(stalled, 'Ready')?.message).toContain('cdp-credentials')

    // No retry loop: a stalled object is not reconciled again until something changes. Counted for
    // this object alone (the controller also sees what other test files left in the API server).
    const reconcilesOfThis = () =>
      logs
        .text()
        .split('\n')
        .filter((l) => l.includes(`"namespace":"${ns}"`) && l.includes('"msg":"reconcile failed"')).length
    expect(reconcilesOfThis()).toBeGreaterThanOrEqual(1)
    const before = reconcilesOfThis()
    await sleep(3_000)
    expect(reconcilesOfThis() - before).toBeLessThanOrEqual(1)

    // Creating the Secret (the Destination is not touched) makes it Ready within seconds.
    const t0 = Date.now()
    await createSecret(c.core, ns, 'cdp-credentials', { writeKey: 'wk-recover-0001' })
    const ready = await waitForCondition(c, PLURAL, ns, 'cdp', 'Ready', 'True', undefined, 10_000)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(condition(ready, 'Stalled')).toBeUndefined()
    expect(condition(ready, 'CredentialsValid')?.status).toBe('True')
    expect(ready.status?.type).toBe('segment')
  })

  it("refuses to send a write key to a host that is not Segment's, naming the field and host", async () => {
    const ns = await createNamespace(c.core, 'dest-host')
    const writeKey = 'wk-planted-host-0001'
    await createSecret(c.core, ns, 'cdp', { writeKey })
    // an editor (no Secret access) points the Destination elsewhere
    await createDestination(ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: 'https://collector.attacker.example' },
    })
    const refused = await waitForCondition(c, PLURAL, ns, 'cdp', 'Ready', 'False', 'EndpointNotAllowed')
    expect(condition(refused, 'Stalled')).toMatchObject({ status: 'True', reason: 'EndpointNotAllowed' })
    expect(condition(refused, 'Ready')?.message).toContain(
      'spec.segment.host host "collector.attacker.example" is not allowed for segment',
    )
    expect(JSON.stringify(refused.status)).not.toContain(writeKey)
    expect(operator.destinations.has(ns, 'cdp')).toBe(false)
    // plain http to a public host is refused too; loopback is allowed because this operator asked
    await patchDestination(ns, 'cdp', { spec: { segment: { host: 'http://api.segment.io' } } })
    await waitFor('the https refusal', async () => {
      const o = await getObj(c.custom, PLURAL, ns, 'cdp')
      return condition(o, 'Ready')?.message?.includes('must use https') ? o : undefined
    })
    await patchDestination(ns, 'cdp', { spec: { segment: { host: 'http://127.0.0.1:9' } } })
    await waitForCondition(c, PLURAL, ns, 'cdp', 'Ready', 'True')
    expect(logs.text()).not.toContain(writeKey)
  })

  it('names a missing key, and never shows a malformed value in status, events or logs', async () => {
    const ns = await createNamespace(c.core, 'dest-keys')
    await createSecret(c.core, ns, 'hook-credentials', { somethingElse: 'x' })
    await createDestination(ns, 'hook', {
      credentialsSecretRef: { name: 'hook-credentials' },
      http: { url: 'https://ingest.example.com/records' },
    })
    const missing = await waitForCondition(c, PLURAL, ns, 'hook', 'Ready', 'False', 'SecretKeyMissing')
    expect(condition(missing, 'Ready')?.message).toContain('"signingSecret"')
    expect(condition(missing, 'CredentialsValid')).toMatchObject({
      status: 'False',
      reason: 'SecretKeyMissing',
    })

    // Present but malformed (too short): named, value never shown.
    const malformed = 'tooShort-S3CRET'
    await c.core.replaceNamespacedSecret({
      name: 'hook-credentials',
      namespace: ns,
      body: {
        metadata: { name: 'hook-credentials', namespace: ns },
        stringData: { signingSecret: malformed },
      },
    })
    const invalid = await waitForCondition(c, PLURAL, ns, 'hook', 'Ready', 'False', 'InvalidCredentials')
    expect(condition(invalid, 'Ready')?.message).toContain('"signingSecret"')
    const events = await waitFor('events', async () => {
      const evs = await eventsFor(c.core, ns, 'hook')
      return evs.some((e) => e.reason === 'InvalidCredentials') ? evs : undefined
    })
    const everything = JSON.stringify(invalid) + JSON.stringify(events) + logs.text()
    expect(everything).not.toContain(malformed)
    expect(everything).not.toContain(Buffer.from(malformed).toString('base64'))
  })

  it('writes no status when nothing changed (resourceVersion stays the same across resyncs)', async () => {
    const ns = await createNamespace(c.core, 'dest-steady')
    await createSecret(c.core, ns, 'creds', { writeKey: 'wk-steady-0001' })
    await createDestination(ns, 'steady', {
      credentialsSecretRef: { name: 'creds' },
      interval: '1s',
      segment: { host: 'http://127.0.0.1:9' },
    })
    const ready = await waitForCondition(c, PLURAL, ns, 'steady', 'Ready', 'True')
    await sleep(500)
    const settled = await getObj(c.custom, PLURAL, ns, 'steady')
    const count = controller().reconcileCount
    await sleep(3_500)
    expect(controller().reconcileCount - count).toBeGreaterThanOrEqual(2) // the resyncs did run
    const after = await getObj(c.custom, PLURAL, ns, 'steady')
    expect(after.metadata.resourceVersion).toBe(settled.metadata.resourceVersion)
    expect(condition(after, 'Ready')?.lastTransitionTime).toBe(condition(ready, 'Ready')?.lastTransitionTime)
  })

  it('handles requested-at, honours suspend, and lets a deleted object go', async () => {
    const ns = await createNamespace(c.core, 'dest-ops')
    await createSecret(c.core, ns, 'creds', { writeKey: 'wk-ops-00001' })
    await createDestination(ns, 'ops', { credentialsSecretRef: { name: 'creds' }, segment: {} })
    const ready = await waitForCondition(c, PLURAL, ns, 'ops', 'Ready', 'True')
    // A Destination makes nothing at a provider, so it carries no finalizer (one write fewer).
    expect(ready.metadata.finalizers ?? []).toEqual([])

    const requested = new Date().toISOString()
    await patchDestination(ns, 'ops', { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: requested } } })
    await waitFor('lastHandledRequestAt', async () => {
      const o = await getObj(c.custom, PLURAL, ns, 'ops')
      return o.status?.lastHandledRequestAt === requested ? o : undefined
    })

    // Suspended: deleting its Secret would stall it, but nothing is reconciled.
    await patchDestination(ns, 'ops', { spec: { suspend: true } })
    await waitFor('observedGeneration after suspend', async () => {
      const o = await getObj(c.custom, PLURAL, ns, 'ops')
      return o.status?.observedGeneration === o.metadata.generation ? o : undefined
    })
    await c.core.deleteNamespacedSecret({ name: 'creds', namespace: ns })
    await sleep(2_000)
    const suspended = await getObj(c.custom, PLURAL, ns, 'ops')
    expect(condition(suspended, 'Ready')?.status).toBe('True')

    // Resumed: now the missing Secret is noticed.
    await patchDestination(ns, 'ops', { spec: { suspend: false } })
    await waitForCondition(c, PLURAL, ns, 'ops', 'Ready', 'False', 'SecretNotFound')

    await c.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name: 'ops',
    })
    await waitFor('the Destination to be gone', async () => {
      try {
        await getObj(c.custom, PLURAL, ns, 'ops')
        return undefined
      } catch (err) {
        return (err as { code?: number }).code === 404 ? true : undefined
      }
    })
    expect(operator.destinations.has(ns, 'ops')).toBe(false)
  })
})
