/**
 * Each recipient's outcome as a track event to the campaign's Destinations (`destinationRefs`), so
 * the audit trail lives where the rest of the data goes.
 *
 * - Outcomes: `Message Sent` (Twilio accepted it), then `Message Delivered`, `Undelivered`,
 *   `Failed` and `Read` as the callbacks say, or `Message Skipped` with its reason. One event per
 *   recipient and outcome: its message id is a hash of the campaign's UID, the recipient id and
 *   the outcome, so a re-sent event is the same event to the Destination.
 * - The recipient: `userId` is the `userId` column (or JSON field) of its list when there is one,
 *   else its recipient id (the campaign's keyed hash of the number, as in the progress records);
 *   `properties.recipientId` is always the recipient id. The number is never sent, not even masked.
 * - When: before each commit of the progress records, the outcomes they hold that this process
 *   has not delivered yet go out, and the commit waits for every Destination's acknowledgement (a
 *   Destination that refuses or is down stops the campaign, as a sync's cursor waits for its
 *   Destinations). A crash between the two re-sends them: at least once, recognisably.
 * - What was delivered is remembered in memory, for one set of Destinations (another set gets
 *   every outcome again), and across processes by the progress records: a record is written only
 *   after the Destinations its `reportedTo` names acknowledged every outcome in it, so a new
 *   controller process `seed`s those as delivered. A malformed line has no recipient to name and
 *   gets no event (RecipientsValid names its line).
 */
import { createHash } from 'node:crypto'
import { type Deliverer, type DeliveryRecord, rfc3339 } from '../../connectors/index.ts'
import type { Entry } from './progress.ts'
import type { Recipient } from './recipients.ts'

export type Outcome = 'sent' | 'delivered' | 'undelivered' | 'failed' | 'read' | 'skipped'

const EVENT: Record<Outcome, string> = {
  sent: 'Message Sent',
  delivered: 'Message Delivered',
  undelivered: 'Message Undelivered',
  failed: 'Message Failed',
  read: 'Message Read',
  skipped: 'Message Skipped',
}

/** Events per deliver call at most. */
const BATCH = 500

/** The outcomes an entry stands for (what a recipient went through so far). */
export function outcomesOf(e: Entry): Outcome[] {
  if (e.state === 'x') return ['skipped']
  if (e.state !== 's') return []
  const out: Outcome[] = ['sent']
  if (e.delivery === 'read') out.push('delivered', 'read')
  else if (e.delivery === 'delivered' || e.delivery === 'undelivered' || e.delivery === 'failed')
    out.push(e.delivery)
  return out
}

export interface CampaignRef {
  namespace: string
  name: string
  uid: string
  channel: string
}

/** Delivers what is new since the last call; one per campaign and controller process. */
export class OutcomeReporter {
  /** `<recipient id>` → the outcomes delivered for it. */
  readonly #done = new Map<string, Set<Outcome>>()
  readonly #campaign: CampaignRef
  /** The Destinations (names, sorted, comma-separated) this reporter delivers to. */
  readonly reportedTo: string

  constructor(campaign: CampaignRef, reportedTo = '') {
    this.#campaign = campaign
    this.reportedTo = reportedTo
  }

  /** Marks the outcomes of these entries delivered (records written after they were). */
  seed(entries: Iterable<readonly [string, Entry]>): void {
    for (const [id, e] of entries) {
      const set = this.#done.get(id) ?? new Set<Outcome>()
      for (const o of outcomesOf(e)) set.add(o)
      this.#done.set(id, set)
    }
  }

  /** The events for outcomes not delivered yet (in the order of the entries). */
  pending(entries: ReadonlyMap<string, Entry>, byId: ReadonlyMap<string, Recipient>): DeliveryRecord[] {
    const records: DeliveryRecord[] = []
    for (const [id, e] of entries) {
      const done = this.#done.get(id)
      for (const outcome of outcomesOf(e)) {
        if (done?.has(outcome)) continue
        records.push(this.#record(id, e, outcome, byId.get(id)))
      }
    }
    return records
  }

  /** Delivers the new outcomes to every Destination; resolves once all acknowledged them. */
  async report(
    entries: ReadonlyMap<string, Entry>,
    byId: ReadonlyMap<string, Recipient>,
    deliverers: readonly Deliverer[],
    signal?: AbortSignal,
  ): Promise<number> {
    if (deliverers.length === 0) return 0
    const records = this.pending(entries, byId)
    for (let i = 0; i < records.length; i += BATCH) {
      const page = records.slice(i, i + BATCH)
      await Promise.all(deliverers.map((d) => d.deliver(page, signal ? { signal } : {})))
      for (const r of page) {
        const { recipientId, outcome } = r.properties as { recipientId: string; outcome: Outcome }
        const set = this.#done.get(recipientId) ?? new Set<Outcome>()
        set.add(outcome)
        this.#done.set(recipientId, set)
      }
    }
    return records.length
  }

  #record(id: string, e: Entry, outcome: Outcome, r: Recipient | undefined): DeliveryRecord {
    const { namespace, name, uid, channel } = this.#campaign
    const properties: Record<string, unknown> = {
      campaign: `${namespace}/${name}`,
      channel,
      outcome,
      recipientId: id,
    }
    if (e.state === 's') {
      properties.messageSid = e.sid
      if (e.code !== undefined && outcome !== 'sent') properties.errorCode = e.code
    } else if (e.state === 'x') {
      properties.reason = e.reason
      if (e.code !== undefined) properties.errorCode = e.code
    }
    const userId = r?.variables.userId?.trim()
    return {
      messageId: `sb-mc-${createHash('sha256').update(`${uid}\n${id}\n${outcome}`).digest('hex').slice(0, 40)}`,
      type: 'track',
      userId: userId && userId.length <= 256 ? userId : id,
      event: EVENT[outcome],
      properties,
      timestamp: rfc3339(new Date()),
    }
  }
}
