import { type Logger, type LoggerOptions, pino } from 'pino'

/**
 * Paths redacted in every Switchboard log line. Secret data, tokens and auth headers never
 * reach the output, whatever a caller passes in.
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
    formatters: { level: (label) => ({ level: label }) },
  }
  return opts.destination ? pino(options, opts.destination) : pino(options)
}
