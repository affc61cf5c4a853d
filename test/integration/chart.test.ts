/**
 * The Helm chart with the real tools: `helm lint --strict` and `helm template` for the default
 * values and the other shapes (separate webhook Deployment, watchNamespaces, monitoring,
 * Ingress, NetworkPolicy), each rendering applied to the real API server with a server-side dry
 * run; the RBAC it renders is then bound to service accounts and the controller and the webhook
 * server run with exactly those rights.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1Secret } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import YAML from 'yaml'
import {
  buildWebhookBridge,
  createOperator,
  listenWebhookBridgeTcp,
  managerBridgeSource,
} from '../../controller/index.ts'
import {
  createWritableSecret,
  describeApiError,
  mergePatch,
  SecretConflictError,
  WRITABLE_LABEL,
  writeSecretKeys,
} from '../../controller/runtime/index.ts'
import { crdObjects, crdsDir, installCrds } from '../../crds/index.ts'
import { BridgeTargetResolver, bridgeCall, KubernetesTargetResolver } from '../../webhooks/index.ts'
import {
  apply,
  dryRunApply,
  find,
  type K8sObject,
  lint,
  one,
  ROOT,
  render,
  renderText,
} from '../ship/chart.ts'
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

interface Container {
  name: string
  args?: string[]
  env?: Array<{ name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>
  ports?: Array<{ name: string; containerPort: number }>
  livenessProbe?: { httpGet?: { path: string; port: string } }
  readinessProbe?: { httpGet?: { path: string; port: string } }
  securityContext?: Record<string, unknown>
  volumeMounts?: Array<{ name: string; mountPath: string }>
}
interface PodSpec {
  serviceAccountName: string
  securityContext: Record<string, unknown>
  containers: Container[]
  volumes: Array<{ name: string; emptyDir?: unknown }>
  topologySpreadConstraints?: Array<{ labelSelector?: { matchLabels: Record<string, string> } }>
}
interface Rule {
  apiGroups: string[]
  resources: string[]
  verbs: string[]
  resourceNames?: string[]
}
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const podSpec = (d: K8sObject) => (d.spec as { template: { spec: PodSpec } }).template.spec
const rules = (r: K8sObject) => (r as unknown as { rules: Rule[] }).rules
const verbsOn = (r: K8sObject, resource: string) =>
  rules(r)
    .filter((x) => x.resources.includes(resource))
    .flatMap((x) => x.verbs)
    .sort()

const SHAPES: Record<string, Record<string, unknown>> = {
  default: {},
  separateWebhooks: { webhooks: { separateDeployment: true, replicaCount: 3 }, replicaCount: 2 },
  watchNamespaces: { watchNamespaces: ['team-a', 'team-b'] },
  monitoring: {
    monitoring: {
      serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
      prometheusRule: { enabled: true },
      grafanaDashboard: { enabled: true, annotations: { grafana_folder: 'Switchboard' } },
    },
  },
  ingress: {
    webhooks: {
      ingress: {
        enabled: true,
        className: 'nginx',
        host: 'hooks.example.com',
        annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
      },
    },
    networkPolicy: { enabled: true },
  },
  noWebhooks: {
    webhooks: { enabled: false },
    rbac: { aggregateClusterRoles: false },
    podDisruptionBudget: { enabled: false },
    networkPolicy: { enabled: true },
  },
  sharded: { sharding: { shards: ['a', 'b'] }, webhooks: { separateDeployment: true } },
  everything: {
    replicaCount: 2,
    watchNamespaces: ['team-a'],
    webhooks: { separateDeployment: true, ingress: { enabled: true, host: 'hooks.example.com' } },
    networkPolicy: { enabled: true },
    monitoring: {
      serviceMonitor: { enabled: true },
      prometheusRule: { enabled: true },
      grafanaDashboard: { enabled: true },
    },
    crds: { keep: false },
  },
}

describe('Helm chart', () => {
  let c: Clients
  let kubeconfig: string
  let ns: string

  beforeAll(async () => {
    c = clients()
    kubeconfig = inject('kubeconfigPath')
    await installCrds(c.kc)
    // what the dry runs need: the monitoring kinds, the release and watched namespaces
    apply(kubeconfig, readFileSync(join(ROOT, 'test/ship/monitoring-crds.yaml'), 'utf8'))
    await waitFor('the monitoring CRDs to be served', async () => {
      const r = await c.custom
        .listClusterCustomObject({ group: 'monitoring.coreos.com', version: 'v1', plural: 'prometheusrules' })
        .catch(() => undefined)
      return r !== undefined
    })
    ns = await createNamespace(c.core, 'chart')
    for (const watched of ['team-a', 'team-b']) {
      await c.core.createNamespace({ body: { metadata: { name: watched } } }).catch(() => undefined)
    }
  })

  describe.each(Object.entries(SHAPES))('%s values', (_name, values) => {
    it('passes helm lint --strict', () => {
      const r = lint(values)
      expect(r.output).toContain('0 chart(s) failed')
      expect(r.code).toBe(0)
    })

    it('renders manifests the API server accepts (server-side dry run)', () => {
      const text = renderText(values, { namespace: ns })
      const r = dryRunApply(kubeconfig, text)
      expect(r.output).not.toMatch(/error|invalid|forbidden/i)
      expect(r.code).toBe(0)
      expect(r.output).toMatch(/deployment\.apps\/\S+ serverside-applied \(server dry run\)/)
    })

    it('runs every container restricted, read-only, with /tmp (and the bridge socket) the only writable paths', () => {
      const objs = render(values)
      // the webhook server of its own Deployment asks the controller over TCP with a token
      const tcpBridge = find(objs, 'Secret').some((s) => s.metadata.name === 'sb-switchboard-bridge')
      for (const d of find(objs, 'Deployment')) {
        const pod = podSpec(d)
        const sidecar = pod.containers.length === 2
        const shard = d.metadata.name.includes('-shard-')
        const withToken = tcpBridge && !shard
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        })
        const tmp = { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }
        const bridge = { name: 'bridge', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }
        const token = {
          name: 'bridge-token',
          secret: {
            secretName: 'sb-switchboard-bridge',
            // `0444` in the chart: octal to the API server (YAML 1.1), decimal to this parser
            defaultMode: 444,
            items: [{ key: 'token', path: 'token' }],
          },
        }
        expect(pod.volumes?.filter((v) => v.name !== 'kube-api-access')).toEqual(
          sidecar ? [tmp, bridge] : withToken ? [tmp, token] : [tmp],
        )
        for (const ct of pod.containers) {
          expect(ct.securityContext).toEqual({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            privileged: false,
            capabilities: { drop: ['ALL'] },
          })
          const mounts = [{ name: 'tmp', mountPath: '/tmp' }]
          if (sidecar && ct.name === 'controller') {
            mounts.push({
              name: 'kube-api-access',
              mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
              readOnly: true,
            } as never)
          }
          if (sidecar) mounts.push({ name: 'bridge', mountPath: '/var/run/switchboard' })
          if (withToken) {
            mounts.push({
              name: 'bridge-token',
              mountPath: '/var/run/switchboard-bridge',
              readOnly: true,
            } as never)
          }
          expect(ct.volumeMounts).toEqual(mounts)
          expect(ct.livenessProbe?.httpGet?.path).toBe('/healthz')
          expect(ct.readinessProbe?.httpGet?.path).toBe('/readyz')
          expect(ct.env?.map((e) => `${e.name}=${e.valueFrom?.fieldRef?.fieldPath}`)).toEqual([
            'POD_NAMESPACE=metadata.namespace',
            'POD_NAME=metadata.name',
          ])
        }
        for (const t of pod.topologySpreadConstraints ?? []) {
          expect(t.labelSelector?.matchLabels['app.kubernetes.io/component']).toBeDefined()
        }
      }
    })

    it('grants no wildcard; Secret writes to the controller only, under the admission policy', () => {
      const objs = render(values)
      const policies = find(objs, 'ValidatingAdmissionPolicy')
      for (const role of [...find(objs, 'ClusterRole'), ...find(objs, 'Role')]) {
        for (const rule of rules(role)) {
          expect(rule.verbs, role.metadata.name).not.toContain('*')
          expect(rule.resources, role.metadata.name).not.toContain('*')
          expect(rule.apiGroups, role.metadata.name).not.toContain('*')
        }
        if (/-(controller|webhooks)$/.test(role.metadata.name)) {
          const secretVerbs = verbsOn(role, 'secrets')
          const writes = role.metadata.name.endsWith('-controller') ? ['create', 'patch', 'update'] : []
          expect(
            secretVerbs.every((v) => ['get', 'list', 'watch', ...writes].includes(v)),
            role.metadata.name,
          ).toBe(true)
          expect(secretVerbs, role.metadata.name).not.toContain('delete')
          if (secretVerbs.some((v) => writes.includes(v))) {
            // a write verb comes only with the policy that limits it to the labelled Secrets
            expect(policies.map((p) => p.metadata.name)).toEqual([
              role.metadata.name.replace(/-controller$/, '-secret-writes'),
            ])
          }
          expect(verbsOn(role, 'destinations')).not.toContain('delete')
          expect(verbsOn(role, 'destinations')).not.toContain('create')
        }
      }
    })
  })

  it('the default: one Deployment with both containers, leader election always on, ClusterRoles', () => {
    const objs = render()
    const deploy = one(objs, 'Deployment', 'sb-switchboard')
    const pod = podSpec(deploy)
    expect(pod.containers.map((x) => x.name)).toEqual(['controller', 'webhooks'])
    const [controller, webhooks] = pod.containers as [Container, Container]
    expect(controller.args).toEqual(
      expect.arrayContaining([
        'controller',
        '--leader-elect',
        '--metrics-bind-address=0.0.0.0:8080',
        '--leader-election-namespace=switchboard-system',
        '--leader-election-id=sb-switchboard-controller',
      ]),
    )
    expect(webhooks.args).toEqual(expect.arrayContaining(['webhooks', '--bind-address=0.0.0.0:9443']))
    expect(webhooks.args?.some((a) => a.startsWith('--public-url'))).toBe(false)
    expect(controller.args?.some((a) => a.startsWith('--public-url'))).toBe(false)
    expect(controller.args?.some((a) => a.startsWith('--namespaces'))).toBe(false)

    const controllerRole = one(objs, 'ClusterRole', 'sb-switchboard-controller')
    expect(verbsOn(controllerRole, 'secrets')).toEqual(['create', 'get', 'list', 'patch', 'update', 'watch'])
    expect(verbsOn(controllerRole, 'destinations')).toEqual(['get', 'list', 'patch', 'update', 'watch'])
    expect(verbsOn(controllerRole, 'casinointegrations/status')).toEqual(['get', 'patch', 'update'])
    expect(verbsOn(controllerRole, 'destinations/finalizers')).toEqual(['update'])
    expect(verbsOn(controllerRole, 'events')).toEqual(['create', 'patch'])
    // the webhook sidecar holds no token, so it has no role of its own
    expect(find(objs, 'ClusterRole').map((r) => r.metadata.name)).not.toContain('sb-switchboard-webhooks')
    // nor as its own Deployment (it asks over TCP); only a sharded install's keeps one
    const webhooksRole = one(render(SHAPES.sharded), 'ClusterRole', 'sb-switchboard-webhooks')
    expect(verbsOn(webhooksRole, 'secrets')).toEqual(['get'])
    expect(verbsOn(webhooksRole, 'casinointegrations')).toEqual(['get', 'list', 'patch', 'watch'])
    // bound to the pod's one account
    for (const b of find(objs, 'ClusterRoleBinding')) {
      expect((b as unknown as { subjects: Array<{ name: string }> }).subjects[0]?.name).toBe('sb-switchboard')
    }
    const lease = one(objs, 'Role', 'sb-switchboard-leader-election')
    expect(rules(lease)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: ['sb-switchboard-controller'],
        verbs: ['get', 'update'],
      },
    ])
    expect(one(objs, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1 })
    expect(find(objs, 'Ingress')).toEqual([])
    expect(find(objs, 'NetworkPolicy')).toEqual([])
    expect(find(objs, 'ServiceMonitor')).toEqual([])
  })

  it('takes the kinds for RBAC from the CRDs it ships, which are the generated ones', () => {
    const objs = render()
    const crds = find(objs, 'CustomResourceDefinition')
    // what crds/ holds (crds/generate.test.ts keeps that in step with the schemas)
    const generated = crdObjects().map(
      (g) => YAML.parse(readFileSync(join(crdsDir, `${g.metadata.name}.yaml`), 'utf8')) as typeof g,
    )
    expect(crds.map((x) => x.metadata.name).sort()).toEqual(generated.map((x) => x.metadata.name).sort())
    for (const crd of crds) {
      const source = generated.find((g) => g.metadata.name === crd.metadata.name)
      // the same CRD, plus the release's labels and the keep policy
      expect({ ...crd, metadata: { name: crd.metadata.name } }).toEqual({
        ...source,
        metadata: { name: source?.metadata.name },
      })
      expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' })
      expect(crd.metadata.labels).toMatchObject({
        'app.kubernetes.io/part-of': 'switchboard',
        'app.kubernetes.io/instance': 'sb',
      })
    }
    const plurals = generated.map((g) => g.spec.names.plural).sort()
    expect(rules(one(objs, 'ClusterRole', 'sb-switchboard-viewer'))[0]?.resources).toEqual(plurals)

    expect(find(render({ crds: { install: false } }), 'CustomResourceDefinition')).toEqual([])
    for (const crd of find(render({ crds: { keep: false } }), 'CustomResourceDefinition')) {
      expect(crd.metadata.annotations).toBeUndefined()
    }
  })

  it('aggregates admin, editor and viewer roles; only admin reaches Secrets', () => {
    const objs = render()
    const admin = one(objs, 'ClusterRole', 'sb-switchboard-admin')
    const editor = one(objs, 'ClusterRole', 'sb-switchboard-editor')
    const viewer = one(objs, 'ClusterRole', 'sb-switchboard-viewer')
    expect(admin.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-admin']).toBe('true')
    expect(editor.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-edit']).toBe('true')
    expect(viewer.metadata.labels?.['rbac.authorization.k8s.io/aggregate-to-view']).toBe('true')
    expect(verbsOn(admin, 'secrets')).toContain('get')
    expect(verbsOn(editor, 'secrets')).toEqual([])
    expect(verbsOn(viewer, 'secrets')).toEqual([])
    expect(verbsOn(editor, 'destinations')).toEqual(expect.arrayContaining(['create', 'delete', 'patch']))
    expect(verbsOn(viewer, 'destinations')).toEqual(['get', 'list', 'watch'])
    expect(verbsOn(viewer, 'destinations/status')).toEqual(['get'])
    expect(
      find(render({ rbac: { aggregateClusterRoles: false } }), 'ClusterRole').map((r) => r.metadata.name),
    ).toEqual(['sb-switchboard-controller'])
  })

  it('sharding: one controller Deployment per shard with --shard and its own selector; the main one takes the unlabelled objects', () => {
    const objs = render(SHAPES.sharded)
    const deployments = find(objs, 'Deployment').map((d) => d.metadata.name)
    expect(deployments).toEqual([
      'sb-switchboard',
      'sb-switchboard-shard-a',
      'sb-switchboard-shard-b',
      'sb-switchboard-webhooks',
    ])
    const argsOf = (name: string) => podSpec(one(objs, 'Deployment', name)).containers[0]?.args ?? []
    expect(argsOf('sb-switchboard')).toContain('--default-shard')
    expect(argsOf('sb-switchboard').some((a) => a.startsWith('--shard='))).toBe(false)
    expect(argsOf('sb-switchboard-shard-a')).toContain('--shard=a')
    expect(argsOf('sb-switchboard-shard-b')).toContain('--shard=b')
    for (const name of ['sb-switchboard-shard-a', 'sb-switchboard-shard-b']) {
      const d = one(objs, 'Deployment', name) as unknown as {
        spec: {
          selector: { matchLabels: Record<string, string> }
          template: { metadata: { labels: Record<string, string> } }
        }
      }
      const shard = name.slice(-1)
      expect(d.spec.selector.matchLabels['switchboard.dev/shard']).toBe(shard)
      expect(d.spec.template.metadata.labels['switchboard.dev/shard']).toBe(shard)
      // controller pods all the same: metrics, NetworkPolicy and the PDB see them
      expect(d.spec.template.metadata.labels['app.kubernetes.io/component']).toBe('controller')
      expect(podSpec(one(objs, 'Deployment', name)).containers.map((x) => x.name)).toEqual(['controller'])
    }
    // unsharded, nothing changes: no shard flags at all
    const plain =
      podSpec(one(render(SHAPES.default), 'Deployment', 'sb-switchboard')).containers[0]?.args ?? []
    expect(plain.some((a) => a.includes('shard'))).toBe(false)
    // the sidecar would only know its own shard's objects: refused with the reason
    expect(() => render({ sharding: { shards: ['a'] } })).toThrow(
      /sharding.shards needs webhooks.separateDeployment=true/,
    )
  })

  it('separateDeployment with the Ingress serves /connect: the Ingress reaches the webhook pods, which ask the controller over TCP, both with the public URL', () => {
    const objs = render(SHAPES.everything)
    const ing = one(objs, 'Ingress').spec as {
      rules: Array<{
        http: {
          paths: Array<{ path: string; backend: { service: { name: string; port: { name: string } } } }>
        }
      }>
    }
    const paths = ing.rules[0]?.http.paths ?? []
    expect(paths.map((p) => `${p.path} ${p.backend.service.name}:${p.backend.service.port.name}`)).toEqual([
      '/hooks sb-switchboard-webhooks:http',
      '/connect sb-switchboard-webhooks:http',
    ])
    // the Service behind both paths selects the webhook Deployment's pods, not the controller's
    const svc = one(objs, 'Service', 'sb-switchboard-webhooks').spec as {
      selector: Record<string, string>
      ports: Array<{ name: string; targetPort: string }>
    }
    const webhooks = one(objs, 'Deployment', 'sb-switchboard-webhooks')
    const labels = (webhooks.spec as { template: { metadata: { labels: Record<string, string> } } }).template
      .metadata.labels
    expect(svc.selector['app.kubernetes.io/component']).toBe('webhooks')
    for (const [k, v] of Object.entries(svc.selector)) expect(labels[k], k).toBe(v)
    const [wh] = podSpec(webhooks).containers as [Container]
    expect(wh.ports?.map((p) => p.name)).toContain(svc.ports[0]?.targetPort)
    // the connect routes are served only with the bridge (the OAuth client secret stays with the controller)
    expect(wh.args).toContain('--controller-url=http://sb-switchboard-bridge.switchboard-system.svc:9444')
    expect(wh.args?.some((a) => a.startsWith('--kubeconfig'))).toBe(false)
    // the link the controller publishes and the callback URL the webhook server shows share the base
    const [ctl] = podSpec(one(objs, 'Deployment', 'sb-switchboard')).containers as [Container]
    expect(wh.args).toContain('--public-url=https://hooks.example.com')
    expect(ctl.args).toContain('--public-url=https://hooks.example.com')
    // behind the chart's Ingress the client address is the one it forwards; the connect limit is on
    expect(wh.args).toContain('--trust-proxy=1')
    expect(wh.args).toContain('--connect-rate-limit=30/1m')
  })

  it('the connect rate limit and the trusted proxies: defaults, and set', () => {
    const args = (values: Record<string, unknown>, name = 'sb-switchboard') =>
      podSpec(one(render(values), 'Deployment', name)).containers.find((x) => x.name === 'webhooks')?.args ??
      []
    // no Ingress of the chart's: nothing in front is believed
    expect(args({})).toEqual(expect.arrayContaining(['--connect-rate-limit=30/1m', '--trust-proxy=0']))
    expect(args(SHAPES.ingress as Record<string, unknown>)).toContain('--trust-proxy=1')
    const set = args({
      webhooks: {
        connectRateLimit: '0',
        trustProxy: '10.0.0.0/8,fd00::/8',
        ingress: { enabled: true, host: 'hooks.example.com' },
      },
    })
    expect(set).toEqual(
      expect.arrayContaining(['--connect-rate-limit=0', '--trust-proxy=10.0.0.0/8,fd00::/8']),
    )
    expect(
      args({ webhooks: { trustProxy: 2, separateDeployment: true } }, 'sb-switchboard-webhooks'),
    ).toContain('--trust-proxy=2')
    expect(() => render({ webhooks: { connectRateLimit: 'lots' } })).toThrow(/connectRateLimit/)
    expect(() => render({ webhooks: { trustProxy: 'everyone' } })).toThrow(/trustProxy/)
  })

  it('separateDeployment: a webhook Deployment with its own replicas, Service selector and PDB, no token and no role, the bridge over TCP', () => {
    const objs = render(SHAPES.separateWebhooks)
    const controller = one(objs, 'Deployment', 'sb-switchboard')
    const webhooks = one(objs, 'Deployment', 'sb-switchboard-webhooks')
    expect(podSpec(controller).containers.map((x) => x.name)).toEqual(['controller'])
    expect(podSpec(webhooks).containers.map((x) => x.name)).toEqual(['webhooks'])
    expect((webhooks.spec as { replicas: number }).replicas).toBe(3)
    expect((controller.spec as { replicas: number }).replicas).toBe(2)
    expect(podSpec(webhooks).serviceAccountName).toBe('sb-switchboard-webhooks')
    // the internet-facing account has no token and is bound to nothing
    expect(
      (podSpec(webhooks) as PodSpec & { automountServiceAccountToken?: boolean })
        .automountServiceAccountToken,
    ).toBe(false)
    const bound = [...find(objs, 'ClusterRoleBinding'), ...find(objs, 'RoleBinding')].filter((b) =>
      (b as unknown as { subjects: Array<{ name: string }> }).subjects.some(
        (s) => s.name === 'sb-switchboard-webhooks',
      ),
    )
    expect(bound).toEqual([])
    const [wh] = podSpec(webhooks).containers as [Container]
    expect(wh.args).toContain('--controller-url=http://sb-switchboard-bridge.switchboard-system.svc:9444')
    expect(wh.args).toContain('--controller-token-file=/var/run/switchboard-bridge/token')
    const [ctl] = podSpec(controller).containers as [Container]
    expect(ctl.args).toContain('--webhook-bridge-address=0.0.0.0:9444')
    expect(ctl.args).toContain('--webhook-bridge-token-file=/var/run/switchboard-bridge/token')
    expect(ctl.ports?.map((p) => `${p.name}:${p.containerPort}`)).toEqual(['metrics:8080', 'bridge:9444'])
    const bridgeSvc = one(objs, 'Service', 'sb-switchboard-bridge').spec as {
      selector: Record<string, string>
      ports: Array<{ port: number; targetPort: string }>
    }
    expect(bridgeSvc.selector['app.kubernetes.io/component']).toBe('controller')
    expect(bridgeSvc.ports).toMatchObject([{ port: 9444, targetPort: 'bridge' }])
    const token = Buffer.from(
      (one(objs, 'Secret', 'sb-switchboard-bridge') as unknown as { data: { token: string } }).data.token,
      'base64',
    ).toString('utf8')
    expect(token).toMatch(/^[A-Za-z0-9]{48}$/)
    // a Secret of your own instead (GitOps tools render with `helm template`, a new token each time)
    const own = render({
      ...SHAPES.separateWebhooks,
      webhooks: { separateDeployment: true, bridgeTokenSecret: 'mine' },
    })
    expect(find(own, 'Secret').map((s) => s.metadata.name)).not.toContain('sb-switchboard-bridge')
    for (const d of find(own, 'Deployment')) {
      const vol = podSpec(d).volumes.find((v) => v.name === 'bridge-token') as {
        secret?: { secretName: string }
      }
      expect(vol?.secret?.secretName, d.metadata.name).toBe('mine')
    }
    // with a NetworkPolicy, only the webhook pods reach the controller's bridge port
    const np = one(
      render({ ...SHAPES.separateWebhooks, networkPolicy: { enabled: true } }),
      'NetworkPolicy',
      'sb-switchboard',
    ).spec as { ingress: Array<{ from: unknown[]; ports: Array<{ port: string }> }> }
    const toBridge = np.ingress.filter((r) => r.ports.some((p) => p.port === 'bridge'))
    expect(toBridge).toEqual([
      {
        from: [
          {
            podSelector: {
              matchLabels: expect.objectContaining({ 'app.kubernetes.io/component': 'webhooks' }),
            },
          },
        ],
        ports: [{ port: 'bridge', protocol: 'TCP' }],
      },
    ])
    // sharded, the bridge would know one shard's objects only: the webhook server keeps its own
    // account, get on Secrets by name
    const sharded = render(SHAPES.sharded)
    expect(find(sharded, 'Secret').filter((s) => s.metadata.name === 'sb-switchboard-bridge')).toEqual([])
    expect(verbsOn(one(sharded, 'ClusterRole', 'sb-switchboard-webhooks'), 'secrets')).toEqual(['get'])
    const svc = one(objs, 'Service', 'sb-switchboard-webhooks').spec as { selector: Record<string, string> }
    expect(svc.selector['app.kubernetes.io/component']).toBe('webhooks')
    expect(find(objs, 'PodDisruptionBudget').map((p) => p.metadata.name)).toEqual([
      'sb-switchboard',
      'sb-switchboard-webhooks',
    ])
    expect(find(objs, 'ServiceAccount').map((s) => s.metadata.name)).toEqual([
      'sb-switchboard',
      'sb-switchboard-webhooks',
    ])
  })

  it('watchNamespaces: Roles in each watched namespace, no ClusterRole for the processes, --namespaces passed', () => {
    const objs = render(SHAPES.watchNamespaces)
    expect(find(objs, 'ClusterRoleBinding')).toEqual([])
    expect(find(objs, 'ClusterRole').map((r) => r.metadata.name)).toEqual([
      'sb-switchboard-admin',
      'sb-switchboard-editor',
      'sb-switchboard-viewer',
    ])
    const roles = find(objs, 'Role').map((r) => `${r.metadata.namespace}/${r.metadata.name}`)
    expect(roles.sort()).toEqual([
      'switchboard-system/sb-switchboard-leader-election',
      'team-a/sb-switchboard-controller',
      'team-b/sb-switchboard-controller',
    ])
    const [controller, webhooks] = podSpec(one(objs, 'Deployment')).containers as [Container, Container]
    expect(controller.args).toContain('--namespaces=team-a,team-b')
    // the sidecar sees only what the controller (watching those namespaces) hands it
    expect(webhooks.args).toContain('--controller-socket=/var/run/switchboard/bridge.sock')
  })

  it('the sidecar holds no token: only the controller container mounts it; they talk over the bridge socket', () => {
    const pod = podSpec(one(render(), 'Deployment', 'sb-switchboard')) as PodSpec & {
      automountServiceAccountToken?: boolean
    }
    expect(pod.automountServiceAccountToken).toBe(false)
    const [controller, webhooks] = pod.containers as [Container, Container]
    expect(controller.args).toContain('--webhook-bridge-socket=/var/run/switchboard/bridge.sock')
    expect(webhooks.args).toContain('--controller-socket=/var/run/switchboard/bridge.sock')
    const tokenMounts = (ct: Container) =>
      (ct.volumeMounts ?? []).filter((m) => m.mountPath.startsWith('/var/run/secrets'))
    expect(tokenMounts(controller).map((m) => m.name)).toEqual(['kube-api-access'])
    expect(tokenMounts(webhooks)).toEqual([])
    // the separate Deployment holds no token either; it asks over TCP, not the pod's socket
    const separate = render(SHAPES.separateWebhooks)
    const own = podSpec(one(separate, 'Deployment', 'sb-switchboard-webhooks')) as PodSpec & {
      automountServiceAccountToken?: boolean
    }
    expect(own.automountServiceAccountToken).toBe(false)
    expect(own.containers[0]?.args?.some((a) => a.startsWith('--controller-socket'))).toBe(false)
    expect(own.containers[0]?.args?.some((a) => a.startsWith('--controller-url='))).toBe(true)
  })

  it('passes the endpoint allowlist to the controller; loopback only when asked', () => {
    const controllerArgs = (values: Record<string, unknown>) =>
      podSpec(one(render(values), 'Deployment', 'sb-switchboard')).containers.find(
        (x) => x.name === 'controller',
      )?.args ?? []
    const defaults = controllerArgs({})
    expect(defaults.filter((a) => a.startsWith('--allow'))).toEqual([])
    const set = controllerArgs({
      controller: {
        allowedHosts: { softswiss: ['proxy.example.com'], segment: ['cdp.example.com', '*.corp.example'] },
        allowLoopbackEndpoints: true,
      },
    })
    expect(set).toContain(
      '--allowed-hosts=segment=cdp.example.com,*.corp.example;softswiss=proxy.example.com',
    )
    expect(set).toContain('--allow-loopback-endpoints')
  })

  it('the Ingress routes only the webhook path prefix, with TLS, and sets the public URL', () => {
    const objs = render(SHAPES.ingress)
    const ing = one(objs, 'Ingress').spec as {
      ingressClassName: string
      tls: Array<{ hosts: string[]; secretName: string }>
      rules: Array<{ host: string; http: { paths: Array<{ path: string; pathType: string }> } }>
    }
    expect(ing.ingressClassName).toBe('nginx')
    expect(ing.tls).toEqual([{ hosts: ['hooks.example.com'], secretName: 'sb-switchboard-webhooks-tls' }])
    expect(ing.rules[0]?.http.paths.map((p) => `${p.pathType} ${p.path}`)).toEqual([
      'Prefix /hooks',
      'Prefix /connect',
    ])
    const without = one(
      render({ webhooks: { ingress: { enabled: true, host: 'hooks.example.com', connectPathPrefix: '' } } }),
      'Ingress',
    ).spec as typeof ing
    expect(without.rules[0]?.http.paths.map((p) => p.path)).toEqual(['/hooks'])
    for (const ct of podSpec(one(objs, 'Deployment')).containers) {
      // the controller publishes it in status.webhook.url, the webhook server verifies Twilio against it
      expect(ct.args, ct.name).toContain('--public-url=https://hooks.example.com')
    }
    const np = one(objs, 'NetworkPolicy').spec as { ingress: Array<{ ports: Array<{ port: string }> }> }
    expect(np.ingress.map((r) => r.ports.map((p) => p.port).join(','))).toEqual(['metrics,http', 'http'])
  })

  it('the Secret-write policy matches the controller account alone; off, no Secret write is granted', () => {
    const objs = render({}, { namespace: 'ops', release: 'sb' })
    const policy = one(objs, 'ValidatingAdmissionPolicy') as unknown as {
      spec: { matchConditions: Array<{ expression: string }> }
    }
    expect(policy.spec.matchConditions.map((m) => m.expression)).toEqual([
      'request.userInfo.username == "system:serviceaccount:ops:sb-switchboard"',
    ])
    expect(one(objs, 'ValidatingAdmissionPolicyBinding').spec).toMatchObject({
      policyName: 'sb-switchboard-secret-writes',
      validationActions: ['Deny'],
    })
    const off = render({ rbac: { secretWritePolicy: false } })
    expect(find(off, 'ValidatingAdmissionPolicy')).toEqual([])
    for (const role of find(off, 'ClusterRole').filter((r) => r.metadata.name.endsWith('-controller'))) {
      expect(verbsOn(role, 'secrets')).toEqual(['get', 'list', 'watch'])
    }
  })

  it('values.schema.json rejects misspelt and malformed values', () => {
    for (const bad of [
      { controler: { concurrency: 2 } },
      { webhooks: { seperateDeployment: true } },
      { monitoring: { serviceMonitor: { enable: true } } },
      { logLevel: 'verbose' },
      { webhooks: { publicURL: 'hooks.example.com' } },
      { watchNamespaces: ['Not_A_Namespace'] },
      { monitoring: { prometheusRule: { disabledAlerts: ['NoSuchAlert'] } } },
    ]) {
      const r = lint(bad)
      expect(r.code, JSON.stringify(bad)).not.toBe(0)
      expect(r.output).toMatch(
        /values don't meet the specifications of the schema|additional properties|value must be one of|does not match pattern/i,
      )
    }
    expect(() => render({ webhooks: { ingress: { enabled: true } } })).toThrow(
      /webhooks.ingress.host is required/,
    )
  })

  describe('the rendered RBAC is enough for the processes', () => {
    const cleanup: Array<() => Promise<unknown>> = []
    afterAll(async () => {
      for (const f of cleanup.reverse()) await f().catch(() => undefined)
    })

    /** A kubeconfig that authenticates as a service account (a TokenRequest token). */
    async function kubeConfigAs(namespace: string, name: string): Promise<KubeConfig> {
      const token = await c.core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { spec: { expirationSeconds: 3600 } },
      })
      const kc = new KubeConfig()
      const cluster = c.kc.getCurrentCluster()
      if (!cluster) throw new Error('no cluster in the test kubeconfig')
      kc.loadFromOptions({
        clusters: [cluster],
        users: [{ name, token: token.status?.token }],
        contexts: [{ name, cluster: cluster.name, user: name }],
        currentContext: name,
      })
      return kc
    }

    it('the controller writes only Secrets labelled controller-writable, and the webhook server none', async () => {
      const release = `sw${randomBytes(2).toString('hex')}`
      const releaseNs = await createNamespace(c.core, 'chart-sw')
      const objs = render({ webhooks: { separateDeployment: true } }, { namespace: releaseNs, release })
      const keep = objs.filter((o) =>
        [
          'ServiceAccount',
          'ClusterRole',
          'ClusterRoleBinding',
          'ValidatingAdmissionPolicy',
          'ValidatingAdmissionPolicyBinding',
        ].includes(o.kind),
      )
      apply(kubeconfig, keep.map((o) => YAML.stringify(o)).join('---\n'))
      for (const o of keep.filter((x) => x.kind !== 'ServiceAccount')) {
        const [group, plural] = o.kind.startsWith('ValidatingAdmissionPolicy')
          ? [
              'admissionregistration.k8s.io',
              o.kind === 'ValidatingAdmissionPolicy'
                ? 'validatingadmissionpolicies'
                : 'validatingadmissionpolicybindings',
            ]
          : ['rbac.authorization.k8s.io', o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings']
        cleanup.push(() =>
          c.custom.deleteClusterCustomObject({ group, version: 'v1', plural, name: o.metadata.name }),
        )
      }
      const fullname = `${release}-switchboard`
      const core = (await kubeConfigAs(releaseNs, fullname)).makeApiClient(CoreV1Api)
      const webhooksCore = (await kubeConfigAs(releaseNs, `${fullname}-webhooks`)).makeApiClient(CoreV1Api)
      const ns = await createNamespace(c.core, 'chart-sw-work')
      const plain = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'plain', namespace: ns } }
      await createSecret(c.core, ns, 'users', { token: 'user-value-1' })
      await createSecret(c.core, ns, 'tokens', { refreshToken: 'rt-1' })
      await c.core.patchNamespacedSecret(
        { namespace: ns, name: 'tokens', body: { metadata: { labels: { [WRITABLE_LABEL]: 'true' } } } },
        mergePatch,
      )

      // The policy is in force once the API server has loaded it: an unlabelled create is refused.
      await waitFor('the policy to refuse an unlabelled Secret', async () => {
        try {
          await core.createNamespacedSecret({ namespace: ns, body: plain })
          await c.core.deleteNamespacedSecret({ namespace: ns, name: 'plain' })
          return false
        } catch (err) {
          return /controller-writable/.test(describeApiError(err))
        }
      })
      const created = await createWritableSecret(core, {
        metadata: { name: 'made', namespace: ns },
        data: { a: Buffer.from('1').toString('base64') },
      })
      expect(created.metadata?.labels?.[WRITABLE_LABEL]).toBe('true')

      // an opted-in Secret: keys set and removed with the resourceVersion read; a stale one conflicts
      const read = await core.readNamespacedSecret({ namespace: ns, name: 'tokens' })
      const rv = read.metadata?.resourceVersion ?? ''
      const written = await writeSecretKeys(core, {
        namespace: ns,
        name: 'tokens',
        resourceVersion: rv,
        read,
        set: { refreshToken: 'rt-2', accessToken: 'at-2' },
      })
      expect(Buffer.from(written.data?.refreshToken ?? '', 'base64').toString()).toBe('rt-2')
      await expect(
        writeSecretKeys(core, {
          namespace: ns,
          name: 'tokens',
          resourceVersion: rv,
          set: { refreshToken: 'rt-old' },
        }),
      ).rejects.toBeInstanceOf(SecretConflictError)
      const after = await c.core.readNamespacedSecret({ namespace: ns, name: 'tokens' })
      expect(Buffer.from(after.data?.refreshToken ?? '', 'base64').toString()).toBe('rt-2')

      // a user's Secret without the label: refused by the check, and by the policy when bypassed
      const user = await core.readNamespacedSecret({ namespace: ns, name: 'users' })
      const userRv = user.metadata?.resourceVersion ?? ''
      const refused = await writeSecretKeys(core, {
        namespace: ns,
        name: 'users',
        resourceVersion: userRv,
        set: { token: 'overwritten' },
      }).catch((e: unknown) => e)
      expect(refused).toMatchObject({ reason: 'SecretNotWritable' })
      expect(String((refused as Error).message)).toContain(`${WRITABLE_LABEL}=true`)
      await expect(
        core.patchNamespacedSecret(
          {
            namespace: ns,
            name: 'users',
            body: { metadata: { labels: { [WRITABLE_LABEL]: 'true' } }, data: { token: 'eA==' } },
          },
          mergePatch,
        ),
      ).rejects.toThrow(/controller-writable/)
      // nor can it take the label off an opted-in Secret, or delete one
      await expect(
        core.patchNamespacedSecret(
          { namespace: ns, name: 'tokens', body: { metadata: { labels: { [WRITABLE_LABEL]: null } } } },
          mergePatch,
        ),
      ).rejects.toThrow(/controller-writable/)
      await expect(core.deleteNamespacedSecret({ namespace: ns, name: 'tokens' })).rejects.toThrow(
        /forbidden|403/i,
      )
      const untouched = await c.core.readNamespacedSecret({ namespace: ns, name: 'users' })
      expect(Buffer.from(untouched.data?.token ?? '', 'base64').toString()).toBe('user-value-1')

      // the webhook server's identity writes no Secret at all, labelled or not
      await expect(
        createWritableSecret(webhooksCore, { metadata: { name: 'w', namespace: ns } }),
      ).rejects.toThrow(/forbidden|403/i)
    })

    it('the controller reconciles, elects a leader and records events; the webhook account reads nothing and gets routing over the TCP bridge', async () => {
      const release = `rb${randomBytes(2).toString('hex')}`
      const releaseNs = await createNamespace(c.core, 'chart-rbac')
      const objs = render({ webhooks: { separateDeployment: true } }, { namespace: releaseNs, release })
      const keep = objs.filter((o) =>
        ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind),
      )
      apply(kubeconfig, keep.map((o) => YAML.stringify(o)).join('---\n'))
      for (const o of keep.filter((x) => x.kind.startsWith('Cluster'))) {
        const plural = o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'
        cleanup.push(() =>
          c.custom.deleteClusterCustomObject({
            group: 'rbac.authorization.k8s.io',
            version: 'v1',
            plural,
            name: o.metadata.name,
          }),
        )
      }
      const fullname = `${release}-switchboard`
      const controllerKc = await kubeConfigAs(releaseNs, fullname)
      const webhooksKc = await kubeConfigAs(releaseNs, `${fullname}-webhooks`)

      const workNs = await createNamespace(c.core, 'chart-work')
      const { logger, text } = capturedLogger('info')
      const operator = createOperator({
        endpoints: { allowLoopback: true },
        kubeConfig: controllerKc,
        logger,
        leaderElection: { enabled: true, namespace: releaseNs, name: `${fullname}-controller` },
      })
      cleanup.push(() => operator.stop({ timeoutMs: 5_000 }))
      // caches that cannot list (a missing verb) never sync: fail in 30 s rather than at the test timeout
      await within(30_000, operator.start(), 'the controller to sync its caches with the chart RBAC')
      await waitFor('leadership', () => operator.manager.isLeader, { timeoutMs: 30_000 })
      await c.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: workNs,
        plural: 'destinations',
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Destination',
          metadata: { name: 'rbac', namespace: workNs },
          spec: { credentialsSecretRef: { name: 'creds' }, segment: {} },
        },
      })
      // The Secret comes after the Destination: a Warning for the failure, a Normal for the recovery.
      await waitForCondition(c, 'destinations', workNs, 'rbac', 'Ready', 'False')
      await createSecret(c.core, workNs, 'creds', {
        writeKey: 'rbac-write-key-01',
        webhookSecret: 'whs-0123456789',
      })
      const obj = await waitForCondition(c, 'destinations', workNs, 'rbac', 'Ready', 'True')
      // A Destination makes nothing at a provider: no finalizer.
      expect(obj.metadata.finalizers ?? []).toEqual([])
      await waitFor('a failure and a recovery event', async () => {
        const events = await c.core.listNamespacedEvent({ namespace: workNs })
        const reasons = events.items.filter((e) => e.involvedObject.name === 'rbac').map((e) => e.reason)
        return reasons.includes('SecretNotFound') && reasons.includes('Succeeded')
      })
      expect(text()).not.toMatch(/forbidden/i)

      // the webhook server's account, as its own Deployment, is bound to nothing: it can read no
      // Secret, not even one by name, and list nothing
      const forbidden = /forbidden|403/i
      const webhooksCore = webhooksKc.makeApiClient(CoreV1Api)
      await expect(webhooksCore.readNamespacedSecret({ name: 'creds', namespace: workNs })).rejects.toThrow(
        forbidden,
      )
      await expect(webhooksCore.listNamespacedSecret({ namespace: workNs })).rejects.toThrow(forbidden)
      await expect(
        webhooksKc
          .makeApiClient(CustomObjectsApi)
          .listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'casinointegrations' }),
      ).rejects.toThrow(forbidden)
      // what it has instead: the controller's TCP bridge (the controller running under the chart's
      // RBAC), with the token of the rendered Secret
      const token = Buffer.from(
        (one(objs, 'Secret', `${fullname}-bridge`) as unknown as { data: { token: string } }).data.token,
        'base64',
      ).toString('utf8')
      const bridge = buildWebhookBridge({ source: managerBridgeSource(operator.manager), logger, token })
      cleanup.push(() => bridge.close())
      const port = await listenWebhookBridgeTcp(bridge, { host: '127.0.0.1', port: 0 })
      const url = `http://127.0.0.1:${port}`
      for (const wrong of ['', 'x'.repeat(48), `${token}x`, token.slice(1)]) {
        expect((await bridgeCall({ url, token: wrong }, 'GET', '/v1/targets')).status).toBe(401)
      }
      const plain = await fetch(`${url}/v1/targets`)
      expect(plain.status).toBe(401)
      expect((await bridgeCall({ url, token }, 'GET', '/v1/targets')).status).toBe(200)
      // through it, no Secret that no webhook path points to
      const q = new URLSearchParams({ kind: 'Destination', namespace: workNs, name: 'rbac' })
      expect((await bridgeCall({ url, token }, 'GET', `/v1/secrets?${q}`)).status).toBe(404)
      const viaBridge = new BridgeTargetResolver({ endpoint: { url, token }, logger })
      cleanup.push(() => viaBridge.stop())
      await within(30_000, viaBridge.start(), 'the webhook server to load routing over the TCP bridge')
      expect(viaBridge.ready()).toBe(true)
      expect(text()).not.toContain(token)

      // sharded, the webhook server keeps an account of its own: list/watch the kinds, read one
      // Secret by name, nothing more
      const shardedRelease = `${release}s`
      const sharded = render(
        { sharding: { shards: ['a'] }, webhooks: { separateDeployment: true } },
        { namespace: releaseNs, release: shardedRelease },
      ).filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind))
      apply(kubeconfig, sharded.map((o) => YAML.stringify(o)).join('---\n'))
      for (const o of sharded.filter((x) => x.kind.startsWith('Cluster'))) {
        const plural = o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'
        cleanup.push(() =>
          c.custom.deleteClusterCustomObject({
            group: 'rbac.authorization.k8s.io',
            version: 'v1',
            plural,
            name: o.metadata.name,
          }),
        )
      }
      const shardedKc = await kubeConfigAs(releaseNs, `${shardedRelease}-switchboard-webhooks`)
      const resolver = new KubernetesTargetResolver({ kubeConfig: shardedKc, logger, recheckIntervalMs: 0 })
      cleanup.push(() => resolver.stop())
      await within(30_000, resolver.start(), 'the webhook server to sync its caches with the chart RBAC')
      expect(resolver.ready()).toBe(true)
      expect(resolver.watching).toEqual(expect.arrayContaining(['CasinoIntegration.switchboard.dev']))
      const core = shardedKc.makeApiClient(CoreV1Api)
      const secret: V1Secret = await core.readNamespacedSecret({ name: 'creds', namespace: workNs })
      expect(secret.metadata?.name).toBe('creds')
      await expect(core.listNamespacedSecret({ namespace: workNs })).rejects.toThrow(forbidden)
    })
  })
})
