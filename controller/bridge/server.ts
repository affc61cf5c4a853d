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
 * - `POST /v1/rejects`: refused deliveries of routed objects, `{items: [{kind, namespace, name,
 *   provider, reason}]}` (at most 100), for the controller to record as Events; the reason is one
 *   of a fixed list and the Event's text is the controller's, and the controller rate-limits them
 *   again, so a webhook container that floods the bridge cannot flood the API server;
 * - `POST /v1/callbacks`: callback-only data (Twilio delivery statuses, Twitch stream
 *   notifications) for objects of a kind that takes it, from the provider of the object's path, `{items: [{kind, namespace, name, event}]}`
 *   (at most 500); answered 503 while the controller's writer holds as much as it may, so the
 *   webhook server keeps them and refuses new callbacks rather than the data being dropped.
 * - `POST /v1/connect/open` `{provider, namespace, name, link}` and `POST /v1/connect/callback`
 *   `{provider, code, state, error}`: a connect link opened and the provider's OAuth callback
 *   (controller/runtime/connect-links.ts), answered with where to send the browser or the outcome
 *   to show; the controller holds the client secret, exchanges the code and writes the tokens.
 *
 * What the controller knows comes through {@link WebhookBridgeSource}, so the cache behind it can
 * change without touching the bridge.
 *
 * Where the webhook server runs as its own Deployment, the bridge listens on TCP instead
 * ({@link listenWebhookBridgeTcp}) and every request must carry `Authorization: Bearer <token>`,
 * the token both read from a Secret mounted into their two containers alone; the webhook
 * server then needs no Kubernetes credentials in that layout either.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { chmodSync, rmSync } from 'node:fs'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import {
  type ConnectHandler,
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
  /** Merge-patches annotations onto an object. */
  annotate(
    ref: { group: string; version: string; plural: string; namespace: string; name: string },
    annotations: Readonly<Record<string, string>>,
  ): Promise<void>
}

/** A routed object, as the sinks need it to write its status or record an Event on it. */
export interface BridgeTarget {
  /** `group/version`. */
  apiVersion: string
  kind: string
  plural: string
  namespace: string
  name: string
  uid?: string
}

/** One callback as the webhook server verified it (the shape of webhooks' `CallbackEvent`). */
export type BridgeCallback = z.infer<typeof callbackEvent>

/** Where the bridge hands what the webhook server reports; built from webhooks' writers by bin/. */
export interface WebhookBridgeSinks {
  /** The refusal reasons taken on `/v1/rejects` (others are answered 400). */
  rejectReasons: readonly string[]
  reject(target: BridgeTarget, provider: string, reason: string): void
  /** Whether callbacks of this kind are written at all. */
  takesCallbacks(kind: string): boolean
  /** True while the writer holds as much as it may. */
  full(): boolean
  callback(target: BridgeTarget, event: BridgeCallback): void
}

const MAX_REJECTS = 100
const MAX_CALLBACKS = 500

const objectRef = {
  kind: z.string().max(64),
  namespace: z.string().max(253),
  name: z.string().max(253),
}
const rejectsBody = z.object({
  items: z
    .array(z.object({ ...objectRef, provider: z.string().max(32), reason: z.string().max(64) }).strict())
    .max(MAX_REJECTS),
})
const callbackEvent = z
  .object({
    provider: z.string().max(32),
    type: z.string().regex(/^[a-z][a-z0-9._-]{0,63}$/),
    key: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
    deliveryId: z.string().max(256),
    occurredAt: z.string().max(64),
    data: z
      .record(
        z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/),
        z.union([z.string().max(256), z.number(), z.boolean(), z.null()]),
      )
      .refine((d) => Object.keys(d).length <= 16, 'at most 16 fields'),
    rank: z.number().int().min(0).max(1000).optional(),
  })
  .strict()
const callbacksBody = z.object({
  items: z.array(z.object({ ...objectRef, event: callbackEvent }).strict()).max(MAX_CALLBACKS),
})

const connectOpenBody = z
  .object({
    provider: z.string().max(32),
    namespace: z.string().max(63),
    name: z.string().max(253),
    link: z.string().max(64),
  })
  .strict()
const connectCallbackBody = z
  .object({
    provider: z.string().max(32),
    code: z.string().max(2048).optional(),
    state: z.string().max(512).optional(),
    error: z.string().max(256).optional(),
  })
  .strict()

export interface WebhookBridgeOptions {
  source: WebhookBridgeSource
  /** Where refusals and callback data go; without it both routes answer 404. */
  sinks?: WebhookBridgeSinks
  logger: Logger
  /** The connect links' opening and callback; without it both routes answer 404. */
  connect?: ConnectHandler
  /** The kind table. Default {@link WEBHOOK_KINDS}. */
  kinds?: readonly WebhookKind[]
  /** Kinds served whole on `/v1/published`. Default `CalendarSync`. */
  publishedKinds?: readonly string[]
  /**
   * The bearer token every request must carry (the TCP bridge); none on the pod's Unix socket. A
   * function is asked on each request (a token file read again as the kubelet updates it).
   */
  token?: string | (() => string)
}

/** At least this long, so that a guessed or empty token is refused at start. */
export const MIN_BRIDGE_TOKEN_LENGTH = 32

const ALLOWED_ANNOTATIONS: ReadonlySet<string> = new Set([
  requestedAtAnnotation,
  REQUESTED_STREAMS_ANNOTATION,
])

export function buildWebhookBridge(opts: WebhookBridgeOptions): FastifyInstance {
  const kinds = opts.kinds ?? WEBHOOK_KINDS
  const log = opts.logger.child({ unit: 'webhook-bridge' })
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 })
  if (opts.token !== undefined) {
    const tokenOf = typeof opts.token === 'function' ? opts.token : () => opts.token as string
    if (tokenOf().length < MIN_BRIDGE_TOKEN_LENGTH) {
      throw new Error(`the webhook bridge token must be at least ${MIN_BRIDGE_TOKEN_LENGTH} characters`)
    }
    app.addHook('onRequest', async (request, reply) => {
      const token = tokenOf()
      const want = createHash('sha256').update(token).digest()
      const header = request.headers.authorization
      const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : ''
      // compared as digests, in constant time, whatever the length given; a token that became
      // too short (an emptied file) lets nothing in
      if (
        token.length < MIN_BRIDGE_TOKEN_LENGTH ||
        !timingSafeEqual(createHash('sha256').update(given).digest(), want)
      ) {
        log.warn({ from: request.ip }, 'webhook bridge request without the token refused')
        return reply.code(401).send({ error: 'unauthorized' })
      }
    })
  }

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
    return { kind, obj, keys, namespace, name, provider: parsed.provider }
  }

  const targetOf = (found: NonNullable<ReturnType<typeof routed>>): BridgeTarget => {
    const uid = fieldAt(found.obj, 'metadata.uid')
    return {
      apiVersion: `${found.kind.group}/${found.kind.version}`,
      kind: found.kind.kind,
      plural: found.kind.plural,
      namespace: found.namespace,
      name: found.name,
      ...(typeof uid === 'string' ? { uid } : {}),
    }
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

  const sinks = opts.sinks
  if (sinks) {
    app.post('/v1/rejects', async (request, reply) => {
      const parsed = rejectsBody.safeParse(request.body)
      if (!parsed.success) return reply.code(400).send({ error: 'malformed' })
      let taken = 0
      for (const item of parsed.data.items) {
        const found = routed(item.kind, item.namespace, item.name)
        // only the provider of the object's path, and only a known reason
        if (!found || found.provider !== item.provider || !sinks.rejectReasons.includes(item.reason)) continue
        sinks.reject(targetOf(found), item.provider, item.reason)
        taken++
      }
      return { taken, refused: parsed.data.items.length - taken }
    })

    app.post('/v1/callbacks', { bodyLimit: 512 * 1024 }, async (request, reply) => {
      const parsed = callbacksBody.safeParse(request.body)
      if (!parsed.success) return reply.code(400).send({ error: 'malformed' })
      if (sinks.full()) return reply.code(503).send({ error: 'overloaded' })
      let taken = 0
      for (const item of parsed.data.items) {
        const found = routed(item.kind, item.namespace, item.name)
        if (
          !found ||
          found.provider !== item.event.provider ||
          !found.kind.callbackStatusField ||
          !sinks.takesCallbacks(found.kind.kind)
        ) {
          continue
        }
        sinks.callback(targetOf(found), item.event)
        taken++
      }
      return { taken, refused: parsed.data.items.length - taken }
    })
  }

  const connect = opts.connect
  if (connect) {
    app.post('/v1/connect/open', async (request, reply) => {
      const parsed = connectOpenBody.safeParse(request.body)
      if (!parsed.success) return reply.code(400).send({ error: 'malformed' })
      const { provider, namespace, name, link } = parsed.data
      return connect.open(provider, namespace, name, link)
    })
    app.post('/v1/connect/callback', async (request, reply) => {
      const parsed = connectCallbackBody.safeParse(request.body)
      if (!parsed.success) return reply.code(400).send({ error: 'malformed' })
      const { provider, ...params } = parsed.data
      return connect.callback(provider, params)
    })
  }

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    log.warn({ err: err.message }, 'webhook bridge request failed')
    return reply.code(err.statusCode && err.statusCode < 500 ? err.statusCode : 500).send({ error: 'failed' })
  })
  return app
}

/** Listens on TCP (the webhook server as its own Deployment); build the app with a `token`. */
export async function listenWebhookBridgeTcp(
  app: FastifyInstance,
  address: { host: string; port: number },
): Promise<number> {
  await app.listen({ host: address.host, port: address.port })
  const bound = app.server.address()
  return bound && typeof bound === 'object' ? bound.port : address.port
}

/** Listens on a Unix socket readable by the pod's containers only (mode 0660), replacing a stale one. */
export async function listenWebhookBridge(app: FastifyInstance, socketPath: string): Promise<void> {
  rmSync(socketPath, { force: true })
  await app.listen({ path: socketPath })
  chmodSync(socketPath, 0o660)
}
