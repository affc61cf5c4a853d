import { rfc3339 } from '../../connectors/index.ts'
import { WEBHOOK_READY } from '../api/index.ts'

/** The metav1.Condition shape, as every Switchboard kind stores it in `status.conditions`. */
export interface Condition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason: string
  message: string
  observedGeneration?: number
  lastTransitionTime: string
}

/**
 * Every condition type Switchboard writes. `Ready`, `Reconciling` and `Stalled` follow the kstatus
 * convention; the others are kind-specific. Their reasons come from `Reason` (connectors/errors.ts).
 */
export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  /** The Secret has the keys the provider needs, and the provider accepted them. */
  CredentialsValid: 'CredentialsValid',
  /** Every stream synced (CasinoIntegration). */
  Synced: 'Synced',
  /** The provider is rate limiting: syncing goes on, slower (CasinoIntegration). */
  Degraded: 'Degraded',
  /** The provider's webhooks can be received and verified (the webhook contract's condition). */
  WebhookReady: WEBHOOK_READY,
  /** The source calendar was read (CalendarSync). */
  SourceReady: 'SourceReady',
  /** Every target calendar is in step with the source (CalendarSync). */
  TargetsSynced: 'TargetsSynced',
  /** New public events are posted (CalendarSync with spec.announce). */
  Announced: 'Announced',
  /** Every line of every recipient list could be read (MessageCampaign). */
  RecipientsValid: 'RecipientsValid',
  /** Every recipient was messaged or skipped (MessageCampaign). */
  Completed: 'Completed',
  /** Every channel of the spec is known to the provider (TwitchIntegration). */
  ChannelsResolved: 'ChannelsResolved',
  /** Every EventSub subscription is enabled (TwitchIntegration). */
  EventSubReady: 'EventSubReady',
  /** The broadcaster authorized Switchboard (a user token) for channel.subscribe (TwitchIntegration). */
  BroadcasterAuthorized: 'BroadcasterAuthorized',
} as const
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType]

const MAX_MESSAGE = 32_768

/**
 * Sets a condition in place. `lastTransitionTime` changes only when the status changes (the
 * apimachinery rule), so rewriting the same condition changes nothing and causes no write.
 */
export function setCondition(
  conditions: Condition[],
  next: Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string },
  now: () => Date = () => new Date(),
): void {
  const message = next.message.length > MAX_MESSAGE ? next.message.slice(0, MAX_MESSAGE) : next.message
  const existing = conditions.find((c) => c.type === next.type)
  if (!existing) {
    conditions.push({
      type: next.type,
      status: next.status,
      reason: next.reason,
      message,
      ...(next.observedGeneration === undefined ? {} : { observedGeneration: next.observedGeneration }),
      lastTransitionTime: next.lastTransitionTime ?? rfc3339(now()),
    })
    return
  }
  if (existing.status !== next.status) {
    existing.status = next.status
    existing.lastTransitionTime = next.lastTransitionTime ?? rfc3339(now())
  }
  existing.reason = next.reason
  existing.message = message
  if (next.observedGeneration !== undefined) existing.observedGeneration = next.observedGeneration
}

export function removeCondition(conditions: Condition[], type: string): void {
  const i = conditions.findIndex((c) => c.type === type)
  if (i >= 0) conditions.splice(i, 1)
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type)
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True'
}

/** Orders conditions so that Ready comes first, then the rest by type (stable output, stable diffs). */
export function sortConditions(conditions: Condition[]): Condition[] {
  const order: string[] = [ConditionType.Ready, ConditionType.Reconciling, ConditionType.Stalled]
  const rank = (t: string) => (order.includes(t) ? order.indexOf(t) : order.length)
  return conditions.sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type))
}
