/** The Google Calendar section of the sandbox CLI's config file (validated; unknown fields are errors). */
import { z } from 'zod'
import type { GoogleCalendarSandboxOptions } from './state.ts'

export const googleCalendarConfigSchema = z
  .object({
    calendars: z
      .array(
        z.union([
          z.string().min(1),
          z
            .object({
              id: z.string().min(1),
              summary: z.string().optional(),
              timeZone: z.string().optional(),
              accessRole: z.enum(['owner', 'writer', 'reader']).optional(),
            })
            .strict(),
        ]),
      )
      .optional(),
    serviceAccounts: z
      .array(z.object({ clientEmail: z.string().min(1), publicKeyPem: z.string().min(1) }).strict())
      .optional(),
    accessTokenTtlSeconds: z.number().int().positive().optional(),
    restrictServiceAccountAttendees: z.boolean().optional(),
    push: z
      .object({
        timeoutMs: z.number().int().positive().optional(),
        maxNotifications: z.number().int().min(0).optional(),
        maxTtlMs: z.number().int().positive().optional(),
        defaultTtlMs: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict() satisfies z.ZodType<GoogleCalendarSandboxOptions>
