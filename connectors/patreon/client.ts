/**
 * Patreon API v2 client on the shared provider HTTP layer (budget, retries, logs, metrics, error
 * mapping). Patreon has no official Node SDK for API v2 (its `patreon` npm package speaks the
 * retired v1 API), so this is a thin client of its own. JSON:API documents in, typed values out:
 *
 * - `GET /api/oauth2/v2/campaigns`: the token owner's campaign(s);
 * - `GET /api/oauth2/v2/campaigns/{id}?include=tiers`: the campaign and its tiers;
 * - `GET /api/oauth2/v2/campaigns/{id}/members?include=currently_entitled_tiers,user`: pages
 *   followed by `meta.pagination.cursors.next` (`page[cursor]`) until it is absent;
 * - `GET|POST /api/oauth2/v2/webhooks`, `PATCH|DELETE /api/oauth2/v2/webhooks/{id}`.
 *
 * Attributes only come when asked for (`fields[type]=...`), so every call names the fields it
 * reads. A 429 carries its wait in the body (`errors[].retry_after_seconds`), which is honoured as
 * a `Retry-After` would be. The bearer token comes from `accessToken()` for each attempt; a 401
 * hands the token that failed to `onUnauthorized` (which drops it) and the call is made once more.
 */
import type { Registry } from 'prom-client'
import { z } from 'zod'
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

export const PATREON_PROVIDER = 'patreon'
export const PATREON_URL = 'https://www.patreon.com'
export const PATREON_API_PATH = '/api/oauth2/v2'
export const PATREON_TOKEN_PATH = '/api/oauth2/token'
/** Patreon allows 100 requests a minute per token (and 100 per 2 s per client). */
export const PATREON_BUDGET: Readonly<BudgetLimits> = Object.freeze({ ratePerSecond: 1.5, burst: 50 })
export const PATREON_MAX_COUNT = 1000

/** The member fields the client can read; `patron_status` is always among them. */
export const MEMBER_FIELDS = [
  'full_name',
  'email',
  'patron_status',
  'last_charge_status',
  'last_charge_date',
  'currently_entitled_amount_cents',
  'lifetime_support_cents',
  'pledge_relationship_start',
  'will_pay_amount_cents',
  'is_follower',
] as const
export type MemberField = (typeof MEMBER_FIELDS)[number]

const ref = z.object({ type: z.string(), id: z.string() }).loose()
const resource = z
  .object({
    type: z.string(),
    id: z.string(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    relationships: z
      .record(z.string(), z.object({ data: z.union([ref, z.array(ref), z.null()]).optional() }).loose())
      .optional(),
  })
  .loose()
type JsonApiResource = z.infer<typeof resource>

const listDocument = z
  .object({
    data: z.array(resource),
    included: z.array(resource).optional(),
    meta: z
      .object({
        pagination: z
          .object({
            total: z.number().optional(),
            cursors: z.object({ next: z.string().nullish() }).loose().optional(),
          })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
  })
  .loose()
const oneDocument = z.object({ data: resource, included: z.array(resource).optional() }).loose()

export interface PatreonCampaign {
  id: string
  name?: string
  patronCount?: number
  url?: string
}

export interface PatreonTier {
  id: string
  title?: string
  amountCents?: number
  patronCount?: number
}

export interface PatreonMember {
  id: string
  userId?: string
  patronStatus: 'active_patron' | 'declined_patron' | 'former_patron' | null
  tierIds: string[]
  fullName?: string
  email?: string
  lastChargeStatus?: string | null
  lastChargeDate?: string | null
  currentlyEntitledAmountCents?: number
  lifetimeSupportCents?: number
  pledgeRelationshipStart?: string | null
  willPayAmountCents?: number
  isFollower?: boolean
}

export interface MemberPage {
  members: PatreonMember[]
  /** Tiers named by the page's members (id → title), from `included`. */
  tiers: Map<string, PatreonTier>
  /** `meta.pagination.total`, when Patreon gives it. */
  total?: number
}

export type PatreonWebhookTrigger =
  | 'members:create'
  | 'members:update'
  | 'members:delete'
  | 'members:pledge:create'
  | 'members:pledge:update'
  | 'members:pledge:delete'

export interface PatreonWebhook {
  id: string
  uri: string
  triggers: string[]
  paused: boolean
  /** Only in the answer to a create (and lists that include it): the signing secret. */
  secret?: string
  numConsecutiveTimesFailed?: number
  lastAttemptedAt?: string | null
  campaignId?: string
}

export interface PatreonClientOptions {
  /** Default `https://www.patreon.com`; the API is under /api/oauth2/v2. */
  endpoint?: string
  /** The access token for an attempt (cached by the caller, refreshed when near expiry). */
  accessToken: () => Promise<string>
  /** A 401 answered this token: drop it (the call is then made once more with a new one). */
  onUnauthorized?: (token: string) => void | Promise<void>
  /** Names the account for the request budget (not a credential: a client id, say). */
  account: string
  /** Exact values that must never appear in a message (the tokens, the client secret). */
  secrets?: () => Iterable<string>
  logger?: Logger
  metrics?: Registry
  budgets?: BudgetRegistry
  timeoutMs?: number
  retry?: RetryPolicy
  signal?: AbortSignal
}

export interface PatreonClient {
  readonly provider: typeof PATREON_PROVIDER
  /** The token owner's campaigns (usually one). */
  campaigns(opts?: { signal?: AbortSignal }): Promise<PatreonCampaign[]>
  /** One campaign with its tiers. */
  campaign(
    id: string,
    opts?: { signal?: AbortSignal },
  ): Promise<{ campaign: PatreonCampaign; tiers: PatreonTier[] }>
  /** The campaign's members, page by page (former and declined patrons included). */
  members(
    campaignId: string,
    opts: { fields: readonly MemberField[]; pageSize: number; signal?: AbortSignal },
  ): AsyncGenerator<MemberPage, void, undefined>
  webhooks(opts?: { signal?: AbortSignal }): Promise<PatreonWebhook[]>
  createWebhook(input: {
    campaignId: string
    uri: string
    triggers: readonly PatreonWebhookTrigger[]
    signal?: AbortSignal
  }): Promise<PatreonWebhook>
  updateWebhook(
    id: string,
    attributes: { paused?: boolean; uri?: string; triggers?: readonly PatreonWebhookTrigger[] },
    opts?: { signal?: AbortSignal },
  ): Promise<PatreonWebhook>
  deleteWebhook(id: string, opts?: { signal?: AbortSignal }): Promise<void>
}

/** Patreon's wait, from a 429 body: `errors[].retry_after_seconds`, in ms. */
export function patreonRetryAfter(body: unknown): number | undefined {
  const errors = (body as { errors?: unknown } | null)?.errors
  if (!Array.isArray(errors)) return undefined
  for (const e of errors) {
    const s = (e as { retry_after_seconds?: unknown } | null)?.retry_after_seconds
    if (typeof s === 'number' && Number.isFinite(s) && s >= 0) return Math.ceil(s * 1000)
    if (typeof s === 'string' && /^\d+(\.\d+)?$/.test(s)) return Math.ceil(Number(s) * 1000)
  }
  return undefined
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
const strOrNull = (v: unknown): string | null | undefined => (v === null ? null : str(v))

function refs(r: JsonApiResource, name: string): string[] {
  const d = r.relationships?.[name]?.data
  if (Array.isArray(d)) return d.map((x) => x.id)
  return d ? [d.id] : []
}

function toCampaign(r: JsonApiResource): PatreonCampaign {
  const a = r.attributes ?? {}
  const out: PatreonCampaign = { id: r.id }
  const name = str(a.creation_name) || str(a.vanity)
  if (name) out.name = name
  const patronCount = num(a.patron_count)
  if (patronCount !== undefined) out.patronCount = patronCount
  const url = str(a.url)
  if (url) out.url = url
  return out
}

function toTier(r: JsonApiResource): PatreonTier {
  const a = r.attributes ?? {}
  const out: PatreonTier = { id: r.id }
  const title = str(a.title)
  if (title !== undefined) out.title = title
  const amount = num(a.amount_cents)
  if (amount !== undefined) out.amountCents = amount
  const count = num(a.patron_count)
  if (count !== undefined) out.patronCount = count
  return out
}

const STATUSES = new Set(['active_patron', 'declined_patron', 'former_patron'])

/** A JSON:API member resource as a `PatreonMember` (only the attributes that came). */
export function toMember(r: JsonApiResource): PatreonMember {
  const a = r.attributes ?? {}
  const status = str(a.patron_status)
  const m: PatreonMember = {
    id: r.id,
    patronStatus: status && STATUSES.has(status) ? (status as PatreonMember['patronStatus']) : null,
    tierIds: refs(r, 'currently_entitled_tiers'),
  }
  const user = refs(r, 'user')[0]
  if (user) m.userId = user
  if ('full_name' in a) m.fullName = str(a.full_name) ?? ''
  if (str(a.email)) m.email = str(a.email) as string
  if ('last_charge_status' in a) m.lastChargeStatus = strOrNull(a.last_charge_status) ?? null
  if ('last_charge_date' in a) m.lastChargeDate = strOrNull(a.last_charge_date) ?? null
  if (num(a.currently_entitled_amount_cents) !== undefined)
    m.currentlyEntitledAmountCents = num(a.currently_entitled_amount_cents) as number
  if (num(a.lifetime_support_cents) !== undefined)
    m.lifetimeSupportCents = num(a.lifetime_support_cents) as number
  if ('pledge_relationship_start' in a)
    m.pledgeRelationshipStart = strOrNull(a.pledge_relationship_start) ?? null
  if (num(a.will_pay_amount_cents) !== undefined)
    m.willPayAmountCents = num(a.will_pay_amount_cents) as number
  if (typeof a.is_follower === 'boolean') m.isFollower = a.is_follower
  return m
}

function toWebhook(r: JsonApiResource): PatreonWebhook {
  const a = r.attributes ?? {}
  const w: PatreonWebhook = {
    id: r.id,
    uri: str(a.uri) ?? '',
    triggers: Array.isArray(a.triggers) ? a.triggers.filter((t): t is string => typeof t === 'string') : [],
    paused: a.paused === true,
  }
  if (str(a.secret)) w.secret = str(a.secret) as string
  if (num(a.num_consecutive_times_failed) !== undefined)
    w.numConsecutiveTimesFailed = num(a.num_consecutive_times_failed) as number
  if ('last_attempted_at' in a) w.lastAttemptedAt = strOrNull(a.last_attempted_at) ?? null
  const campaign = refs(r, 'campaign')[0]
  if (campaign) w.campaignId = campaign
  return w
}

const sig = (signal: AbortSignal | undefined) => (signal ? { signal } : {})

export function createPatreonClient(options: PatreonClientOptions): PatreonClient {
  const endpoint = (options.endpoint ?? PATREON_URL).replace(/\/+$/, '')
  const budgets = options.budgets ?? defaultBudgets
  const http: ProviderClient = createProviderClient({
    provider: PATREON_PROVIDER,
    baseUrl: `${endpoint}${PATREON_API_PATH}`,
    budget: budgets.get(PATREON_PROVIDER, accountKeyFor(endpoint, options.account), PATREON_BUDGET),
    auth: async ({ headers }) => headers.set('authorization', `Bearer ${await options.accessToken()}`),
    onUnauthorized: async ({ headers }) => {
      const token = /^Bearer (.+)$/.exec(headers.get('authorization') ?? '')?.[1]
      if (token) await options.onUnauthorized?.(token)
    },
    retryAfter: (_res, body) => patreonRetryAfter(body),
    ...(options.secrets ? { secrets: options.secrets } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  })
  const CAMPAIGN_FIELDS = 'creation_name,vanity,patron_count,url'
  const WEBHOOK_FIELDS = 'triggers,uri,paused,last_attempted_at,num_consecutive_times_failed'

  return {
    provider: PATREON_PROVIDER,
    async campaigns(opts = {}) {
      const doc = await http.get('/campaigns', {
        operation: 'campaigns.list',
        schema: listDocument,
        query: { 'fields[campaign]': CAMPAIGN_FIELDS },
        ...sig(opts.signal),
      })
      return doc.data.filter((r) => r.type === 'campaign').map(toCampaign)
    },
    async campaign(id, opts = {}) {
      const doc = await http.get(`/campaigns/${encodeURIComponent(id)}`, {
        operation: 'campaigns.get',
        schema: oneDocument,
        query: {
          include: 'tiers',
          'fields[campaign]': CAMPAIGN_FIELDS,
          'fields[tier]': 'title,amount_cents,patron_count',
        },
        ...sig(opts.signal),
      })
      const byId = new Map(
        (doc.included ?? []).filter((r) => r.type === 'tier').map((r) => [r.id, toTier(r)]),
      )
      // in the campaign's own order (its relationship), then any the relationship left out
      const order = refs(doc.data, 'tiers')
      const tiers = [
        ...order.map((t) => byId.get(t)).filter((t): t is PatreonTier => t !== undefined),
        ...[...byId.values()].filter((t) => !order.includes(t.id)),
      ]
      return { campaign: toCampaign(doc.data), tiers }
    },
    async *members(campaignId, opts) {
      if (!Number.isInteger(opts.pageSize) || opts.pageSize < 1 || opts.pageSize > PATREON_MAX_COUNT) {
        throw new RangeError(`pageSize must be an integer 1..${PATREON_MAX_COUNT}`)
      }
      const fields = [...new Set<MemberField>(['patron_status', ...opts.fields])].join(',')
      let cursor: string | undefined
      for (;;) {
        const doc = await http.get(`/campaigns/${encodeURIComponent(campaignId)}/members`, {
          operation: 'members.list',
          schema: listDocument,
          query: {
            include: 'currently_entitled_tiers,user',
            'fields[member]': fields,
            'fields[tier]': 'title,amount_cents',
            'page[count]': opts.pageSize,
            'page[cursor]': cursor,
          },
          ...sig(opts.signal),
        })
        const tiers = new Map(
          (doc.included ?? []).filter((r) => r.type === 'tier').map((r) => [r.id, toTier(r)] as const),
        )
        const page: MemberPage = { members: doc.data.filter((r) => r.type === 'member').map(toMember), tiers }
        const total = doc.meta?.pagination?.total
        if (total !== undefined) page.total = total
        yield page
        const next = doc.meta?.pagination?.cursors?.next ?? undefined
        if (!next) return
        cursor = next
      }
    },
    async webhooks(opts = {}) {
      const doc = await http.get('/webhooks', {
        operation: 'webhooks.list',
        schema: listDocument,
        query: { 'fields[webhook]': WEBHOOK_FIELDS },
        ...sig(opts.signal),
      })
      return doc.data.filter((r) => r.type === 'webhook').map(toWebhook)
    },
    async createWebhook(input) {
      const doc = await http.post('/webhooks', {
        operation: 'webhooks.create',
        schema: oneDocument,
        json: {
          data: {
            type: 'webhook',
            attributes: { triggers: input.triggers, uri: input.uri },
            relationships: { campaign: { data: { type: 'campaign', id: input.campaignId } } },
          },
        },
        ...sig(input.signal),
      })
      return toWebhook(doc.data)
    },
    async updateWebhook(id, attributes, opts = {}) {
      const doc = await http.patch(`/webhooks/${encodeURIComponent(id)}`, {
        operation: 'webhooks.update',
        schema: oneDocument,
        json: { data: { type: 'webhook', id, attributes } },
        // setting the same attributes twice is harmless
        idempotent: true,
        ...sig(opts.signal),
      })
      return toWebhook(doc.data)
    },
    async deleteWebhook(id, opts = {}) {
      await http.delete(`/webhooks/${encodeURIComponent(id)}`, {
        operation: 'webhooks.delete',
        ...sig(opts.signal),
      })
    },
  }
}
