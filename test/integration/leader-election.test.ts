import { CoordinationV1Api } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { mergePatch } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  type Clients,
  clients,
  createNamespace,
  createResource,
  createSecret,
  GROUP,
  getObj,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'
import { type ControllerProcess, sample, scrape, spawnController } from './process.ts'

const LEASE = 'switchboard-controller'

describe('leader election between controller processes', () => {
  let c: Clients
  let coordination: CoordinationV1Api
  let ns: string
  const procs: ControllerProcess[] = []

  const start = (name: string) => {
    const p = spawnController(
      [
        '--kubeconfig',
        inject('kubeconfigPath'),
        '--leader-elect',
        '--leader-election-namespace',
        ns,
        '--metrics-bind-address',
        '127.0.0.1:0',
      ],
      { POD_NAME: name, LOG_LEVEL: 'info' },
    )
    procs.push(p)
    return p
  }

  const holder = async () =>
    (await coordination.readNamespacedLease({ name: LEASE, namespace: ns })).spec?.holderIdentity ?? ''

  beforeAll(async () => {
    c = clients()
    coordination = c.kc.makeApiClient(CoordinationV1Api)
    await installCrds(c.kc)
    ns = await createNamespace(c.core, 'leader')
    await createSecret(c.core, ns, 'creds', { writeKey: 'wk-leader-0001' })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'creds' },
      segment: {},
    })
  })

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
  })

  it('lets exactly one replica reconcile, and hands over when the leader dies or stops', async () => {
    const a = start('replica-a')
    const b = start('replica-b')
    const [portA, portB] = await Promise.all([a.metricsPort(), b.metricsPort()])
    const first = await waitFor('a lease holder', async () => (await holder()) || undefined, {
      timeoutMs: 30_000,
    })
    await waitForCondition(c, 'destinations', ns, 'cdp', 'Ready', 'True', undefined, 30_000)

    const [leader, follower, leaderPort, followerPort] = first.startsWith('replica-a')
      ? [a, b, portA, portB]
      : [b, a, portB, portA]
    const [lm, fm] = await Promise.all([scrape(leaderPort), scrape(followerPort)])
    expect(sample(lm, 'leader_election_master_status', { name: LEASE })).toBe(1)
    expect(sample(fm, 'leader_election_master_status', { name: LEASE })).toBe(0)
    expect(sample(lm, 'controller_runtime_reconcile_total', { controller: 'destination' })).toBeGreaterThan(0)
    // The follower never reconciled: no reconcile counted at all.
    expect(sample(fm, 'controller_runtime_reconcile_total', { controller: 'destination' }) || 0).toBe(0)

    // Crash the leader: the follower takes over once the lease (15 s) has run out.
    const killedAt = Date.now()
    leader.kill('SIGKILL')
    const second = await waitFor(
      'the follower to take the lease',
      async () => {
        const h = await holder()
        return h && h !== first ? h : undefined
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    )
    const handover = Date.now() - killedAt
    expect(second.startsWith(first.startsWith('replica-a') ? 'replica-b' : 'replica-a')).toBe(true)
    // the lease (15 s), plus up to one retry period (2 s) before the last renewal was observed and
    // one more before the next attempt, plus API latency on a busy machine
    expect(handover).toBeLessThan(15_000 + 6_000)

    // The new leader reconciles: a sync request is handled.
    const requested = new Date().toISOString()
    await c.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: 'destinations',
        name: 'cdp',
        body: { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: requested } } },
      },
      mergePatch,
    )
    await waitFor('the new leader to handle the request', async () => {
      const o = await getObj(c.custom, 'destinations', ns, 'cdp')
      return o.status?.lastHandledRequestAt === requested || undefined
    })

    // A graceful stop (SIGTERM) releases the lease: a standby takes it without waiting it out.
    const c3 = start('replica-c')
    await c3.metricsPort()
    const stoppedAt = Date.now()
    follower.kill('SIGTERM')
    expect(await follower.exited).toBe(0)
    await waitFor(
      'replica-c to take the released lease',
      async () => ((await holder()).startsWith('replica-c') ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 100 },
    )
    const graceful = Date.now() - stoppedAt
    expect(graceful).toBeLessThan(15_000)
    process.stderr.write(
      `[leader-election] crash handover ${handover} ms, graceful handover ${graceful} ms\n`,
    )
  })
})
