/**
 * Google's error bodies: `{"error":{"code","message","errors":[{"domain","reason","message"}],"status"}}`
 * for the Calendar API, `{"error","error_description"}` for the token endpoint.
 */

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  410: 'ABORTED',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
}

/** A Calendar API failure a handler throws; the plugin answers it in Google's shape. */
export class GoogleApiError extends Error {
  readonly status: number
  readonly reason: string
  readonly domain: string
  readonly extra: Record<string, string>

  constructor(
    status: number,
    reason: string,
    message: string,
    domain = 'global',
    extra: Record<string, string> = {},
  ) {
    super(message)
    this.status = status
    this.reason = reason
    this.domain = domain
    this.extra = extra
  }

  toJSON() {
    return googleErrorBody(this.status, this.reason, this.message, this.domain, this.extra)
  }
}

export function googleErrorBody(
  status: number,
  reason: string,
  message: string,
  domain = 'global',
  extra: Record<string, string> = {},
) {
  const body: { code: number; message: string; errors: Record<string, string>[]; status?: string } = {
    code: status,
    message,
    errors: [{ domain, reason, message, ...extra }],
  }
  const text = STATUS_TEXT[status]
  if (text) body.status = text
  return { error: body }
}

/** What Google answers for a status when a fault names no reason. */
export function defaultReason(status: number): { reason: string; domain: string; message: string } {
  switch (status) {
    case 400:
      return { reason: 'badRequest', domain: 'global', message: 'Bad Request' }
    case 401:
      return { reason: 'authError', domain: 'global', message: 'Invalid Credentials' }
    case 403:
      return { reason: 'rateLimitExceeded', domain: 'usageLimits', message: 'Rate Limit Exceeded' }
    case 404:
      return { reason: 'notFound', domain: 'global', message: 'Not Found' }
    case 409:
      return { reason: 'duplicate', domain: 'global', message: 'The requested identifier already exists.' }
    case 410:
      return { reason: 'deleted', domain: 'global', message: 'Resource has been deleted' }
    case 412:
      return { reason: 'conditionNotMet', domain: 'global', message: 'Precondition Failed' }
    case 429:
      return { reason: 'rateLimitExceeded', domain: 'usageLimits', message: 'Rate Limit Exceeded' }
    default:
      return status >= 500
        ? { reason: 'backendError', domain: 'global', message: 'Backend Error' }
        : { reason: 'badRequest', domain: 'global', message: 'Bad Request' }
  }
}

const REASON_DOMAIN: Record<string, string> = {
  rateLimitExceeded: 'usageLimits',
  userRateLimitExceeded: 'usageLimits',
  quotaExceeded: 'usageLimits',
  dailyLimitExceeded: 'usageLimits',
}

/**
 * The body of an injected fault: the fault injector's default body (`{error:'injected fault'}`)
 * becomes Google's error for the status, and `{ reason: 'quotaExceeded' }` a Google error with
 * that reason. Other bodies are left as the test wrote them. Token endpoint faults get the
 * OAuth shape.
 */
export function faultBody(status: number, payload: unknown, tokenEndpoint: boolean): string | undefined {
  if (typeof payload !== 'string') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const p = parsed as Record<string, unknown>
  const keys = Object.keys(p)
  const isDefault = p.error === 'injected fault' && keys.every((k) => k === 'error' || k === 'status')
  const shorthand =
    keys.length >= 1 && typeof p.reason === 'string' && keys.every((k) => k === 'reason' || k === 'message')
  if (!isDefault && !shorthand) return undefined
  if (tokenEndpoint) {
    const error = shorthand
      ? (p.reason as string)
      : status >= 500
        ? 'internal_failure'
        : status === 429
          ? 'rate_limit_exceeded'
          : 'invalid_request'
    return JSON.stringify({
      error,
      error_description: typeof p.message === 'string' ? p.message : 'injected fault',
    })
  }
  const def = defaultReason(status)
  const reason = shorthand ? (p.reason as string) : def.reason
  const domain = shorthand ? (REASON_DOMAIN[reason] ?? 'global') : def.domain
  const message = typeof p.message === 'string' ? p.message : shorthand ? reason : def.message
  return JSON.stringify(googleErrorBody(status, reason, message, domain))
}
