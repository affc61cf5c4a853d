import { describe, expect, it } from 'vitest'
import type { Deliverer, DeliveryRecord } from '../../connectors/index.ts'
import { OutcomeReporter, outcomesOf } from './outcomes.ts'
import type { Entry } from './progress.ts'
import type { Recipient } from './recipients.ts'

/** A Destination that keeps what it acknowledged, or refuses while told to. */
function recording(): Deliverer & { got: DeliveryRecord[]; refuse: boolean } {
  const d = {
    type: 'segment' as const,
    got: [] as DeliveryRecord[],
    refuse: false,
    async deliver(records: readonly DeliveryRecord[]) {
      if (d.refuse) throw new Error('destination unavailable')
      d.got.push(...records)
      return { delivered: records.length, durationMs: 0 }
    },
    async close() {},
  }
  return d
}

const campaign = { namespace: 'ns', name: 'c', uid: 'uid-1', channel: 'sms' }
const recipient = (id: string, userId?: string): Recipient => ({
  id,
  phone: '+27821234567',
  variables: userId ? { userId } : {},
  where: 'line 2',
})

describe('campaign outcomes', () => {
  it('an entry stands for what its recipient went through', () => {
    expect(outcomesOf({ state: 'q', intentMs: 1 })).toEqual([])
    expect(outcomesOf({ state: 's', sid: 'SM1', delivery: 'queued' })).toEqual(['sent'])
    expect(outcomesOf({ state: 's', sid: 'SM1', delivery: 'undelivered', code: 30003 })).toEqual([
      'sent',
      'undelivered',
    ])
    expect(outcomesOf({ state: 's', sid: 'SM1', delivery: 'read' })).toEqual(['sent', 'delivered', 'read'])
    expect(outcomesOf({ state: 'x', reason: 'optedOut', code: 21610 })).toEqual(['skipped'])
  })

  it('sends each outcome once per process, with ids that do not change, and again after a refusal', async () => {
    const entries = new Map<string, Entry>([
      ['r1', { state: 's', sid: 'SM1', delivery: 'sent' }],
      ['r2', { state: 'x', reason: 'missingVariable' }],
    ])
    const byId = new Map([['r1', recipient('r1', 'user-1')]])
    const dest = recording()
    const reporter = new OutcomeReporter(campaign)
    expect(await reporter.report(entries, byId, [dest])).toBe(2)
    expect(await reporter.report(entries, byId, [dest])).toBe(0)
    entries.set('r1', { state: 's', sid: 'SM1', delivery: 'delivered' })
    dest.refuse = true
    await expect(reporter.report(entries, byId, [dest])).rejects.toThrow(/unavailable/)
    dest.refuse = false
    expect(await reporter.report(entries, byId, [dest])).toBe(1)
    expect(dest.got.map((r) => [r.userId, r.event])).toEqual([
      ['user-1', 'Message Sent'],
      ['r2', 'Message Skipped'],
      ['user-1', 'Message Delivered'],
    ])
    // a new process sends them again with the same ids
    const again = recording()
    await new OutcomeReporter(campaign).report(entries, byId, [again])
    expect(again.got.map((r) => r.messageId).sort()).toEqual(dest.got.map((r) => r.messageId).sort())
    // another campaign's ids differ
    const other = recording()
    await new OutcomeReporter({ ...campaign, uid: 'uid-2' }).report(entries, byId, [other])
    expect(other.got.some((r) => dest.got.some((d) => d.messageId === r.messageId))).toBe(false)
    for (const r of dest.got) expect(r.messageId.length).toBeLessThan(100)
    expect(JSON.stringify(dest.got)).not.toContain('821234567')
  })

  it('without Destinations it sends nothing and remembers nothing', async () => {
    const reporter = new OutcomeReporter(campaign)
    const entries = new Map<string, Entry>([['r1', { state: 'x', reason: 'optedOut' }]])
    expect(await reporter.report(entries, new Map(), [])).toBe(0)
    expect(reporter.pending(entries, new Map())).toHaveLength(1)
  })
})
