/**
 * Patreon: `X-Patreon-Signature` is the hex HMAC-MD5 of the raw body with the webhook secret;
 * `X-Patreon-Event` names the trigger (`members:pledge:create`, ...). The body is a JSON:API
 * member document; the sync reads the member again, so a delivery only asks for a reconcile.
 * Patreon sends no delivery id: a redelivery of the same body has the same signature, which is
 * what deduplicates it.
 */
import type { FastifyPluginAsync } from 'fastify'
import {
  accept,
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

export const PATREON_SIGNATURE_HEADER = 'X-Patreon-Signature'
export const PATREON_EVENT_HEADER = 'X-Patreon-Event'
const EVENT = /^[a-z_]{1,32}(:[a-z_]{1,32}){0,3}$/

export const patreonPlugin: FastifyPluginAsync<ProviderPluginOptions> = async (app, { ctx }) => {
  useRawBody(app, ctx.bodyLimit)
  app.addHook('onRequest', targetHook(ctx, 'patreon'))
  app.post('/:token', routeConfig(ctx, 'patreon'), async (request, reply) => {
    const signature = header(request, 'x-patreon-signature')
    if (!signature) return reject(request, reply, 'missing_signature')
    if (mediaType(request) !== 'application/json') return reject(request, reply, 'unsupported_media_type')
    const secret = await secretOf(request, reply, 'webhookSecret')
    if (secret === undefined) return reply
    const raw = rawBody(request)
    if (!hexSignatureMatches(signature.trim(), hmac('md5', secret, raw))) {
      return reject(request, reply, 'bad_signature')
    }
    const event = header(request, 'x-patreon-event')
    if (!event || !EVENT.test(event) || !parseJsonObject(raw)) return reject(request, reply, 'malformed')
    // the event header is not signed: the signature (of the body) alone is the key, so a replay
    // with another X-Patreon-Event is a duplicate (the sync reads the member either way)
    return accept(ctx, request, reply, { dedupeId: signature.trim().toLowerCase(), reconcile: true })
  })
}
