/**
 * Calendly API v2 client on the shared provider HTTP layer (budget, retries, logs, metrics,
 * error mapping). Bearer auth with a personal access token, or with a user's OAuth access token
 * that the caller supplies for each attempt (`accessToken`; a 401 hands the token that failed to
 * `onUnauthorized` and the call is made once more, with a refreshed one). Reads:
 *
 * - `GET /users/me`: the token's user and organization (the health check);
 * - `GET /scheduled_events?organization=|user=&min_start_time&max_start_time&status&count&page_token`,
 *   paged with `pagination.next_page_token`;
 * - `GET /scheduled_events/{uuid}` and `GET /scheduled_events/{uuid}/invitees`.
 */

import type { Registry } from 'prom-client'
import { z } from 'zod'
import { calendlyProvider } from '../../controller/api/index.ts'
import { parseSecretKeys } from '../credentials.ts'
import { Reason, StallingError } from '../errors.ts'
import {
  accountKeyFor,
  type BudgetLimits,
  type BudgetRegistry,
  createProviderClient,
  defaultBudgets,
  type ProviderClient,
  type RetryPolicy,
} from '../http/index.ts'
import type { Logger } from '../log.ts'

export const CALENDLY_PROVIDER = 'calendly'
export const CALENDLY_API_URL = 'https://api.calendly.com'
/** Calendly allows about 500 requests per minute per user on paid plans. */
export const CALENDLY_BUDGET: Readonly<BudgetLimits> = Object.freeze({ ratePerSecond: 5, burst: 20 })
export const MAX_COUNT = 100
export const DEFAULT_COUNT = 100

export interface CalendlyCredentials {
  personalAccessToken: string
  /** For webhook signatures (not used by the API client). */
  webhookSigningKey?: string
}

/** The Secret keys, as the provider's description declares them (the first issue's path names the key). */
export const calendlyCredentialsSchema = calendlyProvider.credentials

/** An OAuth application whose user tokens (connect links) the controller keeps. */
export interface CalendlyOAuthClient {
  clientId: string
  clientSecret: string
  /** Whether the Secret holds a grant (`refreshToken`) yet. */
  granted: boolean
  webhookSigningKey?: string
}

/**
 * What a Calendly Secret holds: a personal access token (used when both are there), or an OAuth
 * client. Throws a StallingError naming the key.
 */
export function parseCalendlySecret(
  data: Record<string, string | undefined>,
): { token: CalendlyCredentials } | { oauth: CalendlyOAuthClient } {
  const parsed = parseSecretKeys(calendlyCredentialsSchema, data, 'the Calendly credentials Secret')
  const signing = parsed.webhookSigningKey ? { webhookSigningKey: parsed.webhookSigningKey } : {}
  if (parsed.personalAccessToken)
    return { token: { personalAccessToken: parsed.personalAccessToken, ...signing } }
  return {
    oauth: {
      clientId: parsed.clientId ?? '',
      clientSecret: parsed.clientSecret ?? '',
      granted: parsed.refreshToken !== undefined,
      ...signing,
    },
  }
}

/** A personal access token in a Secret's decoded data; throws a StallingError naming the key. */
export function parseCalendlyCredentials(data: Record<string, string | undefined>): CalendlyCredentials {
  const parsed = parseCalendlySecret(data)
  if ('token' in parsed) return parsed.token
  throw new StallingError(
    Reason.SecretKeyMissing,
    'the Calendly credentials Secret has no key "personalAccessToken"',
    { field: 'personalAccessToken' },
  )
}

const location = z
  .object({
    type: z.string().optional(),
    location: z.string().nullish(),
    join_url: z.string().nullish(),
    status: z.string().nullish(),
  })
  .loose()

export const scheduledEventSchema = z
  .object({
    uri: z.string(),
    name: z.string().nullish(),
    meeting_notes_plain: z.string().nullish(),
    status: z.enum(['active', 'canceled']),
    start_time: z.string(),
    end_time: z.string(),
    event_type: z.string().nullish(),
    location: location.nullish(),
    invitees_counter: z
      .object({ total: z.number(), active: z.number(), limit: z.number() })
      .loose()
      .nullish(),
    created_at: z.string().nullish(),
    updated_at: z.string().nullish(),
    event_memberships: z
      .array(
        z
          .object({
            user: z.string().nullish(),
            user_email: z.string().nullish(),
            user_name: z.string().nullish(),
          })
          .loose(),
      )
      .nullish(),
    cancellation: z
      .object({
        canceled_by: z.string().nullish(),
        reason: z.string().nullish(),
        canceler_type: z.string().nullish(),
      })
      .loose()
      .nullish(),
  })
  .loose()
export type CalendlyScheduledEvent = z.infer<typeof scheduledEventSchema>

export const inviteeSchema = z
  .object({
    uri: z.string(),
    email: z.string(),
    name: z.string().nullish(),
    status: z.enum(['active', 'canceled']),
    timezone: z.string().nullish(),
    event: z.string().nullish(),
    created_at: z.string().nullish(),
    updated_at: z.string().nullish(),
    rescheduled: z.boolean().nullish(),
  })
  .loose()
export type CalendlyInvitee = z.infer<typeof inviteeSchema>

export const userSchema = z
  .object({
    uri: z.string(),
    name: z.string().nullish(),
    email: z.string().nullish(),
    timezone: z.string().nullish(),
    current_organization: z.string(),
  })
  .loose()
export type CalendlyUser = z.infer<typeof userSchema>

const pagination = z
  .object({
    count: z.number().optional(),
    next_page_token: z.string().nullish(),
    next_page: z.string().nullish(),
  })
  .loose()
const eventsPage = z.object({ collection: z.array(scheduledEventSchema), pagination })
const inviteesPage = z.object({ collection: z.array(inviteeSchema), pagination })

export interface CalendlyPage<T> {
  items: T[]
  /** Present when another page follows. */
  nextPageToken?: string
}

export interface ListScheduledEventsOptions {
  /** Organization URI (from `me().current_organization`); or give `user`. */
  organization?: string
  user?: string
  /** ISO 8601; events starting at or after. */
  minStartTime?: string
  /** ISO 8601; events starting before. */
  maxStartTime?: string
  status?: 'active' | 'canceled'
  /** Page size 1..100. Default 100. */
  count?: number
  pageToken?: string
  signal?: AbortSignal
}

export interface CalendlyClientOptions {
  /** A personal access token; or give `accessToken`. */
  credentials?: CalendlyCredentials
  /** A user's OAuth access token, asked for at each attempt (the caller caches and refreshes it). */
  accessToken?: () => Promise<string>
  /** The provider refused this access token (401): drop it; the call is made once more. */
  onUnauthorized?: (token: string) => void | Promise<void>
  /** Whose budget the requests take from, with `accessToken` (e.g. the OAuth client and Secret). */
  account?: string
  /** Default `https://api.calendly.com`. */
  baseUrl?: string
  logger?: Logger
  metrics?: Registry
  /** Registry the account's budget comes from. Default the process-wide one. */
  budgets?: BudgetRegistry
  timeoutMs?: number
  retry?: RetryPolicy
  signal?: AbortSignal
}

export interface CalendlyClient {
  readonly provider: typeof CALENDLY_PROVIDER
  /** The token's user (health check: a 401 means the token is wrong or revoked). */
  me(opts?: { signal?: AbortSignal }): Promise<CalendlyUser>
  listScheduledEvents(
    opts: ListScheduledEventsOptions,
  ): AsyncGenerator<CalendlyPage<CalendlyScheduledEvent>, void, undefined>
  getScheduledEvent(uuidOrUri: string, opts?: { signal?: AbortSignal }): Promise<CalendlyScheduledEvent>
  listInvitees(
    eventUuidOrUri: string,
    opts?: { count?: number; status?: 'active' | 'canceled'; signal?: AbortSignal },
  ): AsyncGenerator<CalendlyPage<CalendlyInvitee>, void, undefined>
}

/** The uuid at the end of a Calendly resource URI (or the uuid itself). */
export function calendlyUuid(uriOrUuid: string): string {
  const last = uriOrUuid.replace(/\/+$/, '').split('/').pop() ?? ''
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(last)) throw new RangeError('not a Calendly uuid or resource URI')
  return last
}

export function createCalendlyClient(options: CalendlyClientOptions): CalendlyClient {
  const { credentials } = options
  const baseUrl = options.baseUrl ?? CALENDLY_API_URL
  const pat = credentials?.personalAccessToken
  const fetchToken = options.accessToken
  if (pat === undefined && !fetchToken)
    throw new TypeError('createCalendlyClient: give credentials or accessToken')
  const budgets = options.budgets ?? defaultBudgets
  // the OAuth token last sent, so that a log line never shows it
  let last: string | undefined
  const http: ProviderClient = createProviderClient({
    provider: CALENDLY_PROVIDER,
    baseUrl,
    budget: budgets.get(
      CALENDLY_PROVIDER,
      accountKeyFor(baseUrl, pat ?? `oauth:${options.account ?? ''}`),
      CALENDLY_BUDGET,
    ),
    auth: async ({ headers }) => {
      const token = pat ?? (await (fetchToken as () => Promise<string>)())
      if (pat === undefined) last = token
      headers.set('authorization', `Bearer ${token}`)
    },
    ...(pat === undefined
      ? {
          onUnauthorized: async ({ headers }: { headers: Headers }) => {
            const token = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '')?.[1]
            if (token) await options.onUnauthorized?.(token)
          },
        }
      : {}),
    secrets: () => [
      ...(pat !== undefined ? [pat] : last !== undefined ? [last] : []),
      ...(credentials?.webhookSigningKey ? [credentials.webhookSigningKey] : []),
    ],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  })

  const checkCount = (count: number) => {
    if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
      throw new RangeError(`count must be an integer 1..${MAX_COUNT}`)
    }
  }

  return {
    provider: CALENDLY_PROVIDER,
    async me(opts = {}) {
      const res = await http.get('/users/me', {
        operation: 'users.me',
        schema: z.object({ resource: userSchema }),
        ...(opts.signal ? { signal: opts.signal } : {}),
      })
      return res.resource
    },
    async *listScheduledEvents(opts) {
      if (!opts.organization && !opts.user)
        throw new TypeError('listScheduledEvents: give organization or user')
      const count = opts.count ?? DEFAULT_COUNT
      checkCount(count)
      let pageToken = opts.pageToken
      for (;;) {
        const res = await http.get('/scheduled_events', {
          operation: 'scheduled_events.list',
          schema: eventsPage,
          query: {
            organization: opts.organization,
            user: opts.user,
            min_start_time: opts.minStartTime,
            max_start_time: opts.maxStartTime,
            status: opts.status,
            sort: 'start_time:asc',
            count,
            page_token: pageToken,
          },
          ...(opts.signal ? { signal: opts.signal } : {}),
        })
        const next = res.pagination.next_page_token ?? undefined
        yield next ? { items: res.collection, nextPageToken: next } : { items: res.collection }
        if (!next) return
        pageToken = next
      }
    },
    async getScheduledEvent(uuidOrUri, opts = {}) {
      const res = await http.get(`/scheduled_events/${encodeURIComponent(calendlyUuid(uuidOrUri))}`, {
        operation: 'scheduled_events.get',
        schema: z.object({ resource: scheduledEventSchema }),
        ...(opts.signal ? { signal: opts.signal } : {}),
      })
      return res.resource
    },
    async *listInvitees(eventUuidOrUri, opts = {}) {
      const count = opts.count ?? DEFAULT_COUNT
      checkCount(count)
      const path = `/scheduled_events/${encodeURIComponent(calendlyUuid(eventUuidOrUri))}/invitees`
      let pageToken: string | undefined
      for (;;) {
        const res = await http.get(path, {
          operation: 'invitees.list',
          schema: inviteesPage,
          query: { count, status: opts.status, page_token: pageToken },
          ...(opts.signal ? { signal: opts.signal } : {}),
        })
        const next = res.pagination.next_page_token ?? undefined
        yield next ? { items: res.collection, nextPageToken: next } : { items: res.collection }
        if (!next) return
        pageToken = next
      }
    },
  }
}
