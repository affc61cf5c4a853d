/**
 * The connect routes of the webhook server (the contract is controller/api/connect.ts): a link
 * opened in a browser is redirected to the provider's consent page, and the provider's callback
 * is shown as a plain page saying whether it worked and what to do. Both are decided by the
 * controller over the bridge: this container holds no client secret, no Kubernetes token, and
 * writes nothing; it only carries `code`, `state` and `error` across.
 *
 * Pages are sent with `Cache-Control: no-store` (a link or code is not kept by a cache),
 * `Referrer-Policy: no-referrer` (the link in the address bar is not sent to the provider) and a
 * CSP that allows nothing but the page's own inline style.
 *
 * The routes face the internet, so they have a rate limit of their own, per client address
 * (`request.ip`: the peer, or the address a trusted proxy names in X-Forwarded-For, see the
 * server's `trustProxy`), kept in a bounded LRU (@fastify/rate-limit's, the webhook routes'
 * mechanism). A request over it is answered 429 with Retry-After and a page, before anything is
 * asked of the controller: it spends no link.
 */
import rateLimit from '@fastify/rate-limit'
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import {
  allProviders,
  CONNECT_LINK_PATTERN,
  CONNECT_PREFIX,
  type ConnectCallbackAnswer,
  type ConnectOpenAnswer,
} from '../controller/api/index.ts'
import type { RateLimitSetting } from './app.ts'
import { type BridgeEndpoint, bridgeCall } from './bridge-resolver.ts'
import { RETRY_AFTER_ONLY } from './rate-limit.ts'

/**
 * Per client address: 30 requests a minute (one connection is two, the link and the callback;
 * colleagues behind one NAT share the budget), 10,000 addresses remembered at most.
 */
export const DEFAULT_CONNECT_RATE_LIMIT: Readonly<Required<RateLimitSetting>> = {
  max: 30,
  timeWindowMs: 60_000,
  cache: 10_000,
}

export interface ConnectRoutesOptions {
  /** The controller's bridge; it answers every connect request. */
  endpoint: BridgeEndpoint
  logger: Logger
  /**
   * Requests per client address and window (429 beyond it); `cache` bounds the addresses
   * remembered (least recently seen go first). false disables. Default
   * {@link DEFAULT_CONNECT_RATE_LIMIT}.
   */
  rateLimit?: RateLimitSetting | false
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  )

/** A plain page: the outcome as a heading and what to do. */
export function connectPage(outcome: string, message: string): string {
  const ok = outcome === 'connected'
  const title = ok ? 'Connected' : 'Not connected'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Switchboard: ${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{color:${ok ? '#1a7f37' : '#b42318'}}</style>
</head><body><main data-outcome="${escapeHtml(outcome)}"><h1>${title}</h1><p>${escapeHtml(message)}</p></main></body></html>
`
}

function send(reply: FastifyReply, status: number, outcome: string, message: string) {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .type('text/html; charset=utf-8')
    .send(connectPage(outcome, message))
}

const UNAVAILABLE = 'Switchboard could not complete the connection just now. Try the link again in a minute.'
const NOT_FOUND = "This connect link does not exist. Use the link in the resource's status.connect.url."

const takesConnect = (provider: string) =>
  allProviders.some((p) => p.id === provider && p.oauth !== undefined)

/** One string query parameter: undefined when absent, null when repeated or not a string. */
function one(q: Record<string, unknown>, key: string): string | undefined | null {
  const v = q[key]
  if (v === undefined) return undefined
  return typeof v === 'string' ? v : null
}

const RATE_LIMITED = (seconds: number) =>
  `Too many requests from your address just now. Try the link again in ${seconds} seconds; it still works until it expires.`

export function connectRoutes(opts: ConnectRoutesOptions): FastifyPluginAsync {
  const log = opts.logger.child({ unit: 'connect' })
  const rl = opts.rateLimit === undefined ? DEFAULT_CONNECT_RATE_LIMIT : opts.rateLimit
  return async (app) => {
    if (rl !== false) {
      // registered in this plugin's own context: it counts the connect routes alone, in a store
      // of their own, whatever the webhook routes' setting
      await app.register(rateLimit, {
        global: true,
        max: rl.max,
        timeWindow: rl.timeWindowMs,
        cache: rl.cache ?? DEFAULT_CONNECT_RATE_LIMIT.cache,
        // the default key: request.ip (IPv6 by its /64), as the server's trustProxy resolves it
        ...RETRY_AFTER_ONLY,
        errorResponseBuilder: (_req, context) =>
          Object.assign(new Error('connect rate limit exceeded'), {
            statusCode: context.statusCode,
            retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
          }),
      })
    }
    app.setErrorHandler((err: FastifyError & { retryAfterSeconds?: number }, _request, reply) => {
      if (err.statusCode === 429) {
        const seconds = err.retryAfterSeconds ?? 60
        reply.header('retry-after', String(seconds))
        return send(reply, 429, 'rate_limited', RATE_LIMITED(seconds))
      }
      // anything else is the server's own answer (the parent error handler)
      throw err
    })
    app.get<{ Params: { provider: string } }>(
      `${CONNECT_PREFIX}/:provider/callback`,
      async (request, reply) => {
        const { provider } = request.params
        if (!takesConnect(provider)) return send(reply, 404, 'unknown', NOT_FOUND)
        const q = request.query as Record<string, unknown>
        const code = one(q, 'code')
        const state = one(q, 'state')
        const error = one(q, 'error')
        if (
          code === null ||
          state === null ||
          error === null ||
          (code ?? '').length > 2048 ||
          (state ?? '').length > 512
        ) {
          return send(
            reply,
            400,
            'mismatch',
            'This authorization answer is malformed. Start again from the link in status.connect.url.',
          )
        }
        try {
          const res = await bridgeCall(
            opts.endpoint,
            'POST',
            '/v1/connect/callback',
            {
              provider,
              ...(code !== undefined ? { code } : {}),
              ...(state !== undefined ? { state } : {}),
              ...(error !== undefined ? { error: error.slice(0, 256) } : {}),
            },
            30_000,
          )
          const answer = res.json as ConnectCallbackAnswer | undefined
          if (res.status !== 200 || !answer?.outcome) throw new Error(`bridge answered ${res.status}`)
          return send(reply, answer.status, answer.outcome, answer.message)
        } catch (err) {
          log.warn(
            { provider, err: (err as Error).message },
            'connect callback: the controller did not answer',
          )
          return send(reply, 503, 'unavailable', UNAVAILABLE)
        }
      },
    )

    app.get<{ Params: { provider: string; namespace: string; name: string; link: string } }>(
      `${CONNECT_PREFIX}/:provider/:namespace/:name/:link`,
      async (request, reply) => {
        const { provider, namespace, name, link } = request.params
        if (
          !takesConnect(provider) ||
          !CONNECT_LINK_PATTERN.test(link) ||
          namespace.length > 63 ||
          name.length > 253
        ) {
          return send(reply, 404, 'unknown', NOT_FOUND)
        }
        try {
          const res = await bridgeCall(opts.endpoint, 'POST', '/v1/connect/open', {
            provider,
            namespace,
            name,
            link,
          })
          const answer = res.json as ConnectOpenAnswer | undefined
          if (res.status !== 200 || !answer?.outcome) throw new Error(`bridge answered ${res.status}`)
          if (answer.outcome === 'redirect') {
            return reply
              .code(302)
              .header('cache-control', 'no-store')
              .header('referrer-policy', 'no-referrer')
              .header('location', answer.location)
              .send()
          }
          return send(reply, answer.status, answer.outcome, answer.message)
        } catch (err) {
          log.warn({ provider, err: (err as Error).message }, 'connect link: the controller did not answer')
          return send(reply, 503, 'unavailable', UNAVAILABLE)
        }
      },
    )
  }
}
