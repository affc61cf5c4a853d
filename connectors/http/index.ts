// The shared provider HTTP layer (see README.md).
export { abortError, anySignal, raceAbort, sleep, throwIfAborted } from '../abort.ts'
export {
  accountKeyFor,
  type BudgetLimits,
  BudgetRegistry,
  type BudgetRegistryOptions,
  DEFAULT_BUDGET_LIMITS,
  defaultBudgets,
  RequestBudget,
  type TakeOptions,
} from './budget.ts'
export {
  type AuthContext,
  type CallOptions,
  type ClassifyContext,
  createProviderClient,
  DEFAULT_TIMEOUT_MS,
  type PostOptions,
  type ProviderClient,
  type ProviderClientOptions,
  parseBody,
  type QueryValue,
} from './client.ts'
export {
  type AttemptContext,
  backoffDelay,
  createProviderEngine,
  DEFAULT_RETRY,
  type ExchangeMeta,
  type Failure,
  type FailureContext,
  isTimeout,
  type ProviderEngine,
  type ProviderEngineOptions,
  type ResolvedRetryPolicy,
  type RetryPolicy,
  type RunOptions,
  resolveRetryPolicy,
  runAttempts,
} from './engine.ts'
export {
  DURATION_BUCKETS,
  PROVIDER_REQUEST_DURATION,
  PROVIDER_REQUESTS_TOTAL,
  type ProviderMetrics,
  providerMetrics,
} from './metrics.ts'
