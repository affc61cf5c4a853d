/**
 * Calendly: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, v1 = HMAC-SHA256 of
 * `${t}.${rawBody}` with the webhook signing key; timestamps more than 3 minutes away are
 * refused. The scheme, its header name and tolerance are connectors/calendly's
 * `calendlySignature` (the signed HTTP scheme: constant-time, several v1 values allowed).
 */
import type { FastifyPluginAsync } from 'fastify'
import { calendlySignature } from '../../connectors/index.ts'
import {
  accept,
  header,
  mediaType,
  type ProviderPluginOptions,
  parseJsonObject,
  rawBody,
  reject,
  routeConfig,
  secretOf,
  targetHook,
  useRawBody,
} from '../pipeline.ts'

export { CALENDLY_SIGNATURE_HEADER, CALENDLY_TOLERANCE_SECONDS } from '../../connectors/index.ts'

export const calendlyPlugin: FastifyPluginAsync<ProviderPluginOptions> = async (app, { ctx }) => {
  useRawBody(app, ctx.bodyLimit)
  app.addHook('onRequest', targetHook(ctx, 'calendly'))
  app.post('/:token', routeConfig(ctx, 'calendly'), async (request, reply) => {
    const signature = header(request, calendlySignature.header.toLowerCase())
    if (!signature) return reject(request, reply, 'missing_signature')
    if (mediaType(request) !== 'application/json') return reject(request, reply, 'unsupported_media_type')
    const key = await secretOf(request, reply, 'signingKey')
    if (key === undefined) return reply
    const raw = rawBody(request)
    const check = calendlySignature.check(key, signature, raw, { now: ctx.now() })
    if (!check.ok) {
      return reject(request, reply, check.reason === 'stale' ? 'stale' : 'bad_signature')
    }
    const body = parseJsonObject(raw)
    if (!body || typeof body.event !== 'string') return reject(request, reply, 'malformed')
    // a redelivery carries the same event, creation time and payload URI (and a new signature)
    const payload = body.payload as { uri?: unknown } | undefined
    const dedupeId =
      typeof body.created_at === 'string' && typeof payload?.uri === 'string'
        ? `${body.event}|${body.created_at}|${payload.uri}`
        : signature
    return accept(ctx, request, reply, { dedupeId, reconcile: true })
  })
}
