import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOperator, type Operator } from '../../controller/index.ts'
import { mergePatch, SHARD_LABEL } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createSecret,
  GROUP,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'

// Three controllers split one cluster's objects by the switchboard.dev/shard label: shard "a",
// shard "b" and the default shard (unlabelled objects), each with its own Lease.
describe('shards', () => {
  let c: Clients
  let ns: string
  const shards = ['a', 'b', 'default'] as const
  const running: Record<string, { operator: Operator; text: () => string }> = {}
  const PER_SHARD = 15

  /** namespace/name of every object a shard's controller reconciled (from its debug log). */
  function reconciledBy(shard: string): Set<string> {
    const seen = new Set<string>()
    for (const line of running[shard]?.text().split('\n') ?? []) {
      if (!line.includes('"msg":"reconciled"')) continue
      const entry = JSON.parse(line) as { controller?: string; namespace?: string; name?: string }
      if (entry.controller === 'destination' && entry.namespace === ns) seen.add(`${entry.name}`)
    }
    return seen
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    ns = await createNamespace(c.core, 'shards')
    await createSecret(c.core, ns, 'creds', { writeKey: 'shard-write-key-01' })
    for (const shard of shards) {
      const { logger, text } = capturedLogger('debug')
      const operator = createOperator({
        kubeConfig: c.kc,
        logger,
        jitter: 0,
        shard: shard === 'default' ? 'default' : { name: shard },
        leaderElection: {
          enabled: true,
          namespace: ns,
          name: shard === 'default' ? 'switchboard-controller' : `switchboard-controller-${shard}`,
          retryPeriodMs: 200,
        },
      })
      running[shard] = { operator, text }
      await operator.start()
    }
  })

  afterAll(async () => {
    await Promise.all(Object.values(running).map((r) => r.operator.stop({ timeoutMs: 5_000 })))
  })

  it('each object is reconciled by exactly one shard, and each shard has its own leader', async () => {
    await waitFor('three leaders', () => Object.values(running).every((r) => r.operator.manager.isLeader))
    for (const shard of shards) {
      for (let i = 0; i < PER_SHARD; i++) {
        await c.custom.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: 'destinations',
          body: {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: 'Destination',
            metadata: {
              name: `${shard}-${i}`,
              namespace: ns,
              ...(shard === 'default' ? {} : { labels: { [SHARD_LABEL]: shard } }),
            },
            spec: { credentialsSecretRef: { name: 'creds' }, segment: {} },
          },
        })
      }
    }
    for (const shard of shards) {
      for (let i = 0; i < PER_SHARD; i++)
        await waitForCondition(c, 'destinations', ns, `${shard}-${i}`, 'Ready', 'True')
    }
    for (const shard of shards) {
      const mine = Array.from({ length: PER_SHARD }, (_, i) => `${shard}-${i}`)
      expect([...reconciledBy(shard)].sort()).toEqual(mine.sort())
    }
    const leases = await c.kc
      .makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api)
      .listNamespacedLease({ namespace: ns })
    expect(leases.items.map((l) => l.metadata?.name).sort()).toEqual([
      'switchboard-controller',
      'switchboard-controller-a',
      'switchboard-controller-b',
    ])
  })

  it('an object moved to another shard is reconciled there and no longer by its old shard', async () => {
    await c.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: 'destinations',
        name: 'a-0',
        body: { metadata: { labels: { [SHARD_LABEL]: 'b' } } },
      },
      mergePatch,
    )
    await waitFor('shard b to reconcile a-0', () => reconciledBy('b').has('a-0'))
    const aController = running.a?.operator.manager.informer('destination')
    await waitFor('shard a to let a-0 go', () => aController?.get('a-0', ns) === undefined)
    expect(running.b?.operator.manager.informer('destination')?.get('a-0', ns)).toBeDefined()
    expect(running.default?.operator.manager.informer('destination')?.get('a-0', ns)).toBeUndefined()
  })
})
