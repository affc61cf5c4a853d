/**
 * Twitch Helix and EventSub client on the shared provider engine (budget, retries, one log line
 * and metrics per exchange). It holds the application's access token (client credentials):
 * obtained on first use, cached, renewed a minute before it expires and at once when Helix
 * answers 401 (the call is then repeated once). Helix's `Ratelimit-Remaining` / `Ratelimit-Reset`
 * headers are honoured: when a response says no points are left, every client of the same
 * application waits until the reset (the budget's pause), and a 429 waits for the reset too.
 *
 * Why the engine and not `createProviderClient`: EventSub needs DELETE and the rate-limit headers
 * of successful answers, which the shared client does not expose; the engine gives both, and the
 * outcome-to-error mapping below follows the shared client's table.
 */
import type { Registry } from 'prom-client'
import { z } from 'zod'
import { twitchProvider } from '../../controller/api/index.ts'
import { parseSecretKeys } from '../credentials.ts'
import { describeError } from '../delivery.ts'
import {
  Reason,
  StallingError,
  SwitchboardError,
  sanitizeMessage,
  TransientError,
  WaitingError,
} from '../errors.ts'
import {
  accountKeyFor,
  type BudgetLimits,
  type BudgetRegistry,
  createProviderEngine,
  defaultBudgets,
  type Failure,
  isTimeout,
  type RetryPolicy,
} from '../http/index.ts'
import type { Logger } from '../log.ts'

export const TWITCH_PROVIDER = 'twitch'
export const TWITCH_API_URL = 'https://api.twitch.tv'
export const TWITCH_AUTH_URL = 'https://id.twitch.tv'
/** Values per `login` / `user_login` request and subscriptions per page. */
export const HELIX_BATCH = 100
/** Helix grants 800 points a minute per application; the budget keeps well inside it. */
export const TWITCH_BUDGET: Readonly<BudgetLimits> = Object.freeze({ ratePerSecond: 10, burst: 30 })
/** A token is renewed this long before Twitch said it expires. */
const TOKEN_MARGIN_MS = 60_000

export interface TwitchCredentials {
  clientId: string
  clientSecret: string
  eventsubSecret: string
}

/** The Secret keys, as the provider's description declares them. */
export const twitchCredentialsSchema = twitchProvider.credentials

/** The credentials in a Secret's decoded data; throws a StallingError naming the key. */
export function parseTwitchCredentials(
  data: Record<string, string | undefined>,
  what: string,
): TwitchCredentials {
  return parseSecretKeys(twitchCredentialsSchema, data, what)
}

export const helixUser = z
  .object({ id: z.string(), login: z.string(), display_name: z.string().nullish() })
  .loose()
export type HelixUser = z.infer<typeof helixUser>

export const helixStream = z
  .object({
    id: z.string(),
    user_id: z.string(),
    user_login: z.string(),
    game_name: z.string().nullish(),
    type: z.string().nullish(),
    title: z.string().nullish(),
    viewer_count: z.number().int().nonnegative().nullish(),
    started_at: z.string().nullish(),
  })
  .loose()
export type HelixStream = z.infer<typeof helixStream>

export const eventSubSubscription = z
  .object({
    id: z.string(),
    status: z.string(),
    type: z.string(),
    version: z.string(),
    condition: z.record(z.string(), z.string()),
    transport: z.object({ method: z.string(), callback: z.string().nullish() }).loose(),
    created_at: z.string().nullish(),
    cost: z.number().nullish(),
  })
  .loose()
export type EventSubSubscription = z.infer<typeof eventSubSubscription>

const tokenBody = z.object({ access_token: z.string().min(1), expires_in: z.number().positive() }).loose()
const usersBody = z.object({ data: z.array(helixUser) })
const streamsBody = z.object({ data: z.array(helixStream) })
const subscriptionsPage = z.object({
  data: z.array(eventSubSubscription),
  total: z.number().nullish(),
  total_cost: z.number().nullish(),
  max_total_cost: z.number().nullish(),
  pagination: z.object({ cursor: z.string().nullish() }).loose().nullish(),
})

export interface CreateSubscriptionInput {
  type: string
  version?: string
  broadcasterUserId: string
  callback: string
}

export interface TwitchClientOptions {
  credentials: TwitchCredentials
  /** Default `https://api.twitch.tv`. */
  apiUrl?: string | undefined
  /** Default `https://id.twitch.tv`. */
  authUrl?: string | undefined
  logger?: Logger | undefined
  metrics?: Registry | undefined
  budgets?: BudgetRegistry | undefined
  timeoutMs?: number | undefined
  retry?: RetryPolicy | undefined
}

export interface TwitchClient {
  readonly provider: typeof TWITCH_PROVIDER
  /** The users of these logins (in batches of 100); unknown logins are absent. */
  users(logins: readonly string[], signal?: AbortSignal): Promise<HelixUser[]>
  /** The live streams of these logins (in batches of 100); offline channels are absent. */
  streams(logins: readonly string[], signal?: AbortSignal): Promise<HelixStream[]>
  /** Every EventSub subscription of the application. */
  subscriptions(signal?: AbortSignal): Promise<EventSubSubscription[]>
  /** Creates a webhook subscription; `conflict` when Twitch already has it (409). */
  createSubscription(
    input: CreateSubscriptionInput,
    signal?: AbortSignal,
  ): Promise<{ created: EventSubSubscription } | { conflict: true }>
  /** Deletes a subscription; false when Twitch no longer had it (404). */
  deleteSubscription(id: string, signal?: AbortSignal): Promise<boolean>
  /** Tokens obtained so far (for tests and logs). */
  readonly tokensObtained: number
  /** The last rate-limit headers seen. */
  readonly rateLimit: { remaining: number; resetAt: number } | undefined
}

/** A non-2xx answer of one attempt. */
class HelixFailure extends Error {
  readonly status: number
  readonly detail: string
  readonly retryAfterMs: number | undefined
  constructor(status: number, detail: string, retryAfterMs: number | undefined) {
    super(`answered ${status}`)
    this.status = status
    this.detail = detail
    this.retryAfterMs = retryAfterMs
  }
}

function base(raw: string, field: string): string {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new StallingError(Reason.InvalidSpec, `${field} is not a valid URL`, { field })
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new StallingError(
      Reason.InvalidSpec,
      `${field} must not carry credentials, a query or a fragment`,
      {
        field,
      },
    )
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`
}

export function createTwitchClient(options: TwitchClientOptions): TwitchClient {
  const { credentials } = options
  const apiUrl = base(options.apiUrl ?? TWITCH_API_URL, 'spec.endpoints.api')
  const authUrl = base(options.authUrl ?? TWITCH_AUTH_URL, 'spec.endpoints.auth')
  const timeoutMs = options.timeoutMs ?? 10_000
  const budgets = options.budgets ?? defaultBudgets
  const budget = budgets.get(TWITCH_PROVIDER, accountKeyFor(apiUrl, credentials.clientId), TWITCH_BUDGET)
  let token: { value: string; expiresAt: number } | undefined
  let pending: Promise<string> | undefined
  let tokensObtained = 0
  let rateLimit: { remaining: number; resetAt: number } | undefined
  const secrets = () => [
    credentials.clientSecret,
    credentials.eventsubSecret,
    ...(token ? [token.value] : []),
  ]
  const engine = createProviderEngine({
    provider: TWITCH_PROVIDER,
    logger: options.logger,
    metrics: options.metrics,
    budget,
    retry: options.retry,
    secrets,
  })

  /** Waits until the reset when Helix says no points are left; a 429 waits for it too. */
  function honourRateLimit(res: Response): number | undefined {
    const remaining = Number(res.headers.get('ratelimit-remaining'))
    const reset = Number(res.headers.get('ratelimit-reset'))
    if (!res.headers.has('ratelimit-remaining') || !Number.isFinite(remaining) || !Number.isFinite(reset)) {
      return undefined
    }
    rateLimit = { remaining, resetAt: reset * 1000 }
    const wait = Math.max(0, reset * 1000 - Date.now())
    if (remaining <= 0 || res.status === 429) {
      budget.pause(wait)
      return wait
    }
    return undefined
  }

  function classify(err: unknown, where: string, attempts: number): Failure {
    const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`
    const s = secrets()
    if (err instanceof HelixFailure) {
      const text = sanitizeMessage(`${where} answered ${err.status}${err.detail ? `: ${err.detail}` : ''}`, s)
      if (err.status === 401) {
        return {
          error: new StallingError(
            Reason.Unauthorized,
            `${text} (check clientId and clientSecret in the Secret)`,
          ),
          unauthorized: true,
        }
      }
      if (err.status === 429) {
        const wait = err.retryAfterMs ?? 60_000
        return {
          error: new WaitingError(Reason.RateLimited, `${text} (rate limited, ${tries})`, wait),
          retryable: true,
          retryAfterMs: wait,
        }
      }
      if (err.status === 408 || err.status >= 500) {
        return {
          error: new TransientError(Reason.ProviderUnavailable, `${text} (${tries})`),
          retryable: true,
        }
      }
      return { error: new StallingError(Reason.ProviderRejected, text) }
    }
    if (err instanceof SwitchboardError) return { error: err }
    if (isTimeout(err)) {
      return {
        error: new TransientError(Reason.Timeout, `${where} timed out after ${timeoutMs} ms (${tries})`),
        retryable: true,
      }
    }
    return {
      error: new TransientError(
        Reason.ProviderUnavailable,
        sanitizeMessage(`${where} unreachable (${tries}): ${describeError(err)}`, s),
      ),
      retryable: true,
    }
  }

  async function detailOf(res: Response): Promise<string> {
    const text = await res.text()
    try {
      const j = JSON.parse(text) as { message?: unknown }
      return typeof j.message === 'string' ? j.message.slice(0, 200) : ''
    } catch {
      return ''
    }
  }

  async function obtainToken(signal: AbortSignal | undefined): Promise<string> {
    const url = new URL(`${authUrl}/oauth2/token`)
    const where = `twitch token: POST ${url.host}${url.pathname}`
    const value = await engine.run({
      operation: 'token',
      where,
      retry: true,
      signal,
      attempt: async ({ attempt, signal: sig }) => {
        const body = new URLSearchParams({
          client_id: credentials.clientId,
          client_secret: credentials.clientSecret,
          grant_type: 'client_credentials',
        }).toString()
        const res = await engine.fetch(
          url,
          {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
            body,
            redirect: 'manual',
            signal: sig ?? null,
          },
          { operation: 'token', attempt, signal: sig, timeoutMs },
        )
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          const detail = sanitizeMessage(await detailOf(res), secrets())
          throw new StallingError(
            Reason.Unauthorized,
            `${where} answered ${res.status}${detail ? `: ${detail}` : ''} (Twitch refused the client credentials: check clientId and clientSecret in the Secret)`,
          )
        }
        if (!res.ok) throw new HelixFailure(res.status, await detailOf(res), undefined)
        const parsed = tokenBody.safeParse(await res.json().catch(() => undefined))
        if (!parsed.success) {
          throw new TransientError(Reason.MalformedResponse, `${where} answered without an access token`)
        }
        return parsed.data
      },
      classify: (err, ctx) => classify(err, where, ctx.attempts),
    })
    tokensObtained++
    token = { value: value.access_token, expiresAt: Date.now() + value.expires_in * 1000 - TOKEN_MARGIN_MS }
    return value.access_token
  }

  async function accessToken(signal: AbortSignal | undefined): Promise<string> {
    if (token && token.expiresAt > Date.now()) return token.value
    pending ??= obtainToken(signal).finally(() => {
      pending = undefined
    })
    return pending
  }

  async function helix<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    opts: {
      operation: string
      query?: Array<[string, string]>
      json?: unknown
      schema?: z.ZodType<T>
      signal?: AbortSignal | undefined
      /** Statuses that are answers, not failures (409 for a duplicate, 404 for a delete). */
      accept?: readonly number[]
    },
  ): Promise<{ status: number; body: T | undefined }> {
    const url = new URL(`${apiUrl}/helix${path}`)
    for (const [k, v] of opts.query ?? []) url.searchParams.append(k, v)
    const where = `twitch ${opts.operation}: ${method} ${url.host}${url.pathname}`
    return engine.run({
      operation: opts.operation,
      where,
      retry: method !== 'POST',
      signal: opts.signal,
      attempt: async ({ attempt, signal }) => {
        const headers = new Headers({ accept: 'application/json', 'user-agent': 'switchboard' })
        let bearer = ''
        const res = await engine.fetch(
          url,
          {
            method,
            headers,
            body: opts.json === undefined ? null : JSON.stringify(opts.json),
            redirect: 'manual',
            signal: signal ?? null,
          },
          {
            operation: opts.operation,
            attempt,
            signal,
            timeoutMs,
            beforeSend: async () => {
              bearer = await accessToken(signal)
              headers.set('authorization', `Bearer ${bearer}`)
              headers.set('client-id', credentials.clientId)
              if (opts.json !== undefined) headers.set('content-type', 'application/json')
            },
          },
        )
        const wait = honourRateLimit(res)
        if (res.status === 401 && token?.value === bearer) token = undefined
        if (opts.accept?.includes(res.status)) {
          await res.arrayBuffer()
          return { status: res.status, body: undefined }
        }
        if (!res.ok) throw new HelixFailure(res.status, await detailOf(res), wait)
        if (!opts.schema || res.status === 204) {
          await res.arrayBuffer()
          return { status: res.status, body: undefined }
        }
        const parsed = opts.schema.safeParse(await res.json().catch(() => undefined))
        if (!parsed.success) {
          throw new TransientError(
            Reason.MalformedResponse,
            `${where} answered ${res.status} with an unexpected body`,
          )
        }
        return { status: res.status, body: parsed.data }
      },
      classify: (err, ctx) => classify(err, where, ctx.attempts),
      onUnauthorized: () => {
        token = undefined
      },
    })
  }

  const batches = (logins: readonly string[]) => {
    const unique = [...new Set(logins.map((l) => l.toLowerCase()))]
    const out: string[][] = []
    for (let i = 0; i < unique.length; i += HELIX_BATCH) out.push(unique.slice(i, i + HELIX_BATCH))
    return out
  }

  return {
    provider: TWITCH_PROVIDER,
    get tokensObtained() {
      return tokensObtained
    },
    get rateLimit() {
      return rateLimit
    },
    async users(logins, signal) {
      const out: HelixUser[] = []
      for (const batch of batches(logins)) {
        const res = await helix('GET', '/users', {
          operation: 'users.get',
          query: batch.map((l) => ['login', l]),
          schema: usersBody,
          signal,
        })
        out.push(...(res.body?.data ?? []))
      }
      return out
    },
    async streams(logins, signal) {
      const out: HelixStream[] = []
      for (const batch of batches(logins)) {
        const res = await helix('GET', '/streams', {
          operation: 'streams.get',
          query: [...batch.map((l): [string, string] => ['user_login', l]), ['first', String(HELIX_BATCH)]],
          schema: streamsBody,
          signal,
        })
        out.push(...(res.body?.data ?? []))
      }
      return out
    },
    async subscriptions(signal) {
      const out: EventSubSubscription[] = []
      let after: string | undefined
      for (let page = 0; page < 1000; page++) {
        const res = await helix('GET', '/eventsub/subscriptions', {
          operation: 'eventsub.list',
          query: after ? [['after', after]] : [],
          schema: subscriptionsPage,
          signal,
        })
        out.push(...(res.body?.data ?? []))
        after = res.body?.pagination?.cursor ?? undefined
        if (!after) break
      }
      return out
    },
    async createSubscription(input, signal) {
      const res = await helix('POST', '/eventsub/subscriptions', {
        operation: 'eventsub.create',
        json: {
          type: input.type,
          version: input.version ?? '1',
          condition: { broadcaster_user_id: input.broadcasterUserId },
          transport: { method: 'webhook', callback: input.callback, secret: credentials.eventsubSecret },
        },
        schema: z.object({ data: z.array(eventSubSubscription).min(1) }),
        accept: [409],
        signal,
      })
      if (res.status === 409 || !res.body) return { conflict: true }
      return { created: res.body.data[0] as EventSubSubscription }
    },
    async deleteSubscription(id, signal) {
      const res = await helix('DELETE', '/eventsub/subscriptions', {
        operation: 'eventsub.delete',
        query: [['id', id]],
        accept: [404],
        signal,
      })
      return res.status !== 404
    },
  }
}
