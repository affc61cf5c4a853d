export { Checkpointer, type CheckpointPolicy, DEFAULT_CHECKPOINTS } from './checkpoint.ts'
export * from './conditions.ts'
export {
  CONNECT_FOR_ANNOTATION,
  ConnectLinks,
  type ConnectLinksOptions,
  type ConnectProvider,
  type ConnectRequest,
  connectSecretName,
  DEFAULT_CONNECT_TTL_MS,
  parseState,
} from './connect-links.ts'
export {
  closeSharedConnections,
  type PoolOptions,
  SharedConnectionsKubeConfig,
  withSharedConnections,
} from './connections.ts'
export { Controller, type ControllerDeps } from './controller.ts'
export {
  type BaseContext,
  type CommonStatus,
  FINALIZER,
  type KindInfo,
  keyOf,
  REQUESTED_AT_ANNOTATION,
  RESYNC_ANNOTATION,
  type ReconcileContext,
  type ReconcilerDefinition,
  type Step,
  type StepFailure,
  type SwitchboardObject,
} from './definition.ts'
export { parseDuration, withJitter } from './duration.ts'
export { jsonEqual } from './equal.ts'
export { EventRecorder, type EventType, type InvolvedObject } from './events.ts'
export {
  BookmarkedWatch,
  type Cache,
  Informer,
  type InformerHandlers,
  type InformerOptions,
  NamespacedInformers,
} from './informer.ts'
export {
  apiStatus,
  describeApiError,
  isConflict,
  isNotFound,
  jsonPatch,
  type KubeClients,
  makeClients,
  mergePatch,
} from './kube.ts'
export { type LeaderElectionOptions, LeaderElector } from './leader.ts'
export { Manager, type ManagerOptions } from './manager.ts'
export { MemoStore } from './memo.ts'
export { mergePatchDiff } from './merge-patch.ts'
export { OperatorMetrics, type QueueMetrics, registerProcessMetrics } from './metrics.ts'
export {
  type AccessToken,
  DEFAULT_TOKEN_KEYS,
  type OAuthCredential,
  OAuthTokens,
  type OAuthTokensOptions,
  type TokenKeys,
} from './oauth-tokens.ts'
export { type ReadAheadOptions, readAhead } from './read-ahead.ts'
export {
  createWritableSecret,
  isWritable,
  SecretConflictError,
  type SecretKeyWrite,
  WRITABLE_LABEL,
  writeSecretKeys,
} from './secret-writes.ts'
export { SecretReader, type SecretReaderOptions, type SecretSource } from './secrets.ts'
export { SHARD_LABEL, shardSelector } from './shard.ts'
export { SyncMetrics } from './sync-metrics.ts'
export { tokenFile } from './token-file.ts'
export { type BackoffOptions, ItemBackoff, WorkQueue } from './workqueue.ts'
