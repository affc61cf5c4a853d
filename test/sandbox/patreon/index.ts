// Patreon sandbox: the public face.

export { patreonConfigSchema } from './config.ts'
export { patreonPlugin } from './plugin.ts'
export {
  PATREON_DEFAULT_COUNT,
  PATREON_MAX_COUNT,
  PATREON_PATH_PREFIX,
  PATREON_PROVIDER,
  type PatreonCampaignInput,
  type PatreonDelivery,
  PatreonSandbox,
  type PatreonSandboxOptions,
  type PatreonTierInput,
  type StoredCampaign,
  type StoredMember,
  type StoredWebhook,
  type TokenGrant,
  WEBHOOK_TRIGGERS,
  type WebhookTrigger,
} from './state.ts'
