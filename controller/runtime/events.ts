import type { CoreV1Api } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { sanitizeMessage } from '../../connectors/index.ts'
import { mergePatch } from './kube.ts'

export interface InvolvedObject {
  apiVersion: string
  kind: string
  namespace: string
  name: string
  uid?: string
  resourceVersion?: string
}

export type EventType = 'Normal' | 'Warning'

/**
 * Records Kubernetes Events (core/v1, so `kubectl describe` shows them). A repeat of the same
 * event for the same object within the aggregation window bumps the existing event's count
 * instead of creating a new one, so a failing resource cannot flood the namespace.
 */
export class EventRecorder {
  readonly #core: CoreV1Api
  readonly #component: string
  readonly #instance: string
  readonly #log: Logger
  readonly #windowMs: number
  readonly #recent = new Map<string, { name: string; count: number; first: Date; at: number }>()

  constructor(opts: {
    core: CoreV1Api
    component: string
    instance: string
    logger: Logger
    windowMs?: number
  }) {
    this.#core = opts.core
    this.#component = opts.component
    this.#instance = opts.instance
    this.#log = opts.logger
    this.#windowMs = opts.windowMs ?? 10 * 60_000
  }

  /** Fire and forget: an event that cannot be written is logged, never fails a reconcile. */
  record(
    obj: InvolvedObject,
    type: EventType,
    reason: string,
    message: string,
    secrets: Iterable<string> = [],
  ): void {
    void this.#record(obj, type, reason, sanitizeMessage(message, secrets)).catch((err: unknown) => {
      this.#log.warn(
        {
          err: err instanceof Error ? err.message : String(err),
          reason,
          object: `${obj.namespace}/${obj.name}`,
        },
        'could not record event',
      )
    })
  }

  async #record(obj: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const key = `${obj.uid ?? `${obj.namespace}/${obj.name}`}|${type}|${reason}|${message}`
    const now = new Date()
    this.#prune(now.getTime())
    const seen = this.#recent.get(key)
    if (seen && now.getTime() - seen.at < this.#windowMs) {
      seen.count += 1
      seen.at = now.getTime()
      try {
        await this.#core.patchNamespacedEvent(
          {
            name: seen.name,
            namespace: obj.namespace,
            body: { count: seen.count, lastTimestamp: now },
          },
          mergePatch,
        )
        return
      } catch {
        this.#recent.delete(key)
      }
    }
    const created = await this.#core.createNamespacedEvent({
      namespace: obj.namespace,
      body: {
        metadata: { generateName: `${obj.name}.`, namespace: obj.namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.name,
          namespace: obj.namespace,
          ...(obj.uid ? { uid: obj.uid } : {}),
          ...(obj.resourceVersion ? { resourceVersion: obj.resourceVersion } : {}),
        },
        type,
        reason,
        message,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: this.#component },
        reportingComponent: this.#component,
        reportingInstance: this.#instance,
      },
    })
    if (created.metadata?.name)
      this.#recent.set(key, { name: created.metadata.name, count: 1, first: now, at: now.getTime() })
  }

  #prune(now: number): void {
    if (this.#recent.size < 1000) return
    for (const [k, v] of this.#recent) if (now - v.at >= this.#windowMs) this.#recent.delete(k)
  }
}
