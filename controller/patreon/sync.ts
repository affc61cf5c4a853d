/**
 * One full sync of a campaign's members: every page read from Patreon, each new or changed member
 * handed to every Destination as an `identify`, the digests of what was acknowledged remembered.
 *
 * Patreon's members API has no "changed since": every sync reads the whole list (5,000 members
 * are 5 pages of 1,000). What keeps unchanged members from being sent again is `MemberMemory`, the
 * digest of each member's traits as last acknowledged, held in the object's memo. It is not kept
 * across restarts: the first sync after one sends every member again, with the same
 * content-derived message ids (connectors/patreon/mapping.ts), which destinations recognise as
 * repeats. A member Patreon no longer lists (removed from the campaign) is sent once more, marked
 * `removed`, so nothing silently disappears from the destinations.
 */
import {
  type Deliverer,
  type MemberField,
  type MemberTraits,
  memberRecord,
  memberTraits,
  type PatreonClient,
  type PatreonTier,
  removedTraits,
  traitsDigest,
} from '../../connectors/index.ts'
import type { PatreonMemberCounts } from '../api/index.ts'

/** The traits and digest of each member as last acknowledged by every destination. */
export type MemberMemory = Map<string, { digest: string; traits: MemberTraits }>

export interface SyncResult {
  counts: PatreonMemberCounts
  /** Members entitled to each tier (tier id → count). */
  entitled: Map<string, number>
  /** Records delivered (new, changed and removed members). */
  delivered: number
  /** Members read and found unchanged. */
  unchanged: number
  removed: number
  pages: number
}

export interface SyncInput {
  client: PatreonClient
  campaignId: string
  tiers: readonly PatreonTier[]
  fields: readonly MemberField[]
  pageSize: number
  deliverers: readonly Deliverer[]
  memory: MemberMemory
  signal: AbortSignal
  /** Called after each page every destination acknowledged (to write progress). */
  onPage?: (delivered: number) => Promise<void>
}

async function deliverAll(
  deliverers: readonly Deliverer[],
  records: Parameters<Deliverer['deliver']>[0],
  signal: AbortSignal,
): Promise<void> {
  if (records.length === 0) return
  await Promise.all(deliverers.map((d) => d.deliver(records, { signal })))
}

export async function syncMembers(input: SyncInput): Promise<SyncResult> {
  const { memory } = input
  const counts: PatreonMemberCounts = {
    total: 0,
    activePatron: 0,
    declinedPatron: 0,
    formerPatron: 0,
    none: 0,
  }
  const entitled = new Map<string, number>(input.tiers.map((t) => [t.id, 0]))
  const tierById = new Map(input.tiers.map((t) => [t.id, t]))
  const seen = new Set<string>()
  let delivered = 0
  let unchanged = 0
  let pages = 0
  const now = new Date()
  for await (const page of input.client.members(input.campaignId, {
    fields: input.fields,
    pageSize: input.pageSize,
    signal: input.signal,
  })) {
    pages++
    // titles of tiers added since the campaign was read come with the page
    for (const [id, t] of page.tiers) if (!tierById.has(id)) tierById.set(id, t)
    const changed: Array<{ id: string; digest: string; traits: MemberTraits }> = []
    for (const m of page.members) {
      if (seen.has(m.id)) continue // a member moved across a page boundary while we read
      seen.add(m.id)
      counts.total++
      if (m.patronStatus === 'active_patron') counts.activePatron++
      else if (m.patronStatus === 'declined_patron') counts.declinedPatron++
      else if (m.patronStatus === 'former_patron') counts.formerPatron++
      else counts.none++
      for (const t of m.tierIds) entitled.set(t, (entitled.get(t) ?? 0) + 1)
      const traits = memberTraits(input.campaignId, m, tierById, input.fields)
      const digest = traitsDigest(traits)
      if (memory.get(m.id)?.digest === digest) {
        unchanged++
        continue
      }
      changed.push({ id: m.id, digest, traits })
    }
    await deliverAll(
      input.deliverers,
      changed.map((c) => memberRecord(c.traits, c.digest, now)),
      input.signal,
    )
    // acknowledged by every destination: remembered
    for (const c of changed) memory.set(c.id, { digest: c.digest, traits: c.traits })
    delivered += changed.length
    await input.onPage?.(delivered)
  }
  // the members Patreon no longer lists keep a record: sent once more, marked removed
  const gone = [...memory.entries()].filter(([id, m]) => !seen.has(id) && !m.traits.removed)
  const removedRecords = gone.map(([id, m]) => {
    const traits = removedTraits(m.traits)
    const digest = traitsDigest(traits)
    return { id, traits, digest }
  })
  await deliverAll(
    input.deliverers,
    removedRecords.map((r) => memberRecord(r.traits, r.digest, now)),
    input.signal,
  )
  for (const r of removedRecords) memory.set(r.id, { digest: r.digest, traits: r.traits })
  delivered += removedRecords.length
  return { counts, entitled, delivered, unchanged, removed: removedRecords.length, pages }
}
