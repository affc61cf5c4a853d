// The public face of webhooks/: other folders import from here only.
export {
  type BuildAppOptions,
  buildApp,
  DEFAULT_BODY_LIMIT,
  DEFAULT_RATE_LIMIT,
  type RateLimitSetting,
} from './app.ts'
export {
  type CallbackEvent,
  type CallbackSink,
  type CallbackValue,
  discardCallbacks,
  MemoryCallbackSink,
  StatusCallbackSink,
  type StatusCallbackSinkOptions,
} from './callbacks.ts'
export { DeliveryDedupe, type DeliveryDedupeOptions } from './dedupe.ts'
export {
  DEFAULT_SECRET_KEYS,
  fieldAt,
  PROVIDER_SECRET_NAMES,
  type ProviderSecretKeys,
  WEBHOOK_KINDS,
  type WebhookKind,
} from './kinds.ts'
export {
  KubernetesTargetResolver,
  type KubernetesTargetResolverOptions,
  mapSecretKeys,
  SecretCache,
} from './kube-resolver.ts'
export { parseAddress, parseRateLimit, parseSize, runWebhooks } from './main.ts'
export { type ProviderLabel, type Result, WebhookMetrics } from './metrics.ts'
export * from './providers/index.ts'
export {
  annotationPatcher,
  CoalescingRequester,
  type CoalescingRequesterOptions,
  type PatchResult,
  type ReconcileRequester,
  type RequestPatcher,
} from './reconcile.ts'
export {
  type EventSink,
  REJECT_REASONS,
  REJECTS,
  RESULTS,
  RejectEvents,
  type RejectEventsOptions,
  type RejectReason,
  WEBHOOK_REJECTED_EVENT,
} from './rejects.ts'
export {
  CASINO_PROVIDERS,
  type CasinoProvider,
  type EnsureWebhookOptions,
  ensureWebhookStatus,
  HOOKS_PREFIX,
  isProvider,
  newWebhookToken,
  PROVIDERS,
  type ProviderId,
  parseWebhookPath,
  WEBHOOK_READY,
  type WebhookChannel,
  type WebhookStatus,
  webhookPath,
  webhookStatus,
  webhookUrl,
} from './status.ts'
export {
  keyOfTarget,
  type MemoryTargetInput,
  MemoryTargetResolver,
  type TargetRef,
  type TargetResolver,
  type WebhookTarget,
} from './targets.ts'
