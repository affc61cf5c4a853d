// The shared provider HTTP layer (see README.md).
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
  createProviderClient,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_MS,
  type PostOptions,
  type ProviderClient,
  type ProviderClientOptions,
  parseBody,
  type QueryValue,
  type RetryPolicy,
  toProviderError,
} from './client.ts'
export {
  DURATION_BUCKETS,
  PROVIDER_REQUEST_DURATION,
  PROVIDER_REQUESTS_TOTAL,
  type ProviderMetrics,
  providerMetrics,
} from './metrics.ts'
