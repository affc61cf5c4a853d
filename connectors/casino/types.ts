/**
 * The contract between the casino-platform connectors and the sync engine. Every connector maps
 * its platform's records onto these normalised shapes; timestamps are ISO 8601 UTC strings with
 * milliseconds (`2024-01-01T00:00:00.000Z`), amounts integers in minor units (cents).
 */
import type { Registry } from 'prom-client'
import type { z } from 'zod'
import type { CasinoProvider } from '../../controller/api/index.ts'
import type { BudgetRegistry } from '../http/budget.ts'
import type { RetryPolicy } from '../http/engine.ts'
import type { Logger } from '../log.ts'

export type StreamName = 'players' | 'transactions' | 'games'

/** The casino platforms are declared once, with their provider descriptions. */
export { CASINO_PROVIDERS, type CasinoProvider } from '../../controller/api/index.ts'
export const STREAM_NAMES: readonly StreamName[] = ['players', 'transactions', 'games']

export type PlayerStatus = 'active' | 'blocked' | 'self_excluded' | 'closed'
export type TransactionType = 'deposit' | 'withdrawal' | 'bet' | 'win' | 'bonus' | 'refund' | 'adjustment'
export type TransactionStatus = 'pending' | 'completed' | 'failed' | 'cancelled'

export interface Player {
  id: string
  email?: string
  country?: string
  currency: string
  status: PlayerStatus
  registeredAt: string
  updatedAt: string
}

export interface Transaction {
  id: string
  playerId: string
  type: TransactionType
  /** Integer minor units (cents), signed as the platform sends it (normally positive: `type` says the way). */
  amountMinor: number
  currency: string
  status: TransactionStatus
  createdAt: string
  updatedAt: string
  gameSessionId?: string
}

export interface GameSession {
  id: string
  playerId: string
  gameId: string
  gameName?: string
  studio?: string
  currency: string
  totalBetMinor: number
  totalWinMinor: number
  rounds: number
  startedAt: string
  endedAt?: string
  updatedAt: string
}

export type CasinoRecord =
  | { stream: 'players'; record: Player }
  | { stream: 'transactions'; record: Transaction }
  | { stream: 'games'; record: GameSession }

export interface Page {
  records: CasinoRecord[]
  /** Opaque and resumable: reading again from it continues after this page. */
  cursor: string
}

export interface ReadOptions {
  /** From a previous page. */
  cursor?: string
  /** Used when there is no cursor. Default: the beginning of the platform's history. */
  startFrom?: Date
  /** Re-read this far back before the cursor, for records that arrive late. */
  lookbackMs?: number
  /** Records per request; each connector has a default and a maximum. */
  pageSize?: number
  signal?: AbortSignal
}

export interface CasinoClient {
  /** The "test connection": authenticates and does one cheap read. Throws a SwitchboardError. */
  healthCheck(signal?: AbortSignal): Promise<void>
  /** Pages in ascending (updatedAt, id) order; memory is bounded by one page. */
  read(stream: StreamName, opts: ReadOptions): AsyncGenerator<Page>
}

export interface CreateClientOptions<S> {
  endpoint: string
  credentials: Record<string, string>
  settings: S
  logger: Logger
  metrics: Registry
  /** Aborts every request of the client. */
  signal?: AbortSignal
  /** Where the account's request budget lives. Default: the process-wide `defaultBudgets`. */
  budgets?: BudgetRegistry
  /** HTTP tuning (tests use short timeouts). Defaults: see `connectors/http`. */
  http?: { timeoutMs?: number; retry?: RetryPolicy }
}

export interface CasinoConnector<S = unknown> {
  provider: CasinoProvider
  /** The Secret keys (see the table in PROVIDERS.md). */
  credentials: z.ZodType<Record<string, string>>
  /** The spec settings of that provider. */
  settings: z.ZodType<S>
  /** The endpoint for these settings; `spec.endpoint` overrides it. */
  defaultEndpoint(settings: S): string
  /** Largest page size the platform accepts. */
  maxPageSize: number
  create(opts: CreateClientOptions<S>): CasinoClient
}
