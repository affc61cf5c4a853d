// The webhook bridge: what the webhook server of the same pod may ask the controller.
export {
  buildWebhookBridge,
  listenWebhookBridge,
  type WebhookBridgeOptions,
  type WebhookBridgeSource,
} from './server.ts'
export { managerBridgeSource } from './source.ts'
