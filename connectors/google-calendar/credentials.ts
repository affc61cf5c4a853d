/**
 * Google Calendar credentials, from the Secret a CalendarSync names. Either
 *
 * - `serviceAccountKey`: the JSON key file of a service account (the calendars are shared with
 *   its `client_email`), optionally with `subject`: the user it acts for (domain-wide
 *   delegation; needed to invite attendees), or
 * - `clientId`, `clientSecret`, `refreshToken`: an OAuth client and a user's refresh token.
 *
 * Messages name keys and JSON fields, never a value.
 */
import { createPrivateKey } from 'node:crypto'
import { z } from 'zod'
import { Reason, StallingError } from '../errors.ts'

export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token'

export interface ServiceAccountCredentials {
  kind: 'serviceAccount'
  clientEmail: string
  privateKey: string
  privateKeyId?: string
  /** The key file's `token_uri` (where its JWT-bearer grant is posted). */
  tokenUri?: string
  /** User to act for (domain-wide delegation). */
  subject?: string
}

export interface OAuthCredentials {
  kind: 'oauth'
  clientId: string
  clientSecret: string
  refreshToken: string
}

export type GoogleCredentials = ServiceAccountCredentials | OAuthCredentials

const OAUTH_KEYS = ['clientId', 'clientSecret', 'refreshToken'] as const

const keyFileSchema = z.object({
  type: z.literal('service_account', { message: 'type must be "service_account"' }).optional(),
  client_email: z.email({ message: 'client_email must be an email address' }),
  private_key: z.string().min(1, { message: 'private_key is empty' }),
  private_key_id: z.string().optional(),
  token_uri: z.url({ protocol: /^https?$/, message: 'token_uri must be an http(s) URL' }).optional(),
})

interface Problem {
  key: string
  message: string
  missing: boolean
}

function check(data: Record<string, string | undefined>): { creds?: GoogleCredentials; problem?: Problem } {
  const present = (k: string) => typeof data[k] === 'string' && (data[k] as string).trim() !== ''
  const subject = data.subject?.trim()
  if (subject !== undefined && subject !== '' && !z.email().safeParse(subject).success) {
    return { problem: { key: 'subject', message: 'subject must be an email address', missing: false } }
  }
  if (present('serviceAccountKey')) {
    let json: unknown
    try {
      json = JSON.parse(data.serviceAccountKey as string)
    } catch {
      // the parser's message quotes the input: never show it
      return { problem: { key: 'serviceAccountKey', message: 'is not valid JSON', missing: false } }
    }
    const parsed = keyFileSchema.safeParse(json)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      return {
        problem: {
          key: 'serviceAccountKey',
          message: issue?.message ?? 'is not a service account key',
          missing: false,
        },
      }
    }
    const k = parsed.data
    try {
      createPrivateKey(k.private_key)
    } catch {
      return {
        problem: {
          key: 'serviceAccountKey',
          message: 'private_key is not a PEM private key',
          missing: false,
        },
      }
    }
    const creds: ServiceAccountCredentials = {
      kind: 'serviceAccount',
      clientEmail: k.client_email,
      privateKey: k.private_key,
    }
    if (k.private_key_id) creds.privateKeyId = k.private_key_id
    if (k.token_uri) creds.tokenUri = k.token_uri
    if (subject) creds.subject = subject
    return { creds }
  }
  const given = OAUTH_KEYS.filter(present)
  if (given.length === 0) {
    return {
      problem: {
        key: 'serviceAccountKey',
        message: 'the Secret needs serviceAccountKey, or clientId, clientSecret and refreshToken',
        missing: true,
      },
    }
  }
  const missing = OAUTH_KEYS.find((k) => !present(k))
  if (missing) {
    return {
      problem: { key: missing, message: `${missing} is needed with ${given.join(', ')}`, missing: true },
    }
  }
  return {
    creds: {
      kind: 'oauth',
      clientId: (data.clientId as string).trim(),
      clientSecret: (data.clientSecret as string).trim(),
      refreshToken: (data.refreshToken as string).trim(),
    },
  }
}

/**
 * Zod schema of the Secret's decoded data (for the controller's credential check): the first
 * issue's path names the offending key. Output: the data, unchanged.
 */
export const googleCredentialsSchema: z.ZodType<Record<string, string>> = z
  .record(z.string(), z.string())
  .superRefine((data, ctx) => {
    const { problem } = check(data)
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.key], message: problem.message })
  })

/**
 * The credentials in a Secret's decoded data. Throws `StallingError` (`SecretKeyMissing` or
 * `InvalidCredentials`, `field` = the key) when they are incomplete or malformed.
 */
export function parseGoogleCredentials(data: Record<string, string | undefined>): GoogleCredentials {
  const { creds, problem } = check(data)
  if (creds) return creds
  const p = problem as Problem
  if (p.missing) {
    throw new StallingError(Reason.SecretKeyMissing, `Google credentials: ${p.message}`, { field: p.key })
  }
  throw new StallingError(Reason.InvalidCredentials, `Google credentials: key "${p.key}": ${p.message}`, {
    field: p.key,
  })
}

/** Values that must never appear in a message (for `sanitizeMessage`). */
export function credentialValues(c: GoogleCredentials): string[] {
  return c.kind === 'oauth' ? [c.clientSecret, c.refreshToken] : [c.privateKey]
}
