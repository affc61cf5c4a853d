import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  allKinds,
  DestinationKind,
  destinationSpec,
  exactlyOneDestinationMessage,
} from '../../controller/api/index.ts'
import { crdName, installCrds } from '../../crds/index.ts'

const run = promisify(execFile)

const kubeconfigPath = inject('kubeconfigPath')
const kc = new KubeConfig()
kc.loadFromFile(kubeconfigPath)
const core = kc.makeApiClient(CoreV1Api)
const custom = kc.makeApiClient(CustomObjectsApi)
const extensions = kc.makeApiClient(ApiextensionsV1Api)

const group = DestinationKind.group
const version = DestinationKind.version
const plural = DestinationKind.plural
const namespace = `crds-${randomBytes(3).toString('hex')}`

/** Creates a Destination the way `kubectl apply` would: unknown fields are errors, not dropped. */
function createDestination(name: string, spec: Record<string, unknown>) {
  return custom.createNamespacedCustomObject({
    group,
    version,
    namespace,
    plural,
    fieldValidation: 'Strict',
    body: { apiVersion: `${group}/${version}`, kind: 'Destination', metadata: { name, namespace }, spec },
  }) as Promise<{ spec: Record<string, unknown>; metadata: { name: string } }>
}

/** The API server's answer to a request that must fail: its HTTP code and Status message. */
async function rejection(request: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await request
  } catch (error) {
    if (!(error instanceof ApiException)) throw error
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body)
    let message = body
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body
    } catch {
      // not JSON: keep the raw body
    }
    return { code: error.code, message }
  }
  throw new Error('the API server accepted an object it should have rejected')
}

function kubectl(...args: string[]) {
  return run('kubectl', [...args, '--kubeconfig', kubeconfigPath], { timeout: 30_000 })
}

beforeAll(async () => {
  await installCrds(kc)
  await core.createNamespace({ body: { metadata: { name: namespace } } })
})

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined)
})

describe('generated CRDs on a real API server', () => {
  it('install is idempotent and leaves the CRD Established', async () => {
    const names = await installCrds(kc)
    expect(names).toEqual(allKinds.map((k) => crdName(k)))
    const crd = await extensions.readCustomResourceDefinition({ name: crdName(DestinationKind) })
    const established = crd.status?.conditions?.find((c) => c.type === 'Established')
    expect(established?.status).toBe('True')
    expect(crd.spec.names.shortNames).toEqual(['dest', 'sbdest'])
    expect(crd.spec.names.categories).toEqual(['switchboard', 'integrations'])
  })

  it('accepts a valid Destination and applies the defaults', async () => {
    const spec = {
      credentialsSecretRef: { name: 'hook-secret' },
      http: { url: 'https://hooks.example.com/in' },
    }
    const created = await createDestination('valid-http', spec)
    expect(created.spec).toEqual({
      credentialsSecretRef: { name: 'hook-secret' },
      interval: '10m',
      suspend: false,
      http: {
        url: 'https://hooks.example.com/in',
        signatureHeader: 'X-Switchboard-Signature',
        batchSize: 100,
        maxRetries: 3,
        timeout: '10s',
      },
    })
    // One source of truth: zod fills in exactly what the API server filled in.
    expect(destinationSpec.parse(spec)).toEqual(created.spec)

    const segment = await createDestination('valid-segment', {
      credentialsSecretRef: { name: 'segment-secret' },
      segment: {},
    })
    expect(segment.spec.segment).toEqual({
      host: 'https://api.segment.io',
      path: '/v1/batch',
      maxRetries: 3,
      timeout: '10s',
    })
  })

  it('rejects a URL that is not http or https, naming the field', async () => {
    const { code, message } = await rejection(
      createDestination('bad-url', {
        credentialsSecretRef: { name: 's' },
        http: { url: 'ftp://files.example.com' },
      }),
    )
    expect(code).toBe(422)
    expect(message).toContain('spec.http.url')
    expect(message).toMatch(/should match/)
  })

  it('rejects an out-of-range value, naming the field', async () => {
    const { code, message } = await rejection(
      createDestination('bad-batch', {
        credentialsSecretRef: { name: 's' },
        http: { url: 'https://a.example.com', batchSize: 10_000 },
      }),
    )
    expect(code).toBe(422)
    expect(message).toContain('spec.http.batchSize')
  })

  it('rejects a Destination without credentialsSecretRef', async () => {
    const { code, message } = await rejection(createDestination('no-secret', { segment: {} }))
    expect(code).toBe(422)
    expect(message).toContain('spec.credentialsSecretRef: Required value')
  })

  it('rejects both segment and http set (CEL rule)', async () => {
    const { code, message } = await rejection(
      createDestination('both', {
        credentialsSecretRef: { name: 's' },
        segment: {},
        http: { url: 'https://a.example.com' },
      }),
    )
    expect(code).toBe(422)
    expect(message).toContain(exactlyOneDestinationMessage)
    const neither = await rejection(createDestination('neither', { credentialsSecretRef: { name: 's' } }))
    expect(neither.message).toContain(exactlyOneDestinationMessage)
  })

  it('rejects an unknown field under fieldValidation=Strict', async () => {
    const { message } = await rejection(
      createDestination('unknown-field', {
        credentialsSecretRef: { name: 's', namespace: 'elsewhere' },
        http: { url: 'https://a.example.com' },
      }),
    )
    expect(message).toContain('unknown field "spec.credentialsSecretRef.namespace"')
  })

  it('rejects a status with a value outside its enum', async () => {
    await createDestination('status-enum', { credentialsSecretRef: { name: 's' }, segment: {} })
    const { code, message } = await rejection(
      custom.patchNamespacedCustomObjectStatus({
        group,
        version,
        namespace,
        plural,
        name: 'status-enum',
        body: [{ op: 'add', path: '/status', value: { type: 'kafka' } }],
      }),
    )
    expect(code).toBe(422)
    expect(message).toContain('status.type')
    expect(message).toContain('supported values: "segment", "http"')
  })

  it('teaches the API through kubectl explain', async () => {
    const { stdout } = await kubectl('explain', 'destinations.spec.http')
    expect(stdout).toContain('HMAC-SHA256')
    expect(stdout).toMatch(/batchSize\s+<integer>/)
    expect(stdout).toContain('Largest number of records sent in one request. Defaults to 100.')
    expect(stdout).toMatch(/url\s+<string>\s+-required-/)
    const ref = await kubectl('explain', 'destinations.spec.credentialsSecretRef')
    expect(ref.stdout).toContain('same namespace')
  })

  it('shows the printer columns and answers to short names and categories', async () => {
    const { stdout } = await kubectl('get', 'sbdest', '-n', namespace)
    expect(stdout.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+READY\s+REASON\s+LAST SYNC\s+AGE$/)
    expect(stdout).toContain('valid-http')
    const byCategory = await kubectl('get', 'integrations', '-n', namespace, '-o', 'name')
    expect(byCategory.stdout).toContain('destination.switchboard.dev/valid-segment')
  })
})
