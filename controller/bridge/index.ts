// The webhook bridge: what the webhook server of the same pod may ask the controller.
export {
  type BridgeCallback,
  type BridgeTarget,
  buildWebhookBridge,
  listenWebhookBridge,
  listenWebhookBridgeTcp,
  MIN_BRIDGE_TOKEN_LENGTH,
  type WebhookBridgeOptions,
  type WebhookBridgeSinks,
  type WebhookBridgeSource,
} from './server.ts'
export { managerBridgeSource } from './source.ts'
