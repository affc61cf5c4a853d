import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allKinds, createOperator, type Operator } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createResource,
  createSecret,
  GROUP,
  getObj,
  sleep,
  waitForCondition,
} from './helpers.ts'

// A controller limited to listed namespaces runs with Roles in those namespaces only, no
// ClusterRole: the identity below cannot even list Secrets anywhere else.
describe('a controller watching only listed namespaces', () => {
  let c: Clients
  let operator: Operator
  let watched: string
  let other: string

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    watched = await createNamespace(c.core, 'watched')
    other = await createNamespace(c.core, 'unwatched')
    const home = await createNamespace(c.core, 'controller-home')
    await c.core.createNamespacedServiceAccount({
      namespace: home,
      body: { metadata: { name: 'switchboard' } },
    })
    const rbac = c.kc.makeApiClient(RbacAuthorizationV1Api)
    await rbac.createNamespacedRole({
      namespace: watched,
      body: {
        metadata: { name: 'switchboard-controller' },
        rules: [
          // every kind the controller runs (a kind it cannot list would keep its caches unsynced)
          {
            apiGroups: [GROUP],
            resources: allKinds.map((k) => k.plural),
            verbs: ['get', 'list', 'watch', 'patch', 'update'],
          },
          {
            apiGroups: [GROUP],
            resources: allKinds.flatMap((k) => [`${k.plural}/status`, `${k.plural}/finalizers`]),
            verbs: ['get', 'patch', 'update'],
          },
          { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        ],
      },
    })
    await rbac.createNamespacedRoleBinding({
      namespace: watched,
      body: {
        metadata: { name: 'switchboard-controller' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'switchboard-controller' },
        subjects: [{ kind: 'ServiceAccount', name: 'switchboard', namespace: home }],
      },
    })
    const token = (
      await c.core.createNamespacedServiceAccountToken({
        name: 'switchboard',
        namespace: home,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      })
    ).status?.token
    const cluster = c.kc.getCurrentCluster()
    if (!cluster || !token) throw new Error('no cluster or token')
    const kc = new KubeConfig()
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'switchboard', token }],
      contexts: [{ name: 'switchboard', cluster: cluster.name, user: 'switchboard' }],
      currentContext: 'switchboard',
    })
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: kc,
      logger: capturedLogger('info').logger,
      namespaces: [watched],
    })
    await operator.start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
  })

  it('reconciles in its namespaces with Roles only, and never touches the others', async () => {
    for (const ns of [watched, other]) {
      await createSecret(c.core, ns, 'creds', { writeKey: `wk-${ns}` })
      await createResource(c, 'Destination', ns, 'cdp', {
        credentialsSecretRef: { name: 'creds' },
        segment: {},
      })
    }
    await waitForCondition(c, 'destinations', watched, 'cdp', 'Ready', 'True')
    await sleep(1_500)
    const untouched = await getObj(c.custom, 'destinations', other, 'cdp')
    expect(untouched.status).toBeUndefined()
    expect(untouched.metadata.finalizers ?? []).toEqual([])
    expect(operator.manager.synced).toBe(true)
  })
})
