// The public face of webhooks/: other folders import from here only. The webhook contract
// (paths, `status.webhook`, provider ids and their Secret keys) is in controller/api.
export {
  type BuildAppOptions,
  buildApp,
  DEFAULT_BODY_LIMIT,
  DEFAULT_RATE_LIMIT,
  type RateLimitSetting,
} from './app.ts'
export {
  type BridgeEndpoint,
  BridgeTargetResolver,
  type BridgeTargetResolverOptions,
  bridgeCall,
  bridgePatcher,
} from './bridge-resolver.ts'
export {
  BridgeCallbackForwarder,
  type BridgeForwarderOptions,
  BridgeRejectForwarder,
  type BridgeSinksOptions,
  bridgeSinks,
} from './bridge-sinks.ts'
export {
  type CallbackEvent,
  type CallbackSink,
  type CallbackValue,
  discardCallbacks,
  MemoryCallbackSink,
  StatusCallbackSink,
  type StatusCallbackSinkOptions,
} from './callbacks.ts'
export { type ConnectRoutesOptions, connectPage, connectRoutes } from './connect.ts'
export { DedupeStores, DeliveryDedupe, type DeliveryDedupeOptions, dedupeKey } from './dedupe.ts'
export {
  KubernetesTargetResolver,
  type KubernetesTargetResolverOptions,
  mapSecretKeys,
  SecretCache,
} from './kube-resolver.ts'
export {
  parseAddress,
  parseRateLimit,
  parseSize,
  runWebhooks,
  type WatchedObjects,
  type WebhookServerExtensions,
} from './main.ts'
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
  RejectGate,
  type RejectGateOptions,
  type RejectReason,
  type RejectReporter,
  rejectKey,
  WEBHOOK_REJECTED_EVENT,
} from './rejects.ts'
export {
  keyOfTarget,
  type MemoryTargetInput,
  MemoryTargetResolver,
  type TargetRef,
  type TargetResolver,
  type WebhookTarget,
} from './targets.ts'
