import type { z } from 'zod'
import { Reason, StallingError } from './errors.ts'

/**
 * Validates the decoded keys of a Secret with a provider's credentials schema. A missing key is
 * `SecretKeyMissing` and a malformed one `InvalidCredentials`, each naming the key and never its
 * value (zod messages describe the rule, not the input). `what` names the Secret or the
 * provider in the message, e.g. `Secret "cdp"` or `Calendly credentials`.
 */
export function parseSecretKeys<T>(
  schema: z.ZodType<T>,
  data: Readonly<Record<string, string | undefined>>,
  what: string,
): T {
  const parsed = schema.safeParse(data)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const key = String(issue?.path[0] ?? '')
  if (issue && data[key] === undefined) {
    throw new StallingError(Reason.SecretKeyMissing, `${what} has no key "${key}"`, { field: key })
  }
  throw new StallingError(
    Reason.InvalidCredentials,
    `${what} key "${key}" is invalid: ${issue?.message ?? 'malformed'}`,
    {
      field: key,
    },
  )
}
