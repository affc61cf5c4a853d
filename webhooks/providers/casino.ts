/**
 * Casino platforms (SOFTSWISS, Altenar, BET Software, Playtech PAM). None publishes a webhook
 * specification, so this is Switchboard's adapter contract, in the SOFTSWISS style:
 *
 * - `POST /hooks/<platform>/<token>`, `Content-Type: application/json`;
 * - `X-REQUEST-SIGN`: hex HMAC-SHA256 of the raw body, keyed with the resource's signing secret;
 * - `X-Delivery-Id`: the platform's id of the delivery, the same on a retry (deduplicated).
 *
 * The delivery id is not covered by the signature: a replayed body with a new id is accepted,
 * but all it can do is ask for a (coalesced) reconcile, which is a sync that would run anyway.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ProviderId } from '../../controller/api/index.ts'
import {
  accept,
  ENTITY_KEY,
  header,
  hexSignatureMatches,
  hmac,
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

export const CASINO_SIGNATURE_HEADER = 'X-REQUEST-SIGN'
export const CASINO_DELIVERY_HEADER = 'X-Delivery-Id'

export function casinoPlugin(provider: ProviderId): FastifyPluginAsync<ProviderPluginOptions> {
  return async (app, { ctx }) => {
    useRawBody(app, ctx.bodyLimit)
    app.addHook('onRequest', targetHook(ctx, provider))
    app.post('/:token', routeConfig(ctx, provider), async (request, reply) => {
      const signature = header(request, 'x-request-sign')
      if (!signature) return reject(request, reply, 'missing_signature')
      if (mediaType(request) !== 'application/json') return reject(request, reply, 'unsupported_media_type')
      const secret = await secretOf(request, reply, 'signingSecret')
      if (secret === undefined) return reply
      const raw = rawBody(request)
      if (!hexSignatureMatches(signature.trim(), hmac('sha256', secret, raw))) {
        return reject(request, reply, 'bad_signature')
      }
      const deliveryId = header(request, 'x-delivery-id')
      if (!deliveryId || !ENTITY_KEY.test(deliveryId) || !parseJsonObject(raw)) {
        return reject(request, reply, 'malformed')
      }
      return accept(ctx, request, reply, { dedupeId: deliveryId, reconcile: true })
    })
  }
}
