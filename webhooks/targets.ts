import type { ProviderId, WebhookChannel } from '../controller/api/index.ts'

/** Enough of a resource to patch it and to record events on it. */
export interface TargetRef {
  /** `group/version`. */
  apiVersion: string
  kind: string
  /** Resource plural, for the API path. */
  plural: string
  namespace: string
  name: string
  uid?: string
}

/** The resource a webhook path belongs to, as the webhook server needs it. */
export interface WebhookTarget extends TargetRef {
  provider: ProviderId
  /** The path it was found under (`/hooks/<provider>/<token>`). */
  path: string
  /** `status.webhook.url`, if the controller published one. */
  url?: string
  /** `spec.suspend`: deliveries are refused with 503 while true. */
  suspended: boolean
  /** The `WebhookReady` condition is True. Deliveries are refused with 503 otherwise. */
  ready: boolean
  /** Google Calendar: ids of the push channels the resource opened. */
  channelIds: readonly string[]
  /** Google Calendar: the push channels the resource opened, with resource id and expiry when known. */
  channels: readonly WebhookChannel[]
  /**
   * The provider's webhook secrets by logical name (`authToken`, `signingSecret`, ...; see
   * `WEBHOOK_KINDS` in controller/api). A key the Secret lacks is absent. Cached by the resolver: call it per request.
   * A resolver that hands out the same promise while its value is fresh lets a route use the value
   * without waiting once that promise has settled (see `withSecret`).
   */
  secrets(): Promise<Readonly<Record<string, string>>>
}

/** Maps a webhook path to its resource. `resolve` is called on every request: keep it a lookup. */
export interface TargetResolver {
  resolve(path: string): WebhookTarget | undefined
  /** True once the resolver knows every resource it will know (caches synced). */
  ready(): boolean
}

export function keyOfTarget(t: { namespace: string; name: string; kind: string }): string {
  return `${t.kind}/${t.namespace}/${t.name}`
}

/** An in-memory resolver: tests, benchmarks, and a server run without Kubernetes. */
export class MemoryTargetResolver implements TargetResolver {
  readonly #byPath = new Map<string, WebhookTarget>()
  /** How many times `secrets()` was called (tests check caching above it). */
  secretReads = 0

  constructor(targets: Iterable<MemoryTargetInput> = []) {
    for (const t of targets) this.set(t)
  }

  /** Adds or replaces the target for `input.path`; returns it. */
  set(input: MemoryTargetInput): WebhookTarget {
    // one settled promise, handed out again on every call, as a resolver's cache does
    const secrets = Promise.resolve(Object.freeze({ ...input.secrets }))
    const target: WebhookTarget = {
      apiVersion: input.apiVersion ?? 'switchboard.dev/v1alpha1',
      kind: input.kind ?? 'WebhookTarget',
      plural: input.plural ?? 'webhooktargets',
      namespace: input.namespace ?? 'default',
      name: input.name,
      uid: input.uid ?? `uid-${input.name}`,
      provider: input.provider,
      path: input.path,
      url: input.url,
      suspended: input.suspended ?? false,
      ready: input.ready ?? true,
      channelIds: input.channels?.map((c) => c.id) ?? input.channelIds ?? [],
      channels: input.channels ?? (input.channelIds ?? []).map((id) => ({ id })),
      secrets: () => {
        this.secretReads++
        return secrets
      },
    }
    this.#byPath.set(input.path, target)
    return target
  }

  delete(path: string): void {
    this.#byPath.delete(path)
  }

  resolve(path: string): WebhookTarget | undefined {
    return this.#byPath.get(path)
  }

  ready(): boolean {
    return true
  }
}

export interface MemoryTargetInput {
  path: string
  provider: ProviderId
  name: string
  namespace?: string
  kind?: string
  plural?: string
  apiVersion?: string
  uid?: string
  url?: string
  suspended?: boolean
  ready?: boolean
  channelIds?: string[]
  /** Channels with resource id and expiry (wins over `channelIds`). */
  channels?: WebhookChannel[]
  secrets: Record<string, string>
}
