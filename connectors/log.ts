import { type Logger, type LoggerOptions, pino } from 'pino'
import { allProviders } from '../controller/api/index.ts'

/**
 * Paths redacted in every Switchboard log line (a Secret's `data` and `stringData`, near the top).
 * Credential fields are redacted by name at any depth as well ({@link redactSecrets}).
 */
export const REDACT_PATHS = [
  'data',
  '*.data',
  'stringData',
  '*.stringData',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'writeKey',
  '*.writeKey',
  'apiKey',
  '*.apiKey',
  'apiSecret',
  '*.apiSecret',
  'password',
  '*.password',
  'authToken',
  '*.authToken',
  'clientSecret',
  '*.clientSecret',
  'signingSecret',
  '*.signingSecret',
  'hashKey',
  '*.hashKey',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'headers["x-switchboard-signature"]',
  'credentials',
  '*.credentials',
]

/**
 * Names of fields that hold a credential, redacted at any depth and in any letter case (header
 * names arrive in any case): every Secret key a provider's connector or webhook reads (from the
 * provider descriptions), the Destination keys, OAuth and service-account fields, and the
 * signature and key headers.
 */
export const SECRET_FIELD_NAMES: ReadonlySet<string> = new Set(
  [
    'secret',
    'token',
    'password',
    'credentials',
    'writeKey',
    'apiKey',
    'apiSecret',
    'authToken',
    'clientSecret',
    'client_secret',
    'signingSecret',
    'signingKey',
    'hashKey',
    'webhookSecret',
    'webhookSigningKey',
    'eventsubSecret',
    'appSecret',
    'verifyToken',
    'channelToken',
    'accessToken',
    'access_token',
    'refreshToken',
    'refresh_token',
    'pageAccessToken',
    'privateKey',
    'private_key',
    'licenseKey',
    'authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'x-api-key',
    'x-switchboard-signature',
    'x-request-sign',
    'x-twilio-signature',
    'x-hub-signature-256',
    'x-patreon-signature',
    'calendly-webhook-signature',
    'twitch-eventsub-message-signature',
    'x-goog-channel-token',
    ...allProviders.flatMap((p) => [
      ...Object.keys(p.credentials?.shape ?? {}),
      ...Object.values(p.webhook?.secrets ?? {}).flat(),
    ]),
  ].map((n) => n.toLowerCase()),
)

const CENSOR = '[REDACTED]'
const MAX_DEPTH = 10

/**
 * A copy of `value` with every field named in {@link SECRET_FIELD_NAMES} censored, at any depth
 * (plain objects and arrays; bounded depth, cycles left alone). Returns `value` itself when
 * nothing needed censoring, so a log line without credentials costs one walk and no copy.
 */
export function redactSecrets<T>(value: T, depth = 0, path: WeakSet<object> = new WeakSet()): T {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || path.has(value)) return value
  if (!Array.isArray(value)) {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) return value
  }
  // `path` holds the objects above this one: a cycle stops, a shared object is walked each time
  path.add(value)
  try {
    if (Array.isArray(value)) {
      let out: unknown[] | undefined
      value.forEach((v, i) => {
        const r = redactSecrets(v, depth + 1, path)
        if (r !== v) {
          out ??= [...value]
          out[i] = r
        }
      })
      return (out ?? value) as T
    }
    let out: Record<string, unknown> | undefined
    for (const [k, v] of Object.entries(value)) {
      const secret = SECRET_FIELD_NAMES.has(k.toLowerCase()) && v !== undefined
      const r = secret ? CENSOR : redactSecrets(v, depth + 1, path)
      if (r !== v) {
        out ??= { ...(value as Record<string, unknown>) }
        out[k] = r
      }
    }
    return (out ?? value) as T
  } finally {
    path.delete(value)
  }
}

export type { Logger }

export interface CreateLoggerOptions {
  level?: string
  name?: string
  /** Where to write; defaults to stdout. Tests pass a stream to inspect the output. */
  destination?: pino.DestinationStream
}

export function createLogger(opts: CreateLoggerOptions = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    base: opts.name ? { component: opts.name } : {},
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redactSecrets(obj),
      bindings: (bindings) => redactSecrets(bindings),
    },
  }
  return opts.destination ? pino(options, opts.destination) : pino(options)
}
