/**
 * GitOps health on objects the controller really wrote: the operator runs in-process against the
 * real API server and the provider sandbox, resources are driven into each state, read back, and
 * handed to the chart's Argo CD health script (every Lua interpreter on PATH) and to the kstatus
 * rules Flux applies (test/ship/kstatus.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOperator, type Operator } from '../../controller/index.ts'
import { mergePatch } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import { kstatus } from '../ship/kstatus.ts'
import { argoHealth, luaInterpreters } from '../ship/lua.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createSecret,
  GROUP,
  getObj,
  type Obj,
  VERSION,
  waitForCondition,
} from './helpers.ts'

const WRITE_KEY = 'health-write-key-001'
const SOFTSWISS = { apiKey: 'health-ss-key', apiSecret: 'health-ss-S3CRET-01' }

describe('Argo CD and kstatus health of real Switchboard objects', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  let ns: string
  const interpreters = luaInterpreters()
  const seen: Record<string, Obj> = {}

  const create = async (plural: string, kind: string, name: string, spec: Record<string, unknown>) =>
    (await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name, namespace: ns }, spec },
    })) as Obj

  /** What both readers say of one object, for every interpreter. */
  function health(obj: Obj) {
    const [first, ...others] = interpreters.map((lua) => argoHealth(obj, lua))
    if (!first) throw new Error('no Lua interpreter')
    for (const other of others) expect(other).toEqual(first)
    return { argo: first, k: kstatus(obj) }
  }

  beforeAll(async () => {
    expect(interpreters.length, 'a Lua interpreter (apt-get install lua5.1)').toBeGreaterThan(0)
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      segment: { writeKeys: [WRITE_KEY] },
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials: SOFTSWISS,
            settings: { casinoId: 'health-casino' },
            size: { players: 5, transactions: 5, games: 5 },
          },
        ],
      },
    })
    await sandbox.listen()
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: capturedLogger('warn').logger,
      providerHttp: { timeoutMs: 1_000, retry: { limit: 0 } },
    })
    await operator.start()
    ns = await createNamespace(c.core, 'health')
    await createSecret(c.core, ns, 'cdp', { writeKey: WRITE_KEY })
    await createSecret(c.core, ns, 'casino', SOFTSWISS)
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  it('a resource the controller has not seen yet is Progressing', async () => {
    // the create response: no status at all
    const fresh = await create('destinations', 'Destination', 'fresh', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    expect(fresh.status).toBeUndefined()
    expect(health(fresh).argo.status).toBe('Progressing')
  })

  it('Ready=True for the current generation is Healthy / Current', async () => {
    await create('destinations', 'Destination', 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    const obj = await waitForCondition(c, 'destinations', ns, 'cdp', 'Ready', 'True')
    seen.ready = obj
    const h = health(obj)
    expect(h.argo).toEqual({ status: 'Healthy', message: expect.stringMatching(/^Succeeded: /) })
    expect(h.k.status).toBe('Current')
  })

  it('a CasinoIntegration that synced is Healthy / Current', async () => {
    await create('casinointegrations', 'CasinoIntegration', 'royal', {
      provider: 'softswiss',
      softswiss: { casinoId: 'health-casino', environment: 'staging' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'casino' },
      streams: [{ name: 'players' }],
      destinationRefs: [{ name: 'cdp' }],
    })
    const obj = await waitForCondition(
      c,
      'casinointegrations',
      ns,
      'royal',
      'Ready',
      'True',
      undefined,
      30_000,
    )
    const h = health(obj)
    expect(h.argo.status).toBe('Healthy')
    expect(h.k.status).toBe('Current')
  })

  it('a missing Secret (Stalled=True) is Degraded / Failed, and names the Secret', async () => {
    await create('destinations', 'Destination', 'no-secret', {
      credentialsSecretRef: { name: 'does-not-exist' },
      segment: { host: sandbox.url },
    })
    const obj = await waitForCondition(
      c,
      'destinations',
      ns,
      'no-secret',
      'Stalled',
      'True',
      'SecretNotFound',
    )
    const h = health(obj)
    expect(h.argo.status).toBe('Degraded')
    expect(h.argo.message).toMatch(/^SecretNotFound: .*does-not-exist/)
    expect(h.k.status).toBe('Failed')
  })

  it('a transient failure (Reconciling=True) is Progressing / InProgress', async () => {
    await create('casinointegrations', 'CasinoIntegration', 'waiting', {
      provider: 'softswiss',
      softswiss: { casinoId: 'health-casino', environment: 'staging' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'casino' },
      streams: [{ name: 'players' }],
      destinationRefs: [{ name: 'not-created-yet' }],
    })
    const obj = await waitForCondition(
      c,
      'casinointegrations',
      ns,
      'waiting',
      'Reconciling',
      'True',
      undefined,
      30_000,
    )
    const h = health(obj)
    expect(h.argo.status).toBe('Progressing')
    expect(h.argo.message).toMatch(/^ProgressingWithRetry: /)
    expect(h.k.status).toBe('InProgress')
  })

  it('a spec change not yet observed is Progressing / InProgress, then Healthy again', async () => {
    expect(seen.ready).toBeDefined()
    // the patch response carries the new generation and the status of the old one
    const patched = (await c.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: 'destinations',
        name: 'cdp',
        body: { spec: { interval: '7m' } },
      },
      mergePatch,
    )) as Obj
    expect(patched.metadata.generation).toBeGreaterThan(patched.status?.observedGeneration ?? 0)
    const before = health(patched)
    expect(before.argo).toEqual({
      status: 'Progressing',
      message: expect.stringMatching(/observe generation/),
    })
    expect(before.k.status).toBe('InProgress')

    const after = await waitForCondition(c, 'destinations', ns, 'cdp', 'Ready', 'True')
    expect(after.metadata.generation).toBe(patched.metadata.generation)
    expect(health(after).argo.status).toBe('Healthy')
    expect(health(after).k.status).toBe('Current')
  })

  it('spec.suspend is Suspended in Argo CD; kstatus (which has no such state) reads it as Current', async () => {
    await create('destinations', 'Destination', 'paused', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
      suspend: true,
    })
    // the controller records that it saw the generation, and does nothing else
    let obj = await getObj(c.custom, 'destinations', ns, 'paused')
    for (let i = 0; i < 100 && obj.status?.observedGeneration !== obj.metadata.generation; i++) {
      await new Promise((r) => setTimeout(r, 100))
      obj = await getObj(c.custom, 'destinations', ns, 'paused')
    }
    expect(obj.status?.observedGeneration).toBe(obj.metadata.generation)
    const h = health(obj)
    expect(h.argo.status).toBe('Suspended')
    expect(h.k.status).toBe('Current')
  })
})
