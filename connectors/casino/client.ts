/**
 * What the four casino connectors share: the HTTP client set up for one casino account (the
 * account's request budget, metrics, logs, credential values kept out of messages), and a
 * `CasinoClient` built from a connector's stream contract (how a page is asked for, how its
 * answer is parsed) on top of `readPages`.
 */

import type { z } from 'zod'
import { accountKeyFor, type BudgetLimits, defaultBudgets } from '../http/budget.ts'
import {
  type AuthContext,
  createProviderClient,
  type ProviderClient,
  type QueryValue,
} from '../http/client.ts'
import { type FetchedPage, type PageRequest, readPages } from './read.ts'
import type {
  CasinoClient,
  CasinoProvider,
  CreateClientOptions,
  Page,
  ReadOptions,
  StreamName,
} from './types.ts'

export interface CasinoHttpOptions<S> {
  provider: CasinoProvider
  create: CreateClientOptions<S>
  /** What identifies the platform account (hashed into the budget key, never kept). */
  account: readonly string[]
  /** The platform's request budget per account, unless the registry sets one for it. */
  budget: BudgetLimits
  auth?: (request: AuthContext) => void | Promise<void>
  onUnauthorized?: (failed: { headers: Headers }) => void | Promise<void>
  /** Values besides the credentials that must never appear in messages (tokens, sessions). */
  secrets?: () => Iterable<string>
}

/** The provider HTTP client of one casino connection. */
export function casinoHttpClient<S>(opts: CasinoHttpOptions<S>): ProviderClient {
  const { provider, create } = opts
  const budgets = create.budgets ?? defaultBudgets
  const credentialValues = Object.values(create.credentials)
  return createProviderClient({
    provider,
    baseUrl: create.endpoint,
    logger: create.logger,
    metrics: create.metrics,
    budget: budgets.get(provider, accountKeyFor(create.endpoint, ...opts.account), opts.budget),
    timeoutMs: create.http?.timeoutMs,
    retry: create.http?.retry,
    auth: opts.auth,
    onUnauthorized: opts.onUnauthorized,
    secrets: () => [...credentialValues, ...(opts.secrets?.() ?? [])],
    signal: create.signal,
  })
}

/** One request for a page, as a connector's mapping describes it. */
export interface StreamRequest {
  method: 'GET' | 'POST'
  path: string
  query?: Record<string, QueryValue>
  /** JSON body (POST). */
  json?: unknown
}

/** A connector's streams: how to ask for a page and how to read the answer. */
export interface StreamContract {
  provider: CasinoProvider
  defaultPageSize: number
  maxPageSize: number
  request(stream: StreamName, page: PageRequest): StreamRequest
  /** Parses a raw page and normalises its records. */
  pageSchema(stream: StreamName): z.ZodType<FetchedPage>
}

export interface CasinoClientParts {
  http: ProviderClient
  contract: StreamContract
  /** Runs before the health check's read (e.g. a login, so that its failure is what shows). */
  authenticate?: (signal?: AbortSignal) => Promise<void>
}

export function buildCasinoClient({ http, contract, authenticate }: CasinoClientParts): CasinoClient {
  const fetchPage = (operation: string) => async (page: PageRequest) => {
    const req = contract.request(page.stream, page)
    const call = {
      operation,
      schema: contract.pageSchema(page.stream),
      query: req.query,
      signal: page.signal,
    }
    // list calls only read: a POST list is as safe to repeat as a GET
    return req.method === 'GET'
      ? http.get(req.path, call)
      : http.post(req.path, { ...call, json: req.json, idempotent: true })
  }

  return {
    async healthCheck(signal) {
      await authenticate?.(signal)
      await fetchPage('health')({
        stream: 'players',
        since: new Date(0),
        afterId: undefined,
        limit: 1,
        signal,
      })
    },
    read(stream: StreamName, opts: ReadOptions): AsyncGenerator<Page> {
      return readPages({
        ...opts,
        provider: contract.provider,
        stream,
        defaultPageSize: contract.defaultPageSize,
        maxPageSize: contract.maxPageSize,
        fetchPage: fetchPage(`${stream}.list`),
      })
    },
  }
}
