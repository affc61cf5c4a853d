/**
 * The webhook bridge: what the webhook server of the same pod may ask the controller, over a
 * Unix socket in a volume only the two containers share, so that the container facing the
 * internet needs no Kubernetes credentials at all:
 *
 * - `GET /v1/targets`: the routing table, the objects of the webhook kinds that the controller
 *   has cached, reduced to what routing needs (their webhook status, `WebhookReady`, suspend and
 *   the provider field); no Secret, no spec beyond that;
 * - `GET /v1/secrets?kind=&namespace=&name=`: the webhook secrets of one object that has a webhook
 *   path, and only the keys its provider declares (never an API credential); 404 for an object
 *   without a path, so no other Secret can be read through the bridge;
 * - `GET /v1/published`: the objects whose status the webhook server publishes (the CalendarSync
 *   feeds and free/busy documents), as cached; they name Secrets but hold no Secret data;
 * - `POST /v1/annotate`: a reconcile request, `{kind, namespace, name, annotations}`, limited to
 *   the requested-at and requested-streams annotations of an object with a webhook path;
 * - `POST /v1/callbacks`: callback-only data (Twilio delivery statuses, Twitch stream
 *   notifications), `{kind, namespace, name, entries}`, merged into the one status field the kind
 *   declares for it (`callbackStatusField`) of an object with a webhook path; entries are bounded
 *   in number, keys and size, and hold scalars only.
 *
 * What the controller knows comes through {@link WebhookBridgeSource}, so the cache behind it can
 * change without touching the bridge.
 */
import { chmodSync, rmSync } from 'node:fs'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import {
  fieldAt,
  parseWebhookPath,
  REQUESTED_STREAMS_ANNOTATION,
  readWebhookSecrets,
  requestedAtAnnotation,
  secretNameOf,
  WEBHOOK_KINDS,
  WEBHOOK_READY,
  type WebhookKind,
} from '../api/index.ts'

/** What the bridge reads and writes; the controller's caches and client behind it. */
export interface WebhookBridgeSource {
  /** The cached objects of a kind (by kind name), or undefined when the controller does not watch it. */
  objects(kind: string): readonly unknown[] | undefined
  /** A Secret's `data` (base64 values, as the API returns them), or undefined when it is absent. */
  secretData(namespace: string, name: string): Promise<Readonly<Record<string, string>> | undefined>
  /** Merge-patches `status` (a part of it) onto an object's status subresource. */
  patchStatus(
    ref: { group: string; version: string; plural: string; namespace: string; name: string },
    status: Readonly<Record<string, unknown>>,
  ): Promise<void>
  /** Merge-patches annotations onto an object. */
  annotate(
    ref: { group: string; version: string; plural: string; namespace: string; name: string },
    annotations: Readonly<Record<string, string>>,
  ): Promise<void>
}

export interface WebhookBridgeOptions {
  source: WebhookBridgeSource
  logger: Logger
  /** The kind table. Default {@link WEBHOOK_KINDS}. */
  kinds?: readonly WebhookKind[]
  /** Kinds served whole on `/v1/published`. Default `CalendarSync`. */
  publishedKinds?: readonly string[]
}

const ALLOWED_ANNOTATIONS: ReadonlySet<string> = new Set([
  requestedAtAnnotation,
  REQUESTED_STREAMS_ANNOTATION,
])

export function buildWebhookBridge(opts: WebhookBridgeOptions): FastifyInstance {
  const kinds = opts.kinds ?? WEBHOOK_KINDS
  const log = opts.logger.child({ unit: 'webhook-bridge' })
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 })

  /** The object, if it is of a webhook kind, cached, and has a valid path for its kind. */
  const routed = (kindName: unknown, namespace: unknown, name: unknown) => {
    const kind = kinds.find((k) => k.kind === kindName)
    if (!kind || typeof namespace !== 'string' || typeof name !== 'string') return undefined
    const obj = opts.source
      .objects(kind.kind)
      ?.find((o) => fieldAt(o, 'metadata.namespace') === namespace && fieldAt(o, 'metadata.name') === name)
    const path = fieldAt(obj, 'status.webhook.path')
    const parsed = typeof path === 'string' ? parseWebhookPath(path) : undefined
    const keys = parsed ? kind.providers[parsed.provider] : undefined
    if (!obj || !parsed || !keys) return undefined
    if (kind.providerField && fieldAt(obj, kind.providerField) !== parsed.provider) return undefined
    return { kind, obj, keys, namespace, name }
  }

  app.get('/v1/targets', async () => {
    const items: unknown[] = []
    for (const kind of kinds) {
      for (const obj of opts.source.objects(kind.kind) ?? []) {
        const webhook = fieldAt(obj, 'status.webhook')
        if (!webhook) continue
        const conditions = fieldAt(obj, 'status.conditions')
        // the condition's status alone: its message may name a Secret or a key, which the
        // container facing the internet has no need to know
        const ready = Array.isArray(conditions)
          ? conditions
              .filter((c) => fieldAt(c, 'type') === WEBHOOK_READY)
              .map((c) => ({ type: WEBHOOK_READY, status: fieldAt(c, 'status') }))
          : []
        const spec: Record<string, unknown> = { suspend: fieldAt(obj, 'spec.suspend') === true }
        if (kind.providerField?.startsWith('spec.')) {
          spec[kind.providerField.slice(5)] = fieldAt(obj, kind.providerField)
        }
        items.push({
          kind: kind.kind,
          metadata: {
            name: fieldAt(obj, 'metadata.name'),
            namespace: fieldAt(obj, 'metadata.namespace'),
            uid: fieldAt(obj, 'metadata.uid'),
          },
          spec,
          status: { webhook, conditions: ready },
        })
      }
    }
    return { items }
  })

  app.get('/v1/published', async () => {
    const items: unknown[] = []
    for (const kind of opts.publishedKinds ?? ['CalendarSync']) {
      for (const obj of opts.source.objects(kind) ?? []) {
        const { metadata, ...rest } = obj as { metadata?: Record<string, unknown> }
        const { managedFields: _managed, ...meta } = metadata ?? {}
        items.push({ kind, ...rest, metadata: meta })
      }
    }
    return { items }
  })

  app.get('/v1/secrets', async (request, reply) => {
    const q = request.query as Record<string, unknown>
    const found = routed(q.kind, q.namespace, q.name)
    if (!found) return reply.code(404).send({ error: 'no webhook path' })
    const secretName = secretNameOf(found.kind, found.obj)
    const data = secretName ? await opts.source.secretData(found.namespace, secretName) : undefined
    return { secrets: readWebhookSecrets(data, found.keys, 'base64') }
  })

  app.post('/v1/annotate', async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>
    const found = routed(b.kind, b.namespace, b.name)
    const annotations = b.annotations
    if (!found) return reply.code(404).send({ error: 'no webhook path' })
    if (
      annotations === null ||
      typeof annotations !== 'object' ||
      Object.entries(annotations).some(
        ([k, v]) => !ALLOWED_ANNOTATIONS.has(k) || typeof v !== 'string' || v.length > 1024,
      )
    ) {
      return reply.code(400).send({ error: 'only the reconcile request annotations' })
    }
    await opts.source.annotate(
      {
        group: found.kind.group,
        version: found.kind.version,
        plural: found.kind.plural,
        namespace: found.namespace,
        name: found.name,
      },
      annotations as Record<string, string>,
    )
    return reply.code(204).send()
  })

  app.post('/v1/callbacks', { bodyLimit: MAX_CALLBACK_BODY }, async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>
    const found = routed(b.kind, b.namespace, b.name)
    if (!found) return reply.code(404).send({ error: 'no webhook path' })
    const field = found.kind.callbackStatusField
    if (!field) return reply.code(404).send({ error: 'no callback data for this kind' })
    const entries = callbackEntries(b.entries)
    if (!entries) return reply.code(400).send({ error: 'entries must be bounded objects of scalars' })
    await opts.source.patchStatus(
      {
        group: found.kind.group,
        version: found.kind.version,
        plural: found.kind.plural,
        namespace: found.namespace,
        name: found.name,
      },
      nest(field, entries),
    )
    return reply.code(204).send()
  })

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    log.warn({ err: err.message }, 'webhook bridge request failed')
    return reply.code(err.statusCode && err.statusCode < 500 ? err.statusCode : 500).send({ error: 'failed' })
  })
  return app
}

/** Listens on a Unix socket readable by the pod's containers only (mode 0660), replacing a stale one. */
export async function listenWebhookBridge(app: FastifyInstance, socketPath: string): Promise<void> {
  rmSync(socketPath, { force: true })
  await app.listen({ path: socketPath })
  chmodSync(socketPath, 0o660)
}

/** Largest `/v1/callbacks` body (500 entries of a few scalars fit well inside it). */
const MAX_CALLBACK_BODY = 512 * 1024
const MAX_CALLBACK_ENTRIES = 500
const MAX_ENTRY_FIELDS = 16
const MAX_SCALAR_LENGTH = 256
/** The keys the webhook server writes entries under (provider ids of messages, subscriptions). */
const ENTRY_KEY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/

type Scalar = string | number | boolean | null

/** The entries of a callbacks request, or undefined when anything in it is out of bounds. */
export function callbackEntries(raw: unknown): Record<string, Record<string, Scalar>> | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined
  const list = Object.entries(raw as Record<string, unknown>)
  if (list.length === 0 || list.length > MAX_CALLBACK_ENTRIES) return undefined
  const out: Record<string, Record<string, Scalar>> = {}
  for (const [key, value] of list) {
    if (!ENTRY_KEY.test(key) || value === null || typeof value !== 'object' || Array.isArray(value))
      return undefined
    const fields = Object.entries(value as Record<string, unknown>)
    if (fields.length === 0 || fields.length > MAX_ENTRY_FIELDS) return undefined
    const entry: Record<string, Scalar> = {}
    for (const [name, v] of fields) {
      if (!FIELD_NAME.test(name)) return undefined
      const ok =
        v === null ||
        typeof v === 'boolean' ||
        (typeof v === 'number' && Number.isFinite(v)) ||
        (typeof v === 'string' && v.length <= MAX_SCALAR_LENGTH)
      if (!ok) return undefined
      entry[name] = v as Scalar
    }
    out[key] = entry
  }
  return out
}

/** `nest('a.b', v)` → `{ a: { b: v } }`. */
function nest(path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.').filter(Boolean)
  let out: unknown = value
  for (let i = parts.length - 1; i >= 0; i--) out = { [parts[i] as string]: out }
  return out as Record<string, unknown>
}
