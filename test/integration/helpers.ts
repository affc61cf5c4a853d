import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { Writable } from 'node:stream'
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node'
import { inject } from 'vitest'
import { createLogger, type Logger } from '../../connectors/index.ts'
import { allKinds, findCondition } from '../../controller/index.ts'
import { mergePatch } from '../../controller/runtime/index.ts'

export const GROUP = 'switchboard.dev'
export const VERSION = 'v1alpha1'

export function testKubeConfig(): KubeConfig {
  const kc = new KubeConfig()
  kc.loadFromFile(inject('kubeconfigPath'))
  return kc
}

export interface Clients {
  kc: KubeConfig
  core: CoreV1Api
  custom: CustomObjectsApi
}

export function clients(): Clients {
  const kc = testKubeConfig()
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) }
}

/** Creates a namespace with a unique name; each test works in its own. */
export async function createNamespace(core: CoreV1Api, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`
  await core.createNamespace({ body: { metadata: { name } } })
  return name
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000)
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`,
      )
    }
    await sleep(opts.intervalMs ?? 100)
  }
}

/**
 * `count` distinct loopback ports the OS has just handed out (all held at once, then released),
 * for a child process told which port to bind: a random pick could be in use.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((res, rej) => {
          const srv = createServer()
          srv.once('error', rej)
          srv.listen(0, '127.0.0.1', () => res(srv))
        }),
    ),
  )
  const ports = servers.map((s) => {
    const addr = s.address()
    return addr && typeof addr === 'object' ? addr.port : 0
  })
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface Obj {
  metadata: {
    name: string
    namespace: string
    resourceVersion: string
    generation: number
    finalizers?: string[]
  }
  spec: Record<string, unknown>
  status?: {
    observedGeneration?: number
    conditions?: Array<{
      type: string
      status: string
      reason: string
      message: string
      lastTransitionTime: string
    }>
    lastHandledRequestAt?: string
    [k: string]: unknown
  }
}

export async function getObj(
  custom: CustomObjectsApi,
  plural: string,
  namespace: string,
  name: string,
): Promise<Obj> {
  return (await custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural,
    namespace,
    name,
  })) as Obj
}

export function condition(obj: Obj, type: string) {
  return findCondition(obj.status?.conditions as never, type)
}

/** Waits until the object's condition has the status (and reason, if given) for its current generation. */
export async function waitForCondition(
  c: Clients,
  plural: string,
  namespace: string,
  name: string,
  type: string,
  status: string,
  reason?: string,
  timeoutMs = 20_000,
): Promise<Obj> {
  return waitFor(
    `${plural} ${namespace}/${name} ${type}=${status}${reason ? ` (${reason})` : ''}`,
    async () => {
      const obj = await getObj(c.custom, plural, namespace, name)
      const cond = condition(obj, type)
      return cond?.status === status &&
        (reason === undefined || cond.reason === reason) &&
        obj.status?.observedGeneration === obj.metadata.generation
        ? obj
        : undefined
    },
    { timeoutMs },
  )
}

export async function createSecret(
  core: CoreV1Api,
  namespace: string,
  name: string,
  data: Record<string, string>,
) {
  await core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace }, stringData: data } })
}

/** A logger whose JSON lines the test can read back (to prove secrets never reach logs). */
export function capturedLogger(level = 'debug'): { logger: Logger; text: () => string } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk))
      cb()
    },
  })
  return { logger: createLogger({ level, destination: stream }), text: () => chunks.join('') }
}

export async function eventsFor(core: CoreV1Api, namespace: string, name: string) {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })
  return list.items
}

/** Creates a Switchboard object of `kind` (its plural comes from the kind table). */
export async function createResource(
  c: Pick<Clients, 'custom'>,
  kind: string,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  const def = allKinds.find((k) => k.kind === kind)
  if (!def) throw new Error(`unknown kind ${kind}`)
  await c.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: def.plural,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name, namespace }, spec },
  })
}

/** Sets annotations on a Switchboard object (a merge patch, as `kubectl annotate --overwrite` does). */
export async function annotate(
  c: Pick<Clients, 'custom'>,
  plural: string,
  namespace: string,
  name: string,
  annotations: Record<string, string>,
): Promise<void> {
  await c.custom.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural, name, body: { metadata: { annotations } } },
    mergePatch,
  )
}
