/**
 * What every provider plugin shares: the raw-body parser, the target lookup that runs before the
 * body is read, constant-time comparison, and the two ways a request ends (rejected, or accepted
 * after deduplication, which only asks for a reconcile and hands callback data to the sink).
 * Metrics and Events are recorded by the app's onResponse hook from `request.webhook`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { RateLimitOptions } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Logger } from 'pino'
import { type ProviderId, webhookPath } from '../controller/api/index.ts'
import type { CallbackEvent, CallbackSink } from './callbacks.ts'
import { type DedupeStores, dedupeKey } from './dedupe.ts'
import type { ProviderLabel, Result, WebhookMetrics } from './metrics.ts'
import type { ReconcileRequester } from './reconcile.ts'
import { REJECTS, type RejectReason } from './rejects.ts'
import type { TargetResolver, WebhookTarget } from './targets.ts'

/** What a request was, once it ended; read by the app's onResponse hook. */
export interface WebhookState {
  provider: ProviderLabel
  target?: WebhookTarget
  result?: Result
  reason?: RejectReason | 'none'
}

declare module 'fastify' {
  interface FastifyRequest {
    webhook: WebhookState | null
  }
  interface FastifyContextConfig {
    /** The provider of a webhook route. */
    provider?: ProviderId
  }
}

/** Everything a provider plugin needs; built once by `buildApp`. */
export interface WebhookContext {
  resolver: TargetResolver
  /** One delivery-id store per provider. */
  dedupe: DedupeStores
  requester: ReconcileRequester
  callbacks: CallbackSink
  metrics: WebhookMetrics
  logger: Logger
  /** Public base URL providers call (e.g. `https://hooks.example.com`), if configured. */
  publicUrl: string | undefined
  bodyLimit: number
  /** Per-path rate limit for webhook routes; false disables it. */
  rateLimit: RateLimitOptions | false
  now(): number
}

export interface ProviderPluginOptions {
  ctx: WebhookContext
}

/**
 * Replaces the parsers of this (encapsulated) plugin with one that keeps the body as the Buffer
 * that arrived, whatever its content type: signatures are checked on these bytes, and the body
 * is parsed only afterwards.
 */
export function useRawBody(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body))
}

/** The raw body as a Buffer (empty when none was sent). */
export function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
}

/** Route options of a webhook route: the provider tag and the per-path rate limit. */
export function routeConfig(ctx: WebhookContext, provider: ProviderId) {
  return { config: { provider, rateLimit: ctx.rateLimit } }
}

export interface TargetHookOptions {
  /** Handshakes are answered for a resource that is not (yet) ready; it is how it becomes ready. */
  isHandshake?(request: FastifyRequest): boolean
}

/**
 * An onRequest hook: finds the resource for `/hooks/<provider>/<token>` before the body is read.
 * Unknown path → 404; suspended → 503; not ready → 503 (handshakes excepted).
 */
export function targetHook(ctx: WebhookContext, provider: ProviderId, opts: TargetHookOptions = {}) {
  // a callback-style hook: a map lookup needs no promise
  return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const state: WebhookState = { provider }
    request.webhook = state
    const token = (request.params as { token?: unknown } | undefined)?.token
    const path = typeof token === 'string' ? webhookPath(provider, token) : undefined
    // only the path as published routes: a percent-encoded spelling of it is another path
    const canonical = path !== undefined && pathOfUrl(request.url) === path
    const target = canonical ? ctx.resolver.resolve(path) : undefined
    let refusal: RejectReason | undefined
    if (!target) refusal = 'not_found'
    else if (target.suspended) refusal = 'suspended'
    else if (!target.ready && !opts.isHandshake?.(request)) refusal = 'not_ready'
    state.target = target
    if (refusal) {
      reject(request, reply, refusal)
      return
    }
    done()
  }
}

/** The path of a request URL as it arrived (no query), not decoded. */
export function pathOfUrl(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? url : url.slice(0, q)
}

/** Ends the request with the reject's status; nothing else happens. */
export function reject(request: FastifyRequest, reply: FastifyReply, reason: RejectReason): FastifyReply {
  if (!request.webhook) request.webhook = { provider: providerOf(request) }
  const state = request.webhook
  state.result = 'rejected'
  state.reason = reason
  if (reason === 'suspended' || reason === 'not_ready' || reason === 'secret_unavailable') {
    reply.header('Retry-After', '60')
  } else if (reason === 'overloaded') {
    reply.header('Retry-After', '5')
  }
  return reply.code(REJECTS[reason].status).type('application/json').send(`{"error":"${reason}"}`)
}

/** The provider a request was for, from its route (or `unknown`). */
export function providerOf(request: FastifyRequest): ProviderLabel {
  return request.routeOptions.config?.provider ?? 'unknown'
}

/** The resolved target (set by {@link targetHook}). */
export function targetOf(request: FastifyRequest): WebhookTarget {
  const target = request.webhook?.target
  if (!target) throw new Error('webhook route without a resolved target')
  return target
}

/** Reads one webhook secret; undefined (after answering 503) when the Secret lacks it. */
export async function secretOf(
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
): Promise<string | undefined> {
  const value = (await targetOf(request).secrets())[name]
  if (value) return value
  reject(request, reply, 'secret_unavailable')
  return undefined
}

/** Secrets a resolver handed out as a promise, once it settled: keyed by that promise. */
const settledSecrets = new WeakMap<Promise<unknown>, Readonly<Record<string, string>>>()

/**
 * Runs `then` with one webhook secret, answering 503 when the Secret lacks it. A resolver hands out
 * the same promise while its cached value is fresh (it decides when to read again), so once that
 * promise has settled its value is known: `then` runs at once and the route finishes without a
 * promise (undefined is returned). Otherwise it waits for the read, and the promise is returned.
 */
export function withSecret(
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
  then: (secret: string) => FastifyReply,
): Promise<FastifyReply> | undefined {
  const pending = targetOf(request).secrets()
  const use = (secrets: Readonly<Record<string, string>>): FastifyReply => {
    const value = secrets[name]
    return value ? then(value) : reject(request, reply, 'secret_unavailable')
  }
  const known = settledSecrets.get(pending)
  if (known) {
    use(known)
    return undefined
  }
  return pending.then((secrets) => {
    settledSecrets.set(pending, secrets)
    return use(secrets)
  })
}

/**
 * A route handler that may end without a promise: a refusal or answer sent at once is returned as
 * undefined (Fastify has nothing to wait for), a promise as it is.
 */
export function syncRoute(
  fn: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | Promise<FastifyReply> | undefined,
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> | undefined {
  return (request, reply) => {
    const r = fn(request, reply)
    return r instanceof Promise ? r : undefined
  }
}

export interface Acceptance {
  /**
   * The provider's delivery id (or another key that is the same for a redelivery). A repeat
   * within the dedupe window is answered the same way and does nothing.
   */
  dedupeId: string | undefined
  /** Ask the controller for a reconcile (coalesced). */
  reconcile: boolean
  /** Of this stream only (a casino delivery names one); default every stream. */
  stream?: string
  /** Callback-only data for the sink. */
  callbacks?: readonly CallbackEvent[]
  /** Response status; default 204. */
  status?: number
  contentType?: string
  body?: string
}

/** Ends a verified delivery: dedupe, then only enqueue work; the response goes out at once. */
export function accept(
  ctx: WebhookContext,
  request: FastifyRequest,
  reply: FastifyReply,
  a: Acceptance,
): FastifyReply {
  const target = targetOf(request)
  const state = request.webhook as WebhookState
  // callback data the sink cannot take now is refused before it is remembered as seen, so the
  // provider's retry is taken later rather than answered as a duplicate
  if (a.callbacks && a.callbacks.length > 0 && ctx.callbacks.full?.())
    return reject(request, reply, 'overloaded')
  const fresh =
    a.dedupeId === undefined || ctx.dedupe.of(target.provider).add(dedupeKey(target.path, a.dedupeId))
  if (fresh) {
    state.result = 'accepted'
    state.reason = 'none'
    if (a.reconcile) ctx.requester.request(target, a.stream === undefined ? {} : { stream: a.stream })
    for (const cb of a.callbacks ?? []) ctx.callbacks.deliver(target, cb)
  } else {
    state.result = 'duplicate'
    state.reason = 'none'
    ctx.metrics.dedupeHits.inc({ provider: target.provider })
  }
  reply.code(a.status ?? 204)
  if (a.contentType) reply.type(a.contentType)
  return a.body === undefined ? reply.send() : reply.send(a.body)
}

/** Marks a handshake (answered, no work) and sends the answer. */
export function handshake(request: FastifyRequest, reply: FastifyReply, body: string): FastifyReply {
  const state = request.webhook as WebhookState
  state.result = 'handshake'
  state.reason = 'none'
  return reply.code(200).type('text/plain; charset=utf-8').send(body)
}

/** A single header value (the first, if repeated). */
export function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** HMAC of the parts, as a Buffer. */
export function hmac(algorithm: string, key: string, ...parts: Array<string | Buffer>): Buffer {
  const h = createHmac(algorithm, key)
  for (const p of parts) h.update(p)
  return h.digest()
}

/**
 * Compares a hex signature from a header with the expected digest in constant time. A value that
 * is not hex of the right length is a mismatch (compared against itself so the time is the same).
 */
export function hexSignatureMatches(given: string, expected: Buffer): boolean {
  const ok = given.length === expected.length * 2 && /^[0-9a-fA-F]+$/.test(given)
  const buf = ok ? Buffer.from(given, 'hex') : Buffer.alloc(expected.length)
  return timingSafeEqual(buf, expected) && ok
}

/** Constant-time comparison of two strings (of possibly different lengths). */
export function safeEqualString(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'switchboard-compare').update(given).digest()
  const b = createHmac('sha256', 'switchboard-compare').update(expected).digest()
  return timingSafeEqual(a, b) && given === expected
}

/** The content type without parameters, lower case ('' when absent). */
export function mediaType(request: FastifyRequest): string {
  const ct = header(request, 'content-type') ?? ''
  const i = ct.indexOf(';')
  return (i < 0 ? ct : ct.slice(0, i)).trim().toLowerCase()
}

/** Parses a JSON object body; undefined when it is not one. */
export function parseJsonObject(raw: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(raw.toString('utf8'))
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** A key safe to use as an object key and a label of nothing (ids from payloads). */
export const ENTITY_KEY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

let lastIsoMs = Number.NaN
let lastIso = ''

/**
 * The current time as RFC 3339. Deliveries arrive several to the millisecond under load, so the
 * last string is kept and made again only when the millisecond changes.
 */
export function nowIso(ctx: WebhookContext): string {
  const ms = ctx.now()
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString()
    lastIsoMs = ms
  }
  return lastIso
}
