/**
 * Calendly: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, v1 = HMAC-SHA256 of
 * `${t}.${rawBody}` with the webhook signing key; timestamps more than 3 minutes away are
 * refused. The scheme is the one Switchboard's signed HTTP deliveries use, so the check is
 * `checkSignature` from connectors/signed-http (constant-time, several v1 values allowed).
 */
import type { FastifyPluginAsync } from 'fastify'
import { checkSignature } from '../../connectors/index.ts'
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

export const CALENDLY_SIGNATURE_HEADER = 'Calendly-Webhook-Signature'
export const CALENDLY_TOLERANCE_SECONDS = 180

export const calendlyPlugin: FastifyPluginAsync<ProviderPluginOptions> = async (app, { ctx }) => {
  useRawBody(app, ctx.bodyLimit)
  app.addHook('onRequest', targetHook(ctx, 'calendly'))
  app.post('/:token', routeConfig(ctx, 'calendly'), async (request, reply) => {
    const signature = header(request, 'calendly-webhook-signature')
    if (!signature) return reject(request, reply, 'missing_signature')
    if (mediaType(request) !== 'application/json') return reject(request, reply, 'unsupported_media_type')
    const key = await secretOf(request, reply, 'signingKey')
    if (key === undefined) return reply
    const raw = rawBody(request)
    const check = checkSignature(key, signature, raw, {
      toleranceSeconds: CALENDLY_TOLERANCE_SECONDS,
      now: ctx.now(),
    })
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
