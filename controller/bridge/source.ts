/**
 * The {@link WebhookBridgeSource} over the controller's manager: its informers' caches of the
 * kinds, its Secret reader, and its API client for the annotation and status patches. The one place that
 * knows where the controller keeps these.
 */
import { type Manager, mergePatch } from '../runtime/index.ts'
import type { WebhookBridgeSource } from './server.ts'

export function managerBridgeSource(manager: Manager): WebhookBridgeSource {
  return {
    objects(kind) {
      const controller = manager.controllers.find((c) => c.kind.kind === kind)
      return controller ? manager.informer(controller.name)?.list() : undefined
    },
    async secretData(namespace, name) {
      // read on demand through the controller's bounded Secret cache (no cache of every Secret)
      return (await manager.secrets.read(namespace, name))?.data
    },
    async patchStatus(ref, status) {
      await manager.clients.custom.patchNamespacedCustomObjectStatus({ ...ref, body: { status } }, mergePatch)
    },
    async annotate(ref, annotations) {
      await manager.clients.custom.patchNamespacedCustomObject(
        { ...ref, body: { metadata: { annotations } } },
        mergePatch,
      )
    },
  }
}
