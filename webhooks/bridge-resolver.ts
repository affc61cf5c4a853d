/**
 * The webhook server without Kubernetes credentials: routing, webhook secrets and reconcile
 * requests come from the controller of the same pod over the webhook bridge's Unix socket
 * (controller/bridge). The routing table is fetched again every `refreshMs`; secrets are fetched
 * per resource on demand and kept for `secretTtlMs`.
 */
import { request } from 'node:http'
import type { Logger } from 'pino'
import {
  type ProviderSecretKeys,
  REQUESTED_STREAMS_ANNOTATION,
  requestedAtAnnotation,
  WEBHOOK_KINDS,
  type WebhookKind,
} from '../controller/api/index.ts'
import { webhookTargetOf } from './kube-resolver.ts'
import type { RequestPatcher } from './reconcile.ts'
import type { TargetResolver, WebhookTarget } from './targets.ts'

/**
 * Where the bridge is: the path of its Unix socket (the sidecar layout), or its URL on the
 * pod network with the bearer token both sides read from a Secret mounted into them alone.
 */
export type BridgeEndpoint = string | { url: string; token: string | (() => string) }

/** One JSON request to the bridge. */
export function bridgeCall(
  endpoint: BridgeEndpoint,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs = 5_000,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string | number> = payload
      ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
      : {}
    let where: { socketPath: string } | { host: string; port: number }
    if (typeof endpoint === 'string') {
      where = { socketPath: endpoint }
    } else {
      const u = new URL(endpoint.url)
      where = { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 80) }
      headers.authorization = `Bearer ${typeof endpoint.token === 'function' ? endpoint.token() : endpoint.token}`
    }
    const req = request(
      {
        ...where,
        method,
        path,
        headers,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          try {
            json = text ? JSON.parse(text) : undefined
          } catch {
            json = undefined
          }
          resolve({ status: res.statusCode ?? 0, json })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('webhook bridge timed out')))
    req.on('error', reject)
    req.end(payload)
  })
}

export interface BridgeTargetResolverOptions {
  endpoint: BridgeEndpoint
  logger: Logger
  kinds?: readonly WebhookKind[]
  /** How often the routing table is fetched again. Default 1 s. */
  refreshMs?: number
  /** How long a resource's webhook secrets are used before they are fetched again. Default 10 s. */
  secretTtlMs?: number
}

export class BridgeTargetResolver implements TargetResolver {
  readonly #opts: BridgeTargetResolverOptions
  readonly #log: Logger
  readonly #kinds: readonly WebhookKind[]
  #byPath = new Map<string, WebhookTarget>()
  /** `kind/namespace/name` → object, of the kinds whose status the public routes serve. */
  #published = new Map<string, unknown>()
  readonly #secrets = new Map<string, { at: number; value: Promise<Record<string, string>> }>()
  #timer: NodeJS.Timeout | undefined
  #loaded = false

  constructor(opts: BridgeTargetResolverOptions) {
    this.#opts = opts
    this.#log = opts.logger.child({ unit: 'bridge-resolver' })
    this.#kinds = opts.kinds ?? WEBHOOK_KINDS
  }

  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) =>
      this.#log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'webhook bridge not reachable yet',
      ),
    )
    this.#timer = setInterval(() => {
      void this.refresh().catch((err: unknown) =>
        this.#log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'could not refresh routing',
        ),
      )
    }, this.#opts.refreshMs ?? 1_000)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
  }

  ready(): boolean {
    return this.#loaded
  }

  resolve(path: string): WebhookTarget | undefined {
    return this.#byPath.get(path)
  }

  /** A published object (CalendarSync), as of the last refresh. */
  object(kind: string, namespace: string, name: string): unknown {
    return this.#published.get(`${kind}/${namespace}/${name}`)
  }

  /** Fetches the routing table once. */
  async refresh(): Promise<void> {
    const res = await bridgeCall(this.#opts.endpoint, 'GET', '/v1/targets')
    const items = (res.json as { items?: unknown[] } | undefined)?.items
    if (res.status !== 200 || !Array.isArray(items)) throw new Error(`webhook bridge answered ${res.status}`)
    const next = new Map<string, WebhookTarget>()
    const claimed = new Map<string, number>()
    for (const item of items) {
      const kind = this.#kinds.find((k) => k.kind === (item as { kind?: unknown }).kind)
      if (!kind) continue
      const target = webhookTargetOf(
        kind,
        item,
        (_secretName, keys) => this.#readSecrets(kind, item, keys),
        true,
      )
      if (!target) continue
      claimed.set(target.path, (claimed.get(target.path) ?? 0) + 1)
      next.set(target.path, target)
    }
    // a path claimed twice routes nowhere, as with the Kubernetes resolver
    for (const [path, n] of claimed) if (n > 1) next.delete(path)
    const pub = await bridgeCall(this.#opts.endpoint, 'GET', '/v1/published')
    const pubItems = (pub.json as { items?: unknown[] } | undefined)?.items
    if (pub.status === 200 && Array.isArray(pubItems)) {
      const published = new Map<string, unknown>()
      for (const o of pubItems) {
        const m = o as { kind?: string; metadata?: { namespace?: string; name?: string } }
        published.set(`${m.kind}/${m.metadata?.namespace}/${m.metadata?.name}`, o)
      }
      this.#published = published
    }
    this.#byPath = next
    this.#loaded = true
  }

  #readSecrets(kind: WebhookKind, item: unknown, _keys: ProviderSecretKeys): Promise<Record<string, string>> {
    const meta = (item as { metadata?: { namespace?: string; name?: string } }).metadata ?? {}
    const key = `${kind.kind}/${meta.namespace}/${meta.name}`
    const now = Date.now()
    const hit = this.#secrets.get(key)
    if (hit && now - hit.at < (this.#opts.secretTtlMs ?? 10_000)) return hit.value
    const q = new URLSearchParams({ kind: kind.kind, namespace: meta.namespace ?? '', name: meta.name ?? '' })
    const value = bridgeCall(this.#opts.endpoint, 'GET', `/v1/secrets?${q}`).then(
      (res) => (res.json as { secrets?: Record<string, string> } | undefined)?.secrets ?? {},
      () => ({}),
    )
    this.#secrets.set(key, { at: now, value })
    if (this.#secrets.size > 1000) {
      const oldest = this.#secrets.keys().next().value
      if (oldest !== undefined) this.#secrets.delete(oldest)
    }
    return value
  }
}

/** Reconcile requests through the bridge: the controller writes the annotation. */
export function bridgePatcher(endpoint: BridgeEndpoint): RequestPatcher {
  return async (target, requestedAt, streams) => {
    const res = await bridgeCall(endpoint, 'POST', '/v1/annotate', {
      kind: target.kind,
      namespace: target.namespace,
      name: target.name,
      annotations:
        streams === undefined
          ? { [requestedAtAnnotation]: requestedAt }
          : { [REQUESTED_STREAMS_ANNOTATION]: streams },
    })
    // 404: the object is gone, or has no webhook path any more
    if (res.status === 404) throw Object.assign(new Error('no such webhook target'), { code: 404 })
    if (res.status !== 204) throw new Error(`webhook bridge answered ${res.status}`)
  }
}
