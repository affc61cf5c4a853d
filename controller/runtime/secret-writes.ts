/**
 * The controller's only way to write a Secret. A Secret the controller may write carries the label
 * `switchboard.dev/controller-writable: "true"` (the user opts in by adding it; Secrets the
 * controller creates get it); anything else is refused here, before any request, with a message
 * naming the label. Writes are replaces with optimistic concurrency: a Secret that changed since
 * the caller read it is a `SecretConflictError`, and the caller reads it again and decides.
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node'
import { Reason, StallingError, TransientError } from '../../connectors/index.ts'
import { apiStatus, describeApiError } from './kube.ts'

export const WRITABLE_LABEL = 'switchboard.dev/controller-writable'

/** The Secret changed since it was read (HTTP 409, or another resourceVersion). */
export class SecretConflictError extends Error {
  constructor(namespace: string, name: string) {
    super(`Secret "${name}" in namespace "${namespace}" changed since it was read`)
    this.name = 'SecretConflictError'
  }
}

export function isWritable(secret: V1Secret | undefined): boolean {
  return secret?.metadata?.labels?.[WRITABLE_LABEL] === 'true'
}

export interface SecretKeyWrite {
  namespace: string
  name: string
  /** The resourceVersion the caller read; the write fails with a conflict if it changed. */
  resourceVersion: string
  /** Keys to set (plain text; encoded here). */
  set: Record<string, string>
  remove?: string[]
}

export async function writeSecretKeys(core: CoreV1Api, w: SecretKeyWrite): Promise<V1Secret> {
  let current: V1Secret
  try {
    current = await core.readNamespacedSecret({ namespace: w.namespace, name: w.name })
  } catch (err) {
    throw new TransientError(
      Reason.ProviderUnavailable,
      `reading Secret "${w.name}" before writing it failed: ${describeApiError(err)}`,
    )
  }
  if (!isWritable(current)) {
    throw new StallingError(
      Reason.SecretNotWritable,
      `Secret "${w.name}" must be written by the controller (rotated tokens) but lacks the label ${WRITABLE_LABEL}: "true"; add it (kubectl label secret ${w.name} ${WRITABLE_LABEL}=true)`,
      { field: 'spec.credentialsSecretRef.name' },
    )
  }
  if (current.metadata?.resourceVersion !== w.resourceVersion)
    throw new SecretConflictError(w.namespace, w.name)
  const data: Record<string, string> = { ...(current.data ?? {}) }
  for (const [k, v] of Object.entries(w.set)) data[k] = Buffer.from(v, 'utf8').toString('base64')
  for (const k of w.remove ?? []) delete data[k]
  try {
    return await core.replaceNamespacedSecret({
      namespace: w.namespace,
      name: w.name,
      body: { ...current, data, metadata: { ...current.metadata, resourceVersion: w.resourceVersion } },
    })
  } catch (err) {
    if (apiStatus(err) === 409) throw new SecretConflictError(w.namespace, w.name)
    throw new TransientError(
      Reason.ProviderUnavailable,
      `writing Secret "${w.name}" failed: ${describeApiError(err)}`,
    )
  }
}

export async function createWritableSecret(core: CoreV1Api, body: V1Secret): Promise<V1Secret> {
  const labels = { ...(body.metadata?.labels ?? {}), [WRITABLE_LABEL]: 'true' }
  const namespace = body.metadata?.namespace ?? ''
  return core.createNamespacedSecret({ namespace, body: { ...body, metadata: { ...body.metadata, labels } } })
}
