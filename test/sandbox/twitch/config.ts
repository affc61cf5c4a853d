/** The Twitch section of the sandbox CLI's config file (validated; unknown fields are errors). */
import { z } from 'zod'
import type { TwitchSandboxOptions } from './state.ts'

export const twitchConfigSchema = z
  .object({
    clients: z
      .array(z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1) }).strict())
      .optional(),
    users: z
      .array(
        z
          .object({
            login: z.string().regex(/^[A-Za-z0-9_]{1,25}$/),
            id: z
              .string()
              .regex(/^[0-9]{1,20}$/)
              .optional(),
            displayName: z.string().min(1).optional(),
          })
          .strict(),
      )
      .optional(),
    tokenTtlSeconds: z.number().int().positive().optional(),
    rateLimitPoints: z.number().int().positive().optional(),
    rateLimitWindowMs: z.number().int().positive().optional(),
    maxTotalCost: z.number().int().positive().optional(),
    verifyCallbacks: z.boolean().optional(),
  })
  .strict() satisfies z.ZodType<TwitchSandboxOptions>
