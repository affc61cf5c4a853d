/**
 * The one way the controller writes Secrets. It may write only a Secret that carries the opt-in
 * label `switchboard.dev/controller-writable: "true"`: a user adds it to a Secret whose keys the
 * controller must keep current (a rotated OAuth refresh token), and the controller adds it to the
 * Secrets it creates (a campaign's progress records). The chart's ValidatingAdmissionPolicy
 * (`templates/secret-writes-policy.yaml`) refuses the controller's ServiceAccount every Secret
 * create or update without the label, before and after the change, so neither a bug here nor a
 * stolen controller token can rewrite the cluster's other Secrets or take the label off one. The
 * checks below say the same thing earlier, with a message that names the fix.
 *
 * Writes carry the resourceVersion the caller read: two writers that read the same version cannot
 * both win, and the loser re-reads and decides (a token another replica
 * already rotated must not be overwritten with an older one).
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node'
import { Reason, StallingError, TransientError } from '../../connectors/index.ts'
import { apiStatus, describeApiError, isConflict, jsonPatch } from './kube.ts'

export const WRITABLE_LABEL = 'switchboard.dev/controller-writable'

export function isWritable(secret: Pick<V1Secret, 'metadata'> | undefined): boolean {
  return secret?.metadata?.labels?.[WRITABLE_LABEL] === 'true'
}

/** Another writer changed the Secret since it was read: re-read it, then decide again. */
export class SecretConflictError extends TransientError {
  constructor(namespace: string, name: string) {
    super(
      Reason.Internal,
      `Secret "${name}" in namespace "${namespace}" changed while it was being updated; it is read again`,
    )
  }
}

function notWritable(namespace: string, name: string): StallingError {
  return new StallingError(
    Reason.SecretNotWritable,
    `Secret "${name}" in namespace "${namespace}" may not be written by Switchboard: add the label ${WRITABLE_LABEL}=true to it`,
    { field: `metadata.labels.${WRITABLE_LABEL}` },
  )
}

export interface SecretKeyWrite {
  namespace: string
  name: string
  /** The resourceVersion the caller read; the write fails with a conflict if it moved on. */
  resourceVersion: string
  /** Keys to set, as plain text (encoded here). */
  set?: Record<string, string>
  /** Keys to remove (a key the Secret does not have is skipped when `read` is given). */
  remove?: string[]
  /** The Secret as the caller read it: checked for the label before anything is sent. */
  read?: V1Secret
}

const pointer = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1')

/**
 * Sets and removes keys of an opted-in Secret, only if it is still at `resourceVersion` and
 * still carries the label: one JSON patch that tests the label, states the resourceVersion as a
 * precondition and changes the keys, so the check and the write are one step at the API server.
 */
export async function writeSecretKeys(core: CoreV1Api, w: SecretKeyWrite): Promise<V1Secret> {
  if (w.read && !isWritable(w.read)) throw notWritable(w.namespace, w.name)
  const ops: object[] = [
    { op: 'test', path: `/metadata/labels/${pointer(WRITABLE_LABEL)}`, value: 'true' },
    { op: 'replace', path: '/metadata/resourceVersion', value: w.resourceVersion },
  ]
  if (w.read && !w.read.data && Object.keys(w.set ?? {}).length > 0)
    ops.push({ op: 'add', path: '/data', value: {} })
  for (const [k, v] of Object.entries(w.set ?? {})) {
    ops.push({ op: 'add', path: `/data/${pointer(k)}`, value: Buffer.from(v, 'utf8').toString('base64') })
  }
  for (const k of w.remove ?? []) {
    if (w.read && w.read.data?.[k] === undefined) continue
    ops.push({ op: 'remove', path: `/data/${pointer(k)}` })
  }
  try {
    return await core.patchNamespacedSecret({ namespace: w.namespace, name: w.name, body: ops }, jsonPatch)
  } catch (err) {
    // 422: the label test failed (the Secret lost its label, or never had it)
    if (apiStatus(err) === 422) throw notWritable(w.namespace, w.name)
    throw writeError(err, w.namespace, w.name)
  }
}

/** Creates a Secret labelled writable (its owner references and type are the caller's). */
export async function createWritableSecret(core: CoreV1Api, body: V1Secret): Promise<V1Secret> {
  const namespace = body.metadata?.namespace ?? ''
  const name = body.metadata?.name ?? ''
  const labelled: V1Secret = {
    ...body,
    metadata: { ...body.metadata, labels: { ...body.metadata?.labels, [WRITABLE_LABEL]: 'true' } },
  }
  try {
    return await core.createNamespacedSecret({ namespace, body: labelled })
  } catch (err) {
    throw writeError(err, namespace, name)
  }
}

function writeError(err: unknown, namespace: string, name: string): Error {
  if (isConflict(err)) return new SecretConflictError(namespace, name)
  // the admission policy's denial (or RBAC's) on a Secret without the label
  if (apiStatus(err) === 403 && /controller-writable/.test(describeApiError(err))) {
    return notWritable(namespace, name)
  }
  return new TransientError(
    Reason.Internal,
    `writing Secret "${name}" in namespace "${namespace}" failed: ${describeApiError(err)}`,
  )
}
