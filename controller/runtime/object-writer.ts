import type { Logger } from 'pino'
import type { CommonStatus, KindInfo, SwitchboardObject } from './definition.ts'
import { FINALIZER } from './definition.ts'
import type { EventRecorder, EventType } from './events.ts'
import { describeApiError, isNotFound, type KubeClients, mergePatch } from './kube.ts'
import { mergePatchDiff } from './merge-patch.ts'

/**
 * What the runtime writes to the API server about an object of one kind: its status (only what
 * changed), its finalizer, and events.
 */
export class ObjectWriter {
  readonly #kind: KindInfo
  readonly #clients: KubeClients
  readonly #events: EventRecorder

  constructor(kind: KindInfo, clients: KubeClients, events: EventRecorder) {
    this.#kind = kind
    this.#clients = clients
    this.#events = events
  }

  /** Merge-patches the difference between two statuses; nothing when they are equal. */
  async writeStatus(
    obj: SwitchboardObject,
    before: CommonStatus,
    after: CommonStatus,
    log: Logger,
  ): Promise<void> {
    const diff = mergePatchDiff(before, after)
    if (diff === undefined) return
    try {
      await this.#clients.custom.patchNamespacedCustomObjectStatus(
        { ...this.#target(obj), body: { status: diff } },
        mergePatch,
      )
    } catch (err) {
      if (isNotFound(err)) return
      log.warn({ err: describeApiError(err) }, 'status update failed')
      throw err
    }
  }

  /** Adds the finalizer; false when the object is gone. */
  async addFinalizer(obj: SwitchboardObject): Promise<boolean> {
    const finalizers = [...(obj.metadata.finalizers ?? []), FINALIZER]
    try {
      const updated = (await this.#clients.custom.patchNamespacedCustomObject(
        {
          ...this.#target(obj),
          body: { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } },
        },
        mergePatch,
      )) as SwitchboardObject
      obj.metadata.finalizers = finalizers
      obj.metadata.resourceVersion = updated.metadata.resourceVersion
      return true
    } catch (err) {
      if (isNotFound(err)) return false
      throw err
    }
  }

  async removeFinalizer(obj: SwitchboardObject): Promise<void> {
    const finalizers = (obj.metadata.finalizers ?? []).filter((f) => f !== FINALIZER)
    try {
      await this.#clients.custom.patchNamespacedCustomObject(
        {
          ...this.#target(obj),
          body: { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } },
        },
        mergePatch,
      )
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }

  /** Records an event on the object, with secret values scrubbed from the message. */
  event(
    obj: SwitchboardObject,
    type: EventType,
    reason: string,
    message: string,
    secrets: Iterable<string>,
  ): void {
    this.#events.record(
      {
        apiVersion: `${this.#kind.group}/${this.#kind.version}`,
        kind: this.#kind.kind,
        namespace: obj.metadata.namespace,
        name: obj.metadata.name,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      type,
      reason,
      message,
      secrets,
    )
  }

  #target(obj: SwitchboardObject) {
    return {
      group: this.#kind.group,
      version: this.#kind.version,
      plural: this.#kind.plural,
      namespace: obj.metadata.namespace,
      name: obj.metadata.name,
    }
  }
}
