/**
 * Facebook page (or group) posts through the Graph API:
 *
 * - `GET /v{N}.0/{page-id}?fields=id,name`: health (the token can see the page);
 * - `POST /v{N}.0/{page-or-group-id}/feed` with `message`, `link` → `{ id }`;
 * - `GET /v{N}.0/{page-or-group-id}/feed?fields=id,message,created_time&limit=&after=`: the
 *   newest posts first, paged with `paging.cursors.after` (used to find an announcement that was
 *   already posted, see announce.ts).
 *
 * Auth: the Page access token as `Authorization: Bearer`, and `appsecret_proof` when the
 * Secret holds the app secret (required by apps with "Require App Secret" on).
 */

import type { Registry } from 'prom-client'
import { z } from 'zod'
import { facebookProvider } from '../../controller/api/index.ts'
import { parseSecretKeys } from '../credentials.ts'
import { Reason, StallingError } from '../errors.ts'
import {
  accountKeyFor,
  type BudgetLimits,
  type BudgetRegistry,
  defaultBudgets,
  type RetryPolicy,
} from '../http/index.ts'
import type { Logger } from '../log.ts'
import { createGraphTransport, FACEBOOK_PROVIDER, GRAPH_URL, type GraphTransport } from './graph.ts'

/** Graph allows roughly 4800 calls per page per 24 h for page tokens; stay well under bursts. */
export const FACEBOOK_BUDGET: Readonly<BudgetLimits> = Object.freeze({ ratePerSecond: 2, burst: 10 })
export const MAX_FEED_PAGE = 100

export interface FacebookCredentials {
  pageAccessToken: string
  appSecret?: string
}

/** The Secret keys, as the provider's description declares them (the first issue's path names the key). */
export const facebookCredentialsSchema = facebookProvider.credentials

/** The credentials in a Secret's decoded data; throws a StallingError naming the key. */
export function parseFacebookCredentials(data: Record<string, string | undefined>): FacebookCredentials {
  const parsed = parseSecretKeys(facebookCredentialsSchema, data, 'the Facebook credentials Secret')
  const out: FacebookCredentials = { pageAccessToken: parsed.pageAccessToken }
  if (parsed.appSecret) out.appSecret = parsed.appSecret
  return out
}

export interface FeedPost {
  id: string
  message?: string
  created_time?: string
}

const postSchema = z.object({ id: z.string().min(1) }).loose()
const pageSchema = z.object({ id: z.string().min(1), name: z.string().optional() }).loose()
const feedSchema = z.object({
  data: z.array(
    z.object({ id: z.string(), message: z.string().optional(), created_time: z.string().optional() }).loose(),
  ),
  paging: z
    .object({
      cursors: z.object({ before: z.string().optional(), after: z.string().optional() }).loose().optional(),
      next: z.string().optional(),
    })
    .loose()
    .optional(),
})

export interface FacebookClientOptions {
  credentials: FacebookCredentials
  /** Default `https://graph.facebook.com`. */
  baseUrl?: string
  /** Graph API major version. Default 23. */
  graphApiVersion?: number
  logger?: Logger
  metrics?: Registry
  budgets?: BudgetRegistry
  timeoutMs?: number
  retry?: RetryPolicy
  signal?: AbortSignal
}

export interface FeedPage {
  items: FeedPost[]
  /** Cursor of the next (older) page, when there is one. */
  after?: string
}

export interface FacebookClient {
  readonly provider: typeof FACEBOOK_PROVIDER
  /** Health: the page (or group) the token can see. */
  getPage(id: string, opts?: { signal?: AbortSignal }): Promise<{ id: string; name?: string }>
  /** Posts to a page's or group's feed. Not retried (Graph has no idempotency key): see `announceOnce`. */
  publish(
    targetId: string,
    post: { message: string; link?: string },
    opts?: { signal?: AbortSignal },
  ): Promise<{ id: string }>
  /** The feed, newest first, a page at a time. */
  listFeed(
    targetId: string,
    opts?: { limit?: number; after?: string; signal?: AbortSignal },
  ): AsyncGenerator<FeedPage, void, undefined>
}

function checkId(id: string): string {
  if (!/^[0-9A-Za-z_.-]{1,128}$/.test(id)) {
    throw new StallingError(
      Reason.InvalidSpec,
      'facebook: page or group id must be its numeric id or username',
      {
        field: 'pageId',
      },
    )
  }
  return encodeURIComponent(id)
}

export function createFacebookClient(options: FacebookClientOptions): FacebookClient {
  const { credentials } = options
  const baseUrl = options.baseUrl ?? GRAPH_URL
  const budgets = options.budgets ?? defaultBudgets
  const graph: GraphTransport = createGraphTransport({
    accessToken: credentials.pageAccessToken,
    appSecret: credentials.appSecret,
    baseUrl,
    version: options.graphApiVersion,
    logger: options.logger,
    metrics: options.metrics,
    budget: budgets.get(
      FACEBOOK_PROVIDER,
      accountKeyFor(baseUrl, credentials.pageAccessToken),
      FACEBOOK_BUDGET,
    ),
    timeoutMs: options.timeoutMs,
    retry: options.retry,
    signal: options.signal,
  })
  return {
    provider: FACEBOOK_PROVIDER,
    async getPage(id, opts = {}) {
      const page = await graph.get(`/${checkId(id)}`, {
        operation: 'page.get',
        schema: pageSchema,
        query: { fields: 'id,name' },
        signal: opts.signal,
      })
      return page.name === undefined ? { id: page.id } : { id: page.id, name: page.name }
    },
    async publish(targetId, post, opts = {}) {
      if (!post.message.trim()) throw new TypeError('publish: message is empty')
      const res = await graph.post(`/${checkId(targetId)}/feed`, {
        operation: 'feed.publish',
        schema: postSchema,
        form: { message: post.message, link: post.link },
        signal: opts.signal,
      })
      return { id: res.id }
    },
    async *listFeed(targetId, opts = {}) {
      const limit = opts.limit ?? 25
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FEED_PAGE) {
        throw new RangeError(`listFeed: limit must be an integer 1..${MAX_FEED_PAGE}`)
      }
      let after = opts.after
      for (;;) {
        const res = await graph.get(`/${checkId(targetId)}/feed`, {
          operation: 'feed.list',
          schema: feedSchema,
          query: { fields: 'id,message,created_time', limit, after },
          signal: opts.signal,
        })
        const items: FeedPost[] = res.data.map((p) => {
          const post: FeedPost = { id: p.id }
          if (p.message !== undefined) post.message = p.message
          if (p.created_time !== undefined) post.created_time = p.created_time
          return post
        })
        const next = res.paging?.next ? res.paging.cursors?.after : undefined
        yield next ? { items, after: next } : { items }
        if (!next) return
        after = next
      }
    },
  }
}
