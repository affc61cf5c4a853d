/**
 * Facebook (Graph API webhooks):
 * - the subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`
 *   is answered 200 with the challenge when the verify token matches the resource's (403 if not);
 * - notifications: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, key = app
 *   secret>`, JSON `{ object, entry: [...] }`; they ask for a reconcile. Facebook sends no
 *   delivery id: the signature (same body, same signature) deduplicates a redelivery.
 */
import type { FastifyPluginAsync } from 'fastify'
import {
  accept,
  handshake,
  header,
  hexSignatureMatches,
  hmac,
  mediaType,
  type ProviderPluginOptions,
  parseJsonObject,
  rawBody,
  reject,
  routeConfig,
  safeEqualString,
  secretOf,
  targetHook,
  useRawBody,
} from '../pipeline.ts'

export const FACEBOOK_SIGNATURE_HEADER = 'X-Hub-Signature-256'

export const facebookPlugin: FastifyPluginAsync<ProviderPluginOptions> = async (app, { ctx }) => {
  useRawBody(app, ctx.bodyLimit)
  app.addHook('onRequest', targetHook(ctx, 'facebook', { isHandshake: (req) => req.method === 'GET' }))

  app.get('/:token', routeConfig(ctx, 'facebook'), async (request, reply) => {
    const q = request.query as Record<string, unknown>
    const mode = q['hub.mode']
    const token = q['hub.verify_token']
    const challenge = q['hub.challenge']
    if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string' || !challenge) {
      return reject(request, reply, 'malformed')
    }
    const expected = await secretOf(request, reply, 'verifyToken')
    if (expected === undefined) return reply
    if (!safeEqualString(token, expected)) return reject(request, reply, 'verify_token_mismatch')
    return handshake(request, reply, challenge)
  })

  app.post('/:token', routeConfig(ctx, 'facebook'), async (request, reply) => {
    const signature = header(request, 'x-hub-signature-256')
    if (!signature) return reject(request, reply, 'missing_signature')
    if (mediaType(request) !== 'application/json') return reject(request, reply, 'unsupported_media_type')
    const secret = await secretOf(request, reply, 'appSecret')
    if (secret === undefined) return reply
    const raw = rawBody(request)
    const given = signature.startsWith('sha256=') ? signature.slice(7) : ''
    if (!hexSignatureMatches(given, hmac('sha256', secret, raw)))
      return reject(request, reply, 'bad_signature')
    const body = parseJsonObject(raw)
    if (!body || typeof body.object !== 'string' || !Array.isArray(body.entry)) {
      return reject(request, reply, 'malformed')
    }
    return accept(ctx, request, reply, { dedupeId: given.toLowerCase(), reconcile: true, status: 200 })
  })
}
