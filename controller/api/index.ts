import { CalendarSyncKind } from './calendar-sync.ts'
import { CasinoIntegrationKind } from './casino-integration.ts'
import { DestinationKind } from './destination.ts'
import { MessageCampaignKind } from './message-campaign.ts'
import { PatreonIntegrationKind } from './patreon-integration.ts'
import { TwitchIntegrationKind } from './twitch-integration.ts'
import type { KindDefinition } from './types.ts'

export * from './calendar-sync.ts'
export * from './casino-integration.ts'
export * from './common.ts'
export * from './connect.ts'
export * from './destination.ts'
export * from './message-campaign.ts'
export * from './patreon-integration.ts'
export * from './providers/index.ts'
export * from './twitch-integration.ts'
export * from './types.ts'
export * from './webhook.ts'

/**
 * Every kind Switchboard serves. Adding a kind is one file in this folder and one entry here:
 * the CRD generator, the CRD installer and the controller all read this list.
 */
export const allKinds: readonly KindDefinition[] = [
  DestinationKind,
  CasinoIntegrationKind,
  CalendarSyncKind,
  MessageCampaignKind,
  TwitchIntegrationKind,
  PatreonIntegrationKind,
]
