/** The Calendly section of the sandbox CLI's config file (validated; unknown fields are errors). */
import { z } from 'zod'
import type { CalendlySandboxOptions } from './state.ts'

export const calendlyConfigSchema = z
  .object({
    personalAccessTokens: z.array(z.string().min(1)).optional(),
    oauthClients: z
      .array(z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1) }).strict())
      .optional(),
    accessTokenTtlSeconds: z.number().int().positive().optional(),
    baseUrl: z.url().optional(),
    webhooks: z
      .array(
        z
          .object({
            url: z.url(),
            signingKey: z.string().min(1),
            events: z.array(z.enum(['invitee.created', 'invitee.canceled'])).optional(),
          })
          .strict(),
      )
      .optional(),
    deliveryTimeoutMs: z.number().int().positive().optional(),
  })
  .strict() satisfies z.ZodType<CalendlySandboxOptions>
