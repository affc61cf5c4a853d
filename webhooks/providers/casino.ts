/**
 * Casino platforms (SOFTSWISS, Altenar, BET Software, Playtech PAM). None publishes a webhook
 * specification, so this is Switchboard's adapter contract, in the SOFTSWISS style:
 *
 * - `POST /hooks/<platform>/<token>`, `Content-Type: application/json`, a JSON object body whose
 *   `stream` names the stream that changed (`players`, `transactions` or `games`);
 * - `X-Delivery-Id`: the platform's id of the delivery, the same on a retry (deduplicated);
 * - `X-Request-Timestamp`: when it was signed, in Unix seconds; more than 5 minutes away from
 *   the server's clock is refused (`stale`);
 * - `X-REQUEST-SIGN`: hex HMAC-SHA256 of `<delivery id>.<timestamp>.<raw body>`, keyed with the
 *   resource's dedicated `webhookSecret` (never the key Switchboard signs its API calls with, so
 *   a captured API request cannot be posted back as a webhook).
 *
 * Every input that changes what happens is signed: a replay with a new id or timestamp fails the
 * signature, a replay of the same one is a duplicate, and an old one is stale. A delivery asks
 * for a sync of the stream it names only.
 */
import type { FastifyPluginAsync } from 'fastify'
import { casinoStreams, type ProviderId } from '../../controller/api/index.ts'
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
  syncRoute,
  targetHook,
  useRawBody,
  withSecret,
} from '../pipeline.ts'

export const CASINO_SIGNATURE_HEADER = 'X-REQUEST-SIGN'
export const CASINO_DELIVERY_HEADER = 'X-Delivery-Id'
export const CASINO_TIMESTAMP_HEADER = 'X-Request-Timestamp'
export const CASINO_TOLERANCE_SECONDS = 300

const STREAMS: ReadonlySet<string> = new Set(casinoStreams)

export function casinoPlugin(provider: ProviderId): FastifyPluginAsync<ProviderPluginOptions> {
  return async (app, { ctx }) => {
    useRawBody(app, ctx.bodyLimit)
    app.addHook('onRequest', targetHook(ctx, provider))
    app.post(
      '/:token',
      routeConfig(ctx, provider),
      syncRoute((request, reply) => {
        const signature = header(request, 'x-request-sign')
        if (!signature) return reject(request, reply, 'missing_signature')
        if (mediaType(request) !== 'application/json') return reject(request, reply, 'unsupported_media_type')
        const deliveryId = header(request, 'x-delivery-id')
        const timestamp = header(request, 'x-request-timestamp')
        if (!deliveryId || !ENTITY_KEY.test(deliveryId) || !timestamp || !/^\d{1,12}$/.test(timestamp)) {
          return reject(request, reply, 'malformed')
        }
        return withSecret(request, reply, 'signingSecret', (secret) => {
          const raw = rawBody(request)
          // what is signed: `<delivery id>.<timestamp>.<raw body>`, fed to the HMAC in parts (no copy)
          const expected = hmac('sha256', secret, `${deliveryId}.${timestamp}.`, raw)
          if (!hexSignatureMatches(signature.trim(), expected)) return reject(request, reply, 'bad_signature')
          if (Math.abs(ctx.now() / 1000 - Number(timestamp)) > CASINO_TOLERANCE_SECONDS) {
            return reject(request, reply, 'stale')
          }
          const body = parseJsonObject(raw)
          const stream = body?.stream
          if (typeof stream !== 'string' || !STREAMS.has(stream)) return reject(request, reply, 'malformed')
          return accept(ctx, request, reply, { dedupeId: deliveryId, reconcile: true, stream })
        })
      }),
    )
  }
}
