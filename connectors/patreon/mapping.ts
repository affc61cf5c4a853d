/**
 * A Patreon member as a Destination record: an `identify` whose traits are what the member's
 * data says (patron status, entitled tiers, amounts, last charge, email when the scope allows).
 *
 * The message id is derived from the content: `patreon-<member id>-<digest of the traits>`. The
 * same member with the same data always gets the same id, so a member sent again (after a
 * restart, or a crash before a sync finished) is recognisable to every destination as the message
 * it already has (Segment and the signed HTTP receiver drop it by id, Postgres upserts the row);
 * a member whose data changed gets a new id, and is a new message. The controller also keeps the
 * digests in memory to skip unchanged members altogether (controller/patreon).
 */
import { createHash } from 'node:crypto'
import type { DeliveryRecord } from '../delivery.ts'
import type { MemberField, PatreonMember, PatreonTier } from './client.ts'

/** The stream name of member records (a table destination's table). */
export const MEMBERS_STREAM = 'members'

export interface MemberTraits {
  patreonCampaignId: string
  patreonMemberId: string
  patreonUserId?: string
  /** `active_patron`, `declined_patron`, `former_patron`, or null (a follower who never pledged). */
  patronStatus: string | null
  entitledTierIds: string[]
  entitledTiers: string[]
  currentlyEntitledAmountCents?: number
  lifetimeSupportCents?: number
  lastChargeStatus?: string | null
  lastChargeDate?: string | null
  pledgeRelationshipStart?: string | null
  willPayAmountCents?: number
  isFollower?: boolean
  email?: string
  name?: string
  /** The member is no longer listed by Patreon (removed from the campaign). */
  removed?: boolean
}

/** The traits of a member, in a fixed key order (the digest depends on it). */
export function memberTraits(
  campaignId: string,
  m: PatreonMember,
  tiers: ReadonlyMap<string, PatreonTier>,
  fields: readonly MemberField[],
): MemberTraits {
  const want = new Set(fields)
  const t: MemberTraits = {
    patreonCampaignId: campaignId,
    patreonMemberId: m.id,
    patronStatus: m.patronStatus,
    entitledTierIds: [...m.tierIds].sort(),
    entitledTiers: [...m.tierIds].sort().map((id) => tiers.get(id)?.title ?? id),
  }
  if (m.userId) t.patreonUserId = m.userId
  if (want.has('currently_entitled_amount_cents') && m.currentlyEntitledAmountCents !== undefined)
    t.currentlyEntitledAmountCents = m.currentlyEntitledAmountCents
  if (want.has('lifetime_support_cents') && m.lifetimeSupportCents !== undefined)
    t.lifetimeSupportCents = m.lifetimeSupportCents
  if (want.has('last_charge_status') && m.lastChargeStatus !== undefined)
    t.lastChargeStatus = m.lastChargeStatus
  if (want.has('last_charge_date') && m.lastChargeDate !== undefined) t.lastChargeDate = m.lastChargeDate
  if (want.has('pledge_relationship_start') && m.pledgeRelationshipStart !== undefined)
    t.pledgeRelationshipStart = m.pledgeRelationshipStart
  if (want.has('will_pay_amount_cents') && m.willPayAmountCents !== undefined)
    t.willPayAmountCents = m.willPayAmountCents
  if (want.has('is_follower') && m.isFollower !== undefined) t.isFollower = m.isFollower
  if (want.has('email') && m.email) t.email = m.email
  if (want.has('full_name') && m.fullName) t.name = m.fullName
  return t
}

/** A short digest of the traits: equal traits, equal digest. */
export function traitsDigest(traits: MemberTraits): string {
  return createHash('sha256').update(JSON.stringify(traits)).digest('base64url').slice(0, 22)
}

/** The Destination record of a member; `digest` is `traitsDigest(traits)`. */
export function memberRecord(traits: MemberTraits, digest: string, at: Date): DeliveryRecord {
  return {
    // < 100 chars: 8 + 36 (a UUID) + 1 + 22
    messageId: `patreon-${traits.patreonMemberId}-${digest}`,
    type: 'identify',
    // the Patreon user is the person; a member without one (rare) is known by the member id
    userId: traits.patreonUserId
      ? `patreon-user-${traits.patreonUserId}`
      : `patreon-member-${traits.patreonMemberId}`,
    properties: { ...traits },
    timestamp: at.toISOString(),
    stream: MEMBERS_STREAM,
    key: traits.patreonMemberId,
  }
}

/** The record of a member Patreon no longer lists: kept, marked removed, entitled to nothing. */
export function removedTraits(last: MemberTraits): MemberTraits {
  return {
    ...last,
    patronStatus: last.patronStatus === 'active_patron' ? 'former_patron' : last.patronStatus,
    entitledTierIds: [],
    entitledTiers: [],
    ...(last.currentlyEntitledAmountCents !== undefined ? { currentlyEntitledAmountCents: 0 } : {}),
    removed: true,
  }
}
