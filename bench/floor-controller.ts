/**
 * The floor of the "controller started over existing objects" bench: the least work any controller
 * must do for N Destinations that already exist, in a process of its own as the controller is.
 * It lists the Destinations (paged), and for each, `--concurrency` at a time, reads its Secret
 * (GET) and writes one status patch (Ready=True), all over one shared keep-alive connection pool,
 * as Switchboard's controller does.
 *
 *   node bench/floor-controller.ts --kubeconfig PATH --namespace NS [--concurrency 4]
 */
import { parseArgs } from 'node:util'
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node'
import { mergePatch, withSharedConnections } from '../controller/runtime/index.ts'

const GROUP = 'switchboard.dev'
const VERSION = 'v1alpha1'

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
  },
})
if (!values.kubeconfig || !values.namespace) {
  process.stderr.write(
    'usage: node bench/floor-controller.ts --kubeconfig PATH --namespace NS [--concurrency 4]\n',
  )
  process.exit(2)
}
const loaded = new KubeConfig()
loaded.loadFromFile(values.kubeconfig)
const kc = withSharedConnections(loaded)
const core = kc.makeApiClient(CoreV1Api)
const custom = kc.makeApiClient(CustomObjectsApi)
const namespace = values.namespace

interface Item {
  metadata: { name: string; generation?: number }
  spec: { credentialsSecretRef: { name: string } }
}
const items: Item[] = []
let cont: string | undefined
do {
  const page = (await custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: 'destinations',
    namespace,
    limit: 500,
    ...(cont ? { _continue: cont } : {}),
  })) as { items: Item[]; metadata?: { _continue?: string; continue?: string } }
  items.push(...page.items)
  cont = page.metadata?._continue || page.metadata?.continue || undefined
} while (cont)

let next = 0
const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
await Promise.all(
  Array.from({ length: Number(values.concurrency) }, async () => {
    while (next < items.length) {
      const item = items[next++] as Item
      await core.readNamespacedSecret({ name: item.spec.credentialsSecretRef.name, namespace })
      await custom.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: 'destinations',
          namespace,
          name: item.metadata.name,
          body: {
            status: {
              observedGeneration: item.metadata.generation ?? 1,
              conditions: [
                {
                  type: 'Ready',
                  status: 'True',
                  reason: 'Succeeded',
                  message: 'ok',
                  observedGeneration: item.metadata.generation ?? 1,
                  lastTransitionTime: now,
                },
              ],
            },
          },
        },
        mergePatch,
      )
    }
  }),
)
process.stdout.write(`${items.length}\n`)
