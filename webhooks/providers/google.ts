/**
 * Google Calendar push notifications: empty-body POSTs with `X-Goog-Channel-ID`,
 * `X-Goog-Channel-Token`, `X-Goog-Resource-State` and `X-Goog-Message-Number`. There is no
 * signature: a notification is genuine when its channel is one the resource opened
 * (`status.webhook.channels`) and its token matches the resource's channel token (compared in
 * constant time). `sync` (the first message of a channel) is a handshake: answered, no work.
 * Every other state (`exists`, `not_exists`) asks for a reconcile, which fetches the changes;
 * channel id + message number deduplicate. When status records the channel's resource id and
 * expiry, a notification about another resource, or after the expiry, is refused.
 */
import type { FastifyPluginAsync } from 'fastify'
import {
  accept,
  handshake,
  header,
  type ProviderPluginOptions,
  reject,
  routeConfig,
  safeEqualString,
  secretOf,
  targetHook,
  targetOf,
  useRawBody,
} from '../pipeline.ts'

export const GOOGLE_HEADERS = {
  channelId: 'X-Goog-Channel-ID',
  channelToken: 'X-Goog-Channel-Token',
  resourceState: 'X-Goog-Resource-State',
  messageNumber: 'X-Goog-Message-Number',
  resourceId: 'X-Goog-Resource-ID',
} as const

export const googlePlugin: FastifyPluginAsync<ProviderPluginOptions> = async (app, { ctx }) => {
  useRawBody(app, ctx.bodyLimit)
  app.addHook(
    'onRequest',
    targetHook(ctx, 'google', { isHandshake: (req) => req.headers['x-goog-resource-state'] === 'sync' }),
  )
  app.post('/:token', routeConfig(ctx, 'google'), async (request, reply) => {
    const token = header(request, 'x-goog-channel-token')
    if (!token) return reject(request, reply, 'missing_signature')
    const channelId = header(request, 'x-goog-channel-id')
    const state = header(request, 'x-goog-resource-state')
    const messageNumber = header(request, 'x-goog-message-number')
    if (
      !channelId ||
      channelId.length > 64 ||
      !state ||
      !/^[a-z_]{1,32}$/.test(state) ||
      !messageNumber ||
      !/^\d{1,20}$/.test(messageNumber)
    ) {
      return reject(request, reply, 'malformed')
    }
    const expected = await secretOf(request, reply, 'channelToken')
    if (expected === undefined) return reply
    if (!safeEqualString(token, expected)) return reject(request, reply, 'bad_signature')
    // a genuine notification is for a channel the resource opened, about the resource it watches,
    // and arrives before the channel expired (Google stops sending then; a late one is a replay)
    const channel = targetOf(request).channels.find((c) => c.id === channelId)
    const resourceId = header(request, 'x-goog-resource-id')
    if (
      !channel ||
      (channel.resourceId !== undefined && resourceId !== channel.resourceId) ||
      (channel.expiration !== undefined && !(ctx.now() < Date.parse(channel.expiration)))
    ) {
      return reject(request, reply, 'unknown_channel')
    }
    if (state === 'sync') return handshake(request, reply, '')
    return accept(ctx, request, reply, { dedupeId: `${channelId}:${messageNumber}`, reconcile: true })
  })
}
