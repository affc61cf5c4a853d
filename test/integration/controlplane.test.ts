import { randomBytes } from 'node:crypto'
import { ApiException, ApisApi, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node'
import { beforeAll, describe, expect, inject, it } from 'vitest'

// Proves the integration project talks to a real API server: objects persist, the API groups
// the operator relies on are served, and RBAC is enforced for identities other than the admin.
describe('local control plane', () => {
  const suffix = randomBytes(4).toString('hex')
  const namespace = `cp-test-${suffix}`
  let kc: KubeConfig
  let core: CoreV1Api

  beforeAll(async () => {
    kc = new KubeConfig()
    kc.loadFromFile(inject('kubeconfigPath'))
    core = kc.makeApiClient(CoreV1Api)
    await core.createNamespace({ body: { metadata: { name: namespace } } })
  })

  it('uses the switchboard-local context with a verified CA', () => {
    const cluster = kc.getCurrentCluster()
    expect(cluster?.server).toMatch(/^https:\/\//)
    expect(cluster?.skipTLSVerify ?? false).toBe(false)
    expect(cluster?.caData ?? cluster?.caFile).toBeTruthy()
  })

  it('stores and returns a namespace and a Secret', async () => {
    const ns = await core.readNamespace({ name: namespace })
    expect(ns.metadata?.name).toBe(namespace)
    expect(ns.metadata?.uid).toBeTruthy()

    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'provider-credentials' }, stringData: { writeKey: 'not-a-real-key' } },
    })
    const secret = await core.readNamespacedSecret({ name: 'provider-credentials', namespace })
    expect(secret.metadata?.resourceVersion).toBeTruthy()
    expect(Buffer.from(secret.data?.writeKey ?? '', 'base64').toString('utf8')).toBe('not-a-real-key')
  })

  it('serves the apiextensions and coordination API groups', async () => {
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions()
    const names = groups.groups.map((g) => g.name)
    expect(names).toContain('apiextensions.k8s.io')
    expect(names).toContain('coordination.k8s.io')
  })

  it('enforces RBAC for a service account until a Role grants access', async () => {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'rbac-probe' } } })
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'reader' } } })
    const tokenRequest = await core.createNamespacedServiceAccountToken({
      name: 'reader',
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    })
    const token = tokenRequest.status?.token
    expect(token).toBeTruthy()

    const saConfig = new KubeConfig()
    const cluster = kc.getCurrentCluster()
    if (!cluster) throw new Error('kubeconfig has no current cluster')
    saConfig.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'reader', token }],
      contexts: [{ name: 'reader', cluster: cluster.name, user: 'reader' }],
      currentContext: 'reader',
    })
    const saCore = saConfig.makeApiClient(CoreV1Api)

    const denied = await saCore.listNamespacedSecret({ namespace }).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(denied).toBeInstanceOf(ApiException)
    expect((denied as ApiException<unknown>).code).toBe(403)

    const rbac = kc.makeApiClient(RbacAuthorizationV1Api)
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      },
    })
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'secret-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace }],
      },
    })
    // The RBAC authorizer reads from an informer cache; give it a moment to see the binding.
    await expect
      .poll(
        async () =>
          saCore.listNamespacedSecret({ namespace }).then(
            (list) => list.items.map((s) => s.metadata?.name),
            (err: unknown) => (err instanceof ApiException ? err.code : err),
          ),
        { timeout: 10_000, interval: 200 },
      )
      .toContain('rbac-probe')
  })
})
