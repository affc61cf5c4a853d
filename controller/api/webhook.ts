import { z } from 'zod'
import { dateTime, httpUrl } from './common.ts'

/** `status.webhook` of every kind that receives webhooks (the webhook server indexes `path`). */
export const webhookStatus = z
  .object({
    path: z
      .string()
      .max(256)
      .describe(
        'The path this resource receives webhooks on, `/hooks/<provider>/<token>`. The token is ' +
          'random and generated once; it is what makes the path unguessable.',
      ),
    url: httpUrl(
      'The public URL to give the provider: the configured public base URL followed by the path.',
    ).optional(),
    channels: z
      .array(
        z
          .object({
            id: z.string().min(1).max(64).describe('The channel id given to the provider.'),
            resourceId: z.string().max(256).describe('The provider id of the watched resource.').optional(),
            expiration: dateTime('When the channel expires at the provider.').optional(),
          })
          .describe('One open push channel.'),
      )
      .max(64)
      .describe(
        'Push channels opened at the provider (Google Calendar). Notifications for others are refused.',
      )
      .optional(),
  })
  .describe('Where this resource receives webhooks. Written by the controller.')
