/**
 * Twitch EventSub (webhook transport). Every message carries `Twitch-Eventsub-Message-Id`,
 * `-Timestamp`, `-Signature` (`sha256=` + hex HMAC-SHA256(secret, id + timestamp + rawBody)) and
 * `-Type`:
 * - `webhook_callback_verification`: answered 200 with the raw `challenge` as text/plain (also
 *   while the resource is not ready yet: it is how its subscription becomes enabled);
 * - `notification`: `stream.online` / `stream.offline` are callback-only data (sink, keyed by the
 *   EventSub message id, so that each one reaches the controller, which orders them by time per
 *   broadcaster and sends each to the Destinations once); every notification also asks for a
 *   reconcile;
 * - `revocation`: asks for a reconcile; the controller reads the subscription's status from
 *   Twitch and makes it again or reports it.
 * Messages more than 10 minutes old are refused; message ids are deduplicated.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { CallbackEvent } from '../callbacks.ts'
import {
  accept,
  ENTITY_KEY,
  handshake,
  header,
  hexSignatureMatches,
  hmac,
  type ProviderPluginOptions,
  parseJsonObject,
  rawBody,
  reject,
  routeConfig,
  syncRoute,
  targetHook,
  targetOf,
  useRawBody,
  withSecret,
} from '../pipeline.ts'

export const TWITCH_HEADERS = {
  id: 'Twitch-Eventsub-Message-Id',
  timestamp: 'Twitch-Eventsub-Message-Timestamp',
  signature: 'Twitch-Eventsub-Message-Signature',
  type: 'Twitch-Eventsub-Message-Type',
} as const
export const TWITCH_MAX_AGE_MS = 10 * 60_000
const STREAM_EVENTS = new Set(['stream.online', 'stream.offline'])

export const twitchPlugin: FastifyPluginAsync<ProviderPluginOptions> = async (app, { ctx }) => {
  useRawBody(app, ctx.bodyLimit)
  app.addHook(
    'onRequest',
    targetHook(ctx, 'twitch', {
      isHandshake: (req) => req.headers['twitch-eventsub-message-type'] === 'webhook_callback_verification',
    }),
  )
  app.post(
    '/:token',
    routeConfig(ctx, 'twitch'),
    syncRoute((request, reply) => {
      const signature = header(request, 'twitch-eventsub-message-signature')
      if (!signature) return reject(request, reply, 'missing_signature')
      const id = header(request, 'twitch-eventsub-message-id')
      const timestamp = header(request, 'twitch-eventsub-message-timestamp')
      const type = header(request, 'twitch-eventsub-message-type')
      if (!id || !timestamp || !type || !ENTITY_KEY.test(id)) return reject(request, reply, 'malformed')
      return withSecret(request, reply, 'eventsubSecret', (secret) =>
        verified(request, reply, secret, signature, id, timestamp, type),
      )
    }),
  )

  function verified(
    request: FastifyRequest,
    reply: FastifyReply,
    secret: string,
    signature: string,
    id: string,
    timestamp: string,
    type: string,
  ): FastifyReply {
    const raw = rawBody(request)
    const given = signature.startsWith('sha256=') ? signature.slice(7) : ''
    if (!hexSignatureMatches(given, hmac('sha256', secret, id, timestamp, raw))) {
      return reject(request, reply, 'bad_signature')
    }
    const sentAt = Date.parse(timestamp)
    if (Number.isNaN(sentAt)) return reject(request, reply, 'malformed')
    if (Math.abs(ctx.now() - sentAt) > TWITCH_MAX_AGE_MS) return reject(request, reply, 'stale')
    const body = parseJsonObject(raw)
    const subscription = body?.subscription as Record<string, unknown> | undefined
    if (!body || typeof subscription !== 'object' || subscription === null) {
      return reject(request, reply, 'malformed')
    }

    switch (type) {
      case 'webhook_callback_verification': {
        if (typeof body.challenge !== 'string' || body.challenge === '')
          return reject(request, reply, 'malformed')
        // the controller learns that the subscription is now enabled
        ctx.requester.request(targetOf(request))
        return handshake(request, reply, body.challenge)
      }
      case 'notification': {
        const subType = subscription.type
        const event = body.event as Record<string, unknown> | undefined
        if (typeof subType !== 'string' || typeof event !== 'object' || event === null) {
          return reject(request, reply, 'malformed')
        }
        const callbacks: CallbackEvent[] = []
        if (STREAM_EVENTS.has(subType)) {
          const broadcaster = event.broadcaster_user_id
          if (typeof broadcaster !== 'string' || !ENTITY_KEY.test(broadcaster)) {
            return reject(request, reply, 'malformed')
          }
          callbacks.push({
            provider: 'twitch',
            type: subType,
            key: id,
            deliveryId: id,
            occurredAt:
              typeof event.started_at === 'string' && event.started_at.length <= 64
                ? event.started_at
                : timestamp.length <= 64
                  ? timestamp
                  : new Date(sentAt).toISOString(),
            data: {
              broadcaster,
              live: subType === 'stream.online',
              streamId: typeof event.id === 'string' ? event.id.slice(0, 64) : null,
              streamType: typeof event.type === 'string' ? event.type.slice(0, 32) : null,
            },
          })
        }
        return accept(ctx, request, reply, { dedupeId: id, reconcile: true, callbacks })
      }
      case 'revocation': {
        const subId = subscription.id
        if (typeof subId !== 'string' || !ENTITY_KEY.test(subId)) return reject(request, reply, 'malformed')
        return accept(ctx, request, reply, { dedupeId: id, reconcile: true })
      }
      default:
        return reject(request, reply, 'malformed')
    }
  }
}
