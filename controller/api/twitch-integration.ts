import { z } from 'zod'
import {
  commonStatusFields,
  credentialsSecretRef,
  dnsSubdomainPattern,
  httpUrl,
  interval,
  suspend,
} from './common.ts'
import { connectStatus } from './connect.ts'
import { defineKind, type Resource } from './types.ts'
import { webhookStatus } from './webhook.ts'

/** A Twitch login: 1 to 25 letters, digits and underscores (Twitch compares them in lower case). */
export const twitchLoginPattern = /^[A-Za-z0-9_]{1,25}$/
/** Channels one TwitchIntegration tracks, at most. */
export const MAX_TWITCH_CHANNELS = 500

/**
 * The EventSub subscription types a TwitchIntegration can create. stream.online, stream.offline
 * and channel.update need no authorisation by the broadcaster; channel.subscribe needs the
 * broadcaster to have granted the application `channel:read:subscriptions` (Twitch answers 403
 * until then, which the subscription's status reports).
 */
export const twitchEventTypes = [
  'stream.online',
  'stream.offline',
  'channel.update',
  'channel.subscribe',
] as const
export type TwitchEventType = (typeof twitchEventTypes)[number]

/** The EventSub statuses Twitch reports (and `error`, a subscription Switchboard could not create). */
export const twitchSubscriptionStatuses = [
  'enabled',
  'webhook_callback_verification_pending',
  'webhook_callback_verification_failed',
  'notification_failures_exceeded',
  'authorization_revoked',
  'moderator_removed',
  'user_removed',
  'version_removed',
  'beta_maintenance',
  'error',
] as const

export const twitchIntegrationSpec = z
  .object({
    credentialsSecretRef: credentialsSecretRef.describe(
      "The Secret with the Twitch application's credentials, in the same namespace: `clientId` " +
        'and `clientSecret` (an app access token is obtained from them by client credentials) ' +
        'and `eventsubSecret` (10 to 100 characters; Twitch signs every EventSub message with it). ' +
        "With `channel.subscribe` in spec.events, the broadcaster's user token too: `refreshToken` " +
        '(and, written by the controller, `accessToken` and `accessTokenExpiresAt`). Without it, and ' +
        'with the label switchboard.dev/controller-writable=true on the Secret, a one-time connect ' +
        "link is published in `status.connect` and the broadcaster's consent writes the tokens.",
    ),
    channels: z
      .array(
        z
          .string()
          .regex(twitchLoginPattern)
          .describe('A channel by its login, the name in its URL (`twitch.tv/<login>`).'),
      )
      .min(1)
      .max(MAX_TWITCH_CHANNELS)
      .meta({
        description:
          `The channels to track, by login, at most ${MAX_TWITCH_CHANNELS}. Logins are matched ` +
          'in lower case; one that Twitch does not know is listed in `status.unresolvedChannels`.',
        'x-kubernetes-list-type': 'set',
      }),
    events: z
      .array(z.enum(twitchEventTypes).describe('An EventSub subscription type.'))
      .min(1)
      .max(twitchEventTypes.length)
      .default(['stream.online', 'stream.offline'])
      .meta({
        description:
          'The EventSub subscriptions made for every channel: `stream.online`, `stream.offline`, ' +
          '`channel.update` (title or category changed), `channel.subscribe` (needs the ' +
          "broadcaster's authorisation). Defaults to stream.online and stream.offline.",
        'x-kubernetes-list-type': 'set',
      }),
    destinationRefs: z
      .array(
        z
          .object({
            name: z
              .string()
              .min(1)
              .max(253)
              .regex(dnsSubdomainPattern)
              .describe('Name of a Destination in the same namespace.'),
          })
          .describe('A Destination in the same namespace.'),
      )
      .max(10)
      .meta({
        description:
          'Where EventSub notifications go, as track events (`Twitch Stream Online`, ...) whose ' +
          'message id is the EventSub message id, so a redelivered notification is one event. ' +
          'Empty: notifications only update the status.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      })
      .default([]),
    interval: interval(
      '5m',
      'How often the channels are read from Helix (which corrects anything a lost notification left wrong)',
    ),
    deletionPolicy: z
      .enum(['Delete', 'Orphan'])
      .default('Delete')
      .describe(
        'What happens to the EventSub subscriptions Switchboard created when this resource is ' +
          'deleted: `Delete` (the default) removes them at Twitch, `Orphan` leaves them.',
      ),
    endpoints: z
      .object({
        api: httpUrl(
          'Base URL of the Helix API (without `/helix`). Defaults to `https://api.twitch.tv`.',
        ).optional(),
        auth: httpUrl(
          'Base URL of the Twitch OAuth server (without `/oauth2`). Defaults to `https://id.twitch.tv`.',
        ).optional(),
      })
      .describe('Other Twitch endpoints (a proxy, the sandbox); only allowed hosts are used.')
      .optional(),
    suspend,
  })
  .describe('The desired state of a TwitchIntegration.')

export const twitchLastEvent = z
  .object({
    type: z.string().max(64).describe('The EventSub subscription type (`stream.online`, ...).'),
    at: z.string().max(64).describe('When it happened, as Twitch wrote it (RFC 3339, up to nanoseconds).'),
    messageId: z.string().max(128).describe('The EventSub message id.').optional(),
  })
  .describe(
    'The last EventSub notification applied to the channel (a Helix read that corrects the live ' +
      'status does not replace it).',
  )

export const twitchChannelStatus = z
  .object({
    login: z.string().max(25).describe('The login, in lower case.'),
    userId: z.string().max(32).describe("The broadcaster's user id."),
    displayName: z.string().max(64).describe('The display name.').optional(),
    live: z.boolean().describe('Whether the channel is live. Offline is not an error.'),
    title: z.string().max(512).describe('The stream title (while live).').optional(),
    gameName: z.string().max(256).describe('The category (game) being streamed (while live).').optional(),
    viewerCount: z.int().min(0).describe('Viewers at the last Helix read (while live).').optional(),
    startedAt: z.string().max(64).describe('When the current stream started (while live).').optional(),
    lastEvent: twitchLastEvent.optional(),
  })
  .describe('One tracked channel.')

export const twitchSubscriptionStatus = z
  .object({
    id: z.string().max(64).describe('The EventSub subscription id (empty when it could not be created).'),
    type: z.string().max(64).describe('The subscription type.'),
    login: z.string().max(25).describe('The channel it is for.'),
    status: z.string().max(64).describe('Its status as Twitch reports it (`enabled`, ...), or `error`.'),
    message: z
      .string()
      .max(512)
      .describe('Why it could not be created, or what was done about it.')
      .optional(),
  })
  .describe('One EventSub subscription.')

export const twitchInboxEntry = z
  .object({
    type: z.string().max(64).describe('stream.online or stream.offline.'),
    occurredAt: z.string().max(64).describe('started_at of the stream, or when Twitch sent the message.'),
    broadcaster: z.string().max(128).describe('The broadcaster user id.'),
    live: z.boolean().describe('Whether the notification says live.'),
    streamId: z.string().max(64).nullable().describe('The stream id, when given.').optional(),
    streamType: z.string().max(32).nullable().describe('The stream type (`live`), when given.').optional(),
  })
  .describe('One notification, by EventSub message id.')

export const twitchIntegrationStatus = z
  .object({
    ...commonStatusFields,
    channels: z
      .array(twitchChannelStatus)
      .max(MAX_TWITCH_CHANNELS)
      .meta({
        description: 'The tracked channels, by login.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['login'],
      })
      .optional(),
    unresolvedChannels: z
      .array(z.string().max(25).describe('A login Twitch does not know.'))
      .max(MAX_TWITCH_CHANNELS)
      .describe('Logins of spec.channels that Twitch does not know.')
      .optional(),
    live: z.int().min(0).describe('How many channels are live.').optional(),
    subscriptions: z
      .array(twitchSubscriptionStatus)
      .max(MAX_TWITCH_CHANNELS * twitchEventTypes.length)
      .describe('The EventSub subscriptions of the channels, with their status as Twitch reports it.')
      .optional(),
    eventInbox: z
      .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/), twitchInboxEntry)
      .meta({
        description:
          'Stream notifications written by the webhook server, by EventSub message id, and drained ' +
          'by the controller into `channels` and the Destinations (so this stays short).',
        maxProperties: 2000,
      })
      .optional(),
    webhook: webhookStatus.optional(),
    broadcaster: z
      .object({
        login: z.string().max(25).describe('The login of the broadcaster who authorized.'),
        userId: z.string().max(64).describe('Their Twitch user id.'),
        scopes: z
          .array(z.string().max(128).describe('A scope.'))
          .max(64)
          .describe('The scopes Twitch reports for the user token.'),
        accessTokenExpiresAt: z
          .string()
          .max(64)
          .describe('When the user access token in use expires (RFC 3339); it is refreshed before.')
          .optional(),
      })
      .describe(
        "The broadcaster's authorization (the user token for channel.subscribe), as Twitch validated it.",
      )
      .optional(),
    connect: connectStatus.optional(),
  })
  .describe('The observed state of the TwitchIntegration, written by the controller.')

export const TwitchIntegrationKind = defineKind({
  kind: 'TwitchIntegration',
  plural: 'twitchintegrations',
  shortNames: ['twitch'],
  description:
    'A TwitchIntegration tracks the live status and stream data of Twitch channels, kept current ' +
    'by EventSub webhooks that it subscribes to, and sends stream events to Destinations.',
  spec: twitchIntegrationSpec,
  status: twitchIntegrationStatus,
  printerColumns: [
    { name: 'Live', type: 'integer', jsonPath: '.status.live', description: 'Channels live' },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the channels are tracked',
    },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      description: 'Reason of the Ready condition',
    },
    { name: 'Last Sync', type: 'date', jsonPath: '.status.lastSyncTime', description: 'Last Helix read' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
})

export type TwitchIntegrationSpec = z.output<typeof twitchIntegrationSpec>
export type TwitchIntegrationStatus = z.output<typeof twitchIntegrationStatus>
export type TwitchChannelStatus = z.output<typeof twitchChannelStatus>
export type TwitchSubscriptionStatus = z.output<typeof twitchSubscriptionStatus>
export type TwitchIntegration = Resource<TwitchIntegrationSpec, TwitchIntegrationStatus>
