/** The Twilio section of the sandbox CLI's config file (validated; unknown fields are errors). */
import { z } from 'zod'
import type { TwilioSandboxOptions } from './state.ts'

const number = z.string().regex(/^\+[1-9][0-9]{6,14}$/)

export const twilioConfigSchema = z
  .object({
    accounts: z
      .array(
        z
          .object({
            sid: z.string().regex(/^AC[0-9a-f]{32}$/),
            authToken: z.string().min(1),
            status: z.enum(['active', 'suspended', 'closed']).optional(),
            apiKeys: z
              .array(
                z.object({ sid: z.string().regex(/^SK[0-9a-f]{32}$/), secret: z.string().min(1) }).strict(),
              )
              .optional(),
          })
          .strict(),
      )
      .optional(),
    optedOut: z.array(number).optional(),
    openSessions: z.array(number).optional(),
    unreachable: z.array(number).optional(),
    invalidNumbers: z.array(number).optional(),
    readers: z.array(number).optional(),
    lostCallbacks: z.array(number).optional(),
    callbackDelayMs: z.number().int().min(0).max(60_000).optional(),
  })
  .strict() satisfies z.ZodType<TwilioSandboxOptions>
