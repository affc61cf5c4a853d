export * from './api/index.ts'
export {
  type BridgeCallback,
  type BridgeTarget,
  buildWebhookBridge,
  listenWebhookBridge,
  listenWebhookBridgeTcp,
  MIN_BRIDGE_TOKEN_LENGTH,
  managerBridgeSource,
  type WebhookBridgeSinks,
  type WebhookBridgeSource,
} from './bridge/index.ts'
export { CredentialsValid, DeliveryRegistry, destinationReconciler } from './destination/index.ts'
export { type ControllerExtensions, runController } from './main.ts'
export { createOperator, type Operator, type OperatorOptions } from './operator.ts'
export {
  type CommonStatus,
  ConditionType,
  Controller,
  FINALIZER,
  findCondition,
  isTrue,
  LeaderElector,
  Manager,
  type ManagerOptions,
  OperatorMetrics,
  parseDuration,
  REQUESTED_AT_ANNOTATION,
  type ReconcileContext,
  type ReconcilerDefinition,
  type SwitchboardObject,
  WorkQueue,
} from './runtime/index.ts'
