/**
 * The webhook server: one encapsulated plugin per provider under `/hooks/<provider>/<token>`,
 * plus `/healthz`, `/readyz` and `/metrics`. `buildApp` only builds; `listen` is the caller's
 * (main.ts, tests, the benchmark), so the app is tested with `inject()` as well as on a port.
 */
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyRequest,
} from 'fastify'
import type { Logger } from 'pino'
import { createLogger } from '../connectors/index.ts'
import { HOOKS_PREFIX, isProvider, type ProviderId } from '../controller/api/index.ts'
import { type CallbackSink, discardCallbacks } from './callbacks.ts'
import { DedupeStores, type DeliveryDedupeOptions } from './dedupe.ts'
import { type Result, WebhookMetrics } from './metrics.ts'
import { reject, type WebhookContext, type WebhookState } from './pipeline.ts'
import { providerPlugins } from './providers/index.ts'
import { RETRY_AFTER_ONLY } from './rate-limit.ts'
import type { ReconcileRequester } from './reconcile.ts'
import { type EventSink, RejectEvents, type RejectReason, type RejectReporter } from './rejects.ts'
import type { TargetResolver } from './targets.ts'

/** 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024
/** Per path: 100 requests a second (Twilio status callbacks of a large campaign share one path). */
export const DEFAULT_RATE_LIMIT: Readonly<RateLimitSetting> = { max: 100, timeWindowMs: 1000 }

export interface RateLimitSetting {
  /** Requests per path and window. */
  max: number
  timeWindowMs: number
  /** Paths tracked at most (least recently used go first). Default 5000. */
  cache?: number
}

/** Which proxies in front are believed about the client's address (Fastify's trustProxy). */
export type TrustProxy = boolean | string[] | ((address: string, hop: number) => boolean)

export interface BuildAppOptions {
  /** Maps `/hooks/<provider>/<token>` to a resource. */
  resolver: TargetResolver
  /** Where verified deliveries ask for reconciles (a {@link CoalescingRequester} in production). */
  requester: ReconcileRequester
  /** Callback-only data (Twilio delivery status, Twitch stream events). Default: dropped. */
  callbacks?: CallbackSink
  /** Kubernetes Events on resources whose webhooks are refused (an `EventRecorder`). Default: none. */
  events?: EventSink
  /**
   * Where refusals of known resources are reported instead of `events` (the webhook bridge's
   * forwarder, when the controller records the Events). Default: Events through `events`.
   */
  rejects?: RejectReporter
  /** Event rate limits: per resource and reason (default 60 s) and overall (default 5/s). */
  eventLimits?: { minIntervalMs?: number; maxPerSecond?: number }
  logger?: Logger
  /**
   * Public base URL providers call (scheme, host and any path prefix an Ingress strips), e.g.
   * `https://hooks.example.com`. Twilio signs the URL it called, so this is what is verified.
   */
  publicUrl?: string
  /** Largest accepted body in bytes; more is answered 413. Default 1 MiB. */
  bodyLimit?: number
  /** Per-path rate limit for webhook routes (429 beyond it); false disables. Default 100/s. */
  rateLimit?: RateLimitSetting | false
  /** Delivery-id memory, one store per provider (a shared instance, or options for new ones). */
  dedupe?: DedupeStores | DeliveryDedupeOptions
  metrics?: WebhookMetrics
  /** Providers to serve. Default: all. */
  providers?: readonly ProviderId[]
  /**
   * Trust X-Forwarded-* from proxies in front: the client address the connect routes' rate limit
   * counts by, and the fallback URL for Twilio. A function of (address, hop) or a list of the
   * proxies' addresses/CIDRs (see Fastify's trustProxy). Default false (the peer's address).
   */
  trustProxy?: TrustProxy
  now?: () => number
  /**
   * Read-only public routes served beside the webhooks (outside `/hooks`), such as the calendar
   * feeds and free/busy documents. Registered as encapsulated plugins.
   */
  publicRoutes?: readonly FastifyPluginAsync[]
}

export function buildApp(opts: BuildAppOptions): FastifyInstance {
  const logger = opts.logger ?? createLogger({ name: 'webhooks' })
  const metrics = opts.metrics ?? new WebhookMetrics()
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT
  const rl = opts.rateLimit === undefined ? DEFAULT_RATE_LIMIT : opts.rateLimit
  const rateLimitOptions: RateLimitOptions | false =
    rl === false
      ? false
      : {
          max: rl.max,
          timeWindow: rl.timeWindowMs,
          // one bucket per resource: keyed on the provider and token as the router decoded them,
          // so percent-encoded spellings of a path share its budget (they are refused as well)
          keyGenerator: rateLimitKey,
        }
  const ctx: WebhookContext = {
    resolver: opts.resolver,
    dedupe: opts.dedupe instanceof DedupeStores ? opts.dedupe : new DedupeStores(opts.dedupe),
    requester: opts.requester,
    callbacks: opts.callbacks ?? discardCallbacks,
    metrics,
    logger,
    publicUrl: opts.publicUrl?.replace(/\/+$/, ''),
    bodyLimit,
    rateLimit: rateLimitOptions,
    now: opts.now ?? Date.now,
  }
  const rejectEvents: RejectReporter | undefined = opts.rejects
    ? opts.rejects
    : opts.events
      ? new RejectEvents({
          sink: opts.events,
          minIntervalMs: opts.eventLimits?.minIntervalMs,
          maxPerSecond: opts.eventLimits?.maxPerSecond,
          onResult: (result) => metrics.events.inc({ result }),
        })
      : undefined

  const app = Fastify({
    logger: false,
    bodyLimit,
    trustProxy: opts.trustProxy ?? false,
    return503OnClosing: true,
    // slow senders cannot hold connections open forever
    requestTimeout: 30_000,
    // raised by Fastify before our hooks run; keep it bounded but allow a 43-character token
    routerOptions: { maxParamLength: 128 },
  })
  app.decorateRequest('webhook', null)

  if (rl !== false) {
    void app.register(rateLimit, {
      global: false,
      cache: rl.cache ?? 5000,
      ...RETRY_AFTER_ONLY,
      // the 429 goes through the error handler like every other refusal
      errorResponseBuilder: (_req, context) =>
        Object.assign(new Error(`rate limit exceeded, retry in ${context.after}`), { statusCode: 429 }),
    })
  }

  const recordResponse = (state: WebhookState, result: Result, status: number, elapsedMs: number) => {
    const reason = state.reason ?? 'none'
    metrics.observe(state.provider, result, reason, elapsedMs / 1000)
    if (result !== 'rejected') return
    const target = state.target
    logger.debug(
      {
        provider: state.provider,
        reason,
        status,
        ...(target ? { object: `${target.namespace}/${target.name}`, kind: target.kind } : {}),
      },
      'webhook refused',
    )
    if (target && rejectEvents && reason !== 'none') rejectEvents.reject(target, state.provider, reason)
  }
  // a callback-style hook: it awaits nothing, and it runs on every request
  app.addHook('onResponse', (request, reply, done) => {
    const state = request.webhook
    if (state?.result) recordResponse(state, state.result, reply.statusCode, reply.elapsedTime)
    done()
  })

  app.setNotFoundHandler((request, reply) => {
    request.webhook = { provider: providerOfPath(request.url) }
    return reject(request, reply, 'not_found')
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500
    const reason = reasonForStatus(status)
    if (reason === 'internal') {
      logger.error({ err: err.message, code: err.code }, 'webhook request failed')
    }
    if (!request.webhook) request.webhook = { provider: providerOfPath(request.url) }
    return reject(request, reply, reason)
  })

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    if (ctx.resolver.ready()) return { status: 'ok' }
    reply.code(503)
    return { status: 'not ready' }
  })
  app.get('/metrics', async (_req, reply) => {
    reply.header('Content-Type', metrics.registry.contentType)
    return metrics.registry.metrics()
  })

  for (const provider of opts.providers ?? providerPlugins.keys()) {
    const plugin = providerPlugins.get(provider)
    if (!plugin) throw new Error(`provider "${provider}" receives no webhooks`)
    void app.register(plugin, { prefix: `${HOOKS_PREFIX}/${provider}`, ctx })
  }
  for (const routes of opts.publicRoutes ?? []) void app.register(routes)
  return app
}

/** The rate-limit bucket of a webhook request: `<provider>/<token>`, decoded. */
export function rateLimitKey(req: FastifyRequest): string {
  const provider = req.routeOptions.config?.provider ?? 'unknown'
  const token = (req.params as { token?: unknown } | undefined)?.token
  return `${provider}/${typeof token === 'string' ? token : ''}`
}

function reasonForStatus(status: number): RejectReason {
  switch (status) {
    case 404:
      return 'not_found'
    case 413:
      return 'body_too_large'
    case 415:
      return 'unsupported_media_type'
    case 429:
      return 'rate_limited'
    default:
      return status >= 400 && status < 500 ? 'malformed' : 'internal'
  }
}

/** The provider named by `/hooks/<provider>/...`, or `unknown` (a bounded label either way). */
function providerOfPath(url: string) {
  const parts = url.split(/[/?]/, 4)
  return parts[1] === HOOKS_PREFIX.slice(1) && isProvider(parts[2]) ? parts[2] : 'unknown'
}
