/**
 * Runs the provider sandbox on loopback:
 *
 *   node test/sandbox/cli.ts [--port 0] [--config file.json] [--log]
 *
 * Prints `SANDBOX_URL=<url>` on its own line once listening; stops on SIGINT/SIGTERM.
 * The config file preconfigures providers, for example:
 *
 *   { "segment": { "writeKeys": ["demo-write-key"] },
 *     "http": { "receivers": { "demo": { "signingSecret": "demo-signing-secret" } } },
 *     "casino": { "accounts": [{ "provider": "softswiss",
 *       "credentials": { "apiKey": "demo-key", "apiSecret": "demo-secret" },
 *       "settings": { "casinoId": "demo" }, "size": { "transactions": 100000 } }] } }
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import type { CasinoProvider } from '../../controller/api/index.ts'
import { calendlyConfigSchema } from './calendly/index.ts'
import { CASINO_PROVIDER_IDS } from './casino/index.ts'
import { facebookConfigSchema } from './facebook/index.ts'
import { googleCalendarConfigSchema } from './google-calendar/index.ts'
import { patreonConfigSchema } from './patreon/index.ts'
import { buildSandbox, type SandboxOptions } from './sandbox.ts'
import { twilioConfigSchema } from './twilio/index.ts'
import { twitchConfigSchema } from './twitch/index.ts'

const configSchema = z
  .object({
    segment: z
      .object({
        writeKeys: z.array(z.string().min(1)).optional(),
        maxStoredEvents: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
    http: z
      .object({
        receivers: z
          .record(
            z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
            z
              .object({
                signingSecret: z.string().min(1),
                signatureHeader: z.string().min(1).optional(),
                toleranceSeconds: z.number().int().positive().optional(),
              })
              .strict(),
          )
          .optional(),
        maxStoredRecords: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
    casino: z
      .object({
        accounts: z
          .array(
            z
              .object({
                provider: z.enum(CASINO_PROVIDER_IDS as [CasinoProvider, ...CasinoProvider[]]),
                credentials: z.record(z.string(), z.string().min(1)),
                settings: z.record(z.string(), z.string().min(1)).optional(),
                size: z
                  .object({
                    players: z.number().int().min(0).optional(),
                    transactions: z.number().int().min(0).optional(),
                    games: z.number().int().min(0).optional(),
                  })
                  .strict()
                  .optional(),
                seed: z.string().optional(),
                startAt: z.iso.datetime({ offset: true }).optional(),
              })
              .strict(),
          )
          .optional(),
        tokenTtlSeconds: z.number().int().positive().optional(),
        sessionTtlSeconds: z.number().int().positive().optional(),
        maxPageSize: z.number().int().positive().optional(),
        timestampToleranceSeconds: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    googleCalendar: googleCalendarConfigSchema.optional(),
    calendly: calendlyConfigSchema.optional(),
    facebook: facebookConfigSchema.optional(),
    twilio: twilioConfigSchema.optional(),
    twitch: twitchConfigSchema.optional(),
    patreon: patreonConfigSchema.optional(),
    maxRequestLog: z.number().int().positive().optional(),
  })
  .strict()

export async function loadConfig(file: string): Promise<SandboxOptions> {
  const text = await readFile(file, 'utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Error(`${file}: not valid JSON`)
  }
  const parsed = configSchema.safeParse(json)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new Error(`${file}: ${issues}`)
  }
  return parsed.data as SandboxOptions
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      config: { type: 'string' },
      log: { type: 'boolean', default: false },
    },
    strict: true,
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be 0..65535')
  const options = values.config ? await loadConfig(values.config) : {}
  const sandbox = await buildSandbox({ ...options, logger: values.log })
  const url = await sandbox.listen(port, '127.0.0.1')
  process.stdout.write(`SANDBOX_URL=${url}\n`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    process.stderr.write(`sandbox: ${signal}, stopping\n`)
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`sandbox: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
}
