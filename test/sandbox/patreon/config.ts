/** The Patreon section of the sandbox CLI's config file (validated; unknown fields are errors). */
import { z } from 'zod'
import type { PatreonSandboxOptions } from './state.ts'

export const patreonConfigSchema = z
  .object({
    clients: z
      .array(z.object({ clientId: z.string().min(1), clientSecret: z.string().min(1) }).strict())
      .optional(),
    campaigns: z
      .array(
        z
          .object({
            id: z
              .string()
              .regex(/^[0-9]{1,20}$/)
              .optional(),
            name: z.string().min(1).optional(),
            tiers: z
              .array(
                z
                  .object({
                    id: z.string().optional(),
                    title: z.string().min(1),
                    amountCents: z.number().int().min(0),
                  })
                  .strict(),
              )
              .optional(),
            members: z.number().int().min(0).max(1_000_000).optional(),
          })
          .strict(),
      )
      .optional(),
    grants: z
      .array(
        z
          .object({
            campaignId: z.string().min(1),
            clientId: z.string().min(1).optional(),
            accessToken: z.string().min(1),
            refreshToken: z.string().min(1),
          })
          .strict(),
      )
      .optional(),
    accessTokenTtlSeconds: z.number().int().positive().optional(),
    rateLimit: z
      .object({ requests: z.number().int().positive(), windowSeconds: z.number().positive() })
      .strict()
      .optional(),
    pauseAfterFailures: z.number().int().positive().optional(),
    deliveryTimeoutMs: z.number().int().positive().optional(),
  })
  .strict() satisfies z.ZodType<PatreonSandboxOptions>
