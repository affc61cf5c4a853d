/** The Facebook section of the sandbox CLI's config file (validated; unknown fields are errors). */
import { z } from 'zod'
import type { FacebookSandboxOptions } from './state.ts'

export const facebookConfigSchema = z
  .object({
    targets: z
      .array(
        z
          .object({
            id: z.string().regex(/^[0-9A-Za-z_.-]{1,128}$/),
            name: z.string().optional(),
            kind: z.enum(['page', 'group']).optional(),
            accessToken: z.string().min(1),
            appSecret: z.string().min(1).optional(),
            requireAppSecretProof: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict() satisfies z.ZodType<FacebookSandboxOptions>
