import {
  ApiException,
  ApiextensionsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  loadYaml,
  PatchStrategy,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node'
import { allKinds, type KindDefinition } from '../controller/api/index.ts'
import { type CustomResourceDefinition, crdObjects } from './generate.ts'

/**
 * Installs (or updates) Switchboard's CRDs with server-side apply and waits until the API server
 * serves them. Safe to run again: an unchanged CRD is a no-op. Used by the controller tests,
 * `make install-crds` (`node crds/install.ts`, which reads $KUBECONFIG) and `make demo`.
 */

export interface InstallCrdsOptions {
  /** Kinds to install; all of them by default. */
  kinds?: readonly KindDefinition[]
  /** How long to wait for every CRD to be Established. Default 60 s. */
  timeoutMs?: number
  /** Field manager recorded for server-side apply. Default `switchboard`. */
  fieldManager?: string
  /** How often to check for Established. Default 200 ms. */
  pollIntervalMs?: number
}

/**
 * The client library's typed form of a CRD. Its serializer only knows its own property names
 * (`xKubernetesValidations`, not `x-kubernetes-validations`), so the plain object goes through its
 * own loader, which maps every key.
 */
export function toClientModel(crd: CustomResourceDefinition): V1CustomResourceDefinition {
  return loadYaml<V1CustomResourceDefinition>(JSON.stringify(crd))
}

/** Applies the CRDs and waits until each is Established; returns their names. */
export async function installCrds(
  kubeConfig: KubeConfig,
  options: InstallCrdsOptions = {},
): Promise<string[]> {
  const kinds = options.kinds ?? allKinds
  const timeoutMs = options.timeoutMs ?? 60_000
  const pollIntervalMs = options.pollIntervalMs ?? 200
  const fieldManager = options.fieldManager ?? 'switchboard'
  const deadline = Date.now() + timeoutMs

  const objects = KubernetesObjectApi.makeApiClient(kubeConfig)
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api)
  const crds = crdObjects(kinds)
  for (const crd of crds) {
    try {
      await objects.patch(
        toClientModel(crd),
        undefined,
        undefined,
        fieldManager,
        true,
        PatchStrategy.ServerSideApply,
      )
    } catch (error) {
      throw new Error(`applying CRD ${crd.metadata.name} failed: ${describeError(error)}`, { cause: error })
    }
  }
  const names = crds.map((crd) => crd.metadata.name)
  await Promise.all(names.map((name) => waitEstablished(extensions, name, deadline, pollIntervalMs)))
  return names
}

async function waitEstablished(
  extensions: ApiextensionsV1Api,
  name: string,
  deadline: number,
  pollIntervalMs: number,
): Promise<void> {
  let last = 'not read yet'
  for (;;) {
    const crd = await extensions.readCustomResourceDefinition({ name })
    const conditions = crd.status?.conditions ?? []
    const established = conditions.find((c) => c.type === 'Established')
    const namesAccepted = conditions.find((c) => c.type === 'NamesAccepted')
    if (namesAccepted?.status === 'False') {
      throw new Error(
        `CRD ${name}: names not accepted: ${namesAccepted.message ?? namesAccepted.reason ?? ''}`,
      )
    }
    if (established?.status === 'True') return
    last = established ? `${established.status} (${established.reason ?? ''})` : 'no Established condition'
    if (Date.now() + pollIntervalMs > deadline) {
      throw new Error(`CRD ${name} not Established in time: ${last}`)
    }
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs))
  }
}

function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body)
    try {
      const status = JSON.parse(body) as { message?: string }
      if (status.message) return `HTTP ${error.code}: ${status.message}`
    } catch {
      // not a Status object
    }
    return `HTTP ${error.code}`
  }
  return error instanceof Error ? error.message : String(error)
}

async function main(): Promise<number> {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromDefault()
  const names = await installCrds(kubeConfig)
  for (const name of names) console.log(`customresourcedefinition ${name} established`)
  return 0
}

if (import.meta.main) {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error)
      process.exitCode = 1
    },
  )
}
