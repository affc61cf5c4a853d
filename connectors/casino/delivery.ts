/**
 * Casino records as Destination records. Players become `identify` calls (traits = the player),
 * transactions and game sessions `track` events of the player. The message id is a hash of
 * provider, casino, stream, record id and updatedAt: the same version of a record always gets
 * the same id (a re-sent page is recognised), a newer version a new one.
 */
import { createHash } from 'node:crypto'
import type { DeliveryRecord } from '../delivery.ts'
import type { CasinoProvider, CasinoRecord, TransactionStatus } from './types.ts'

/**
 * Stable message id, < 100 chars: `casino:<provider>:<stream>:<32 hex>` (sha256 of provider,
 * casino, stream, id and updatedAt, truncated to 128 bits). `casinoKey` is the casino's identity
 * chosen by the caller (for example the CasinoIntegration's `namespace/name`); only its hash is
 * in the id.
 */
export function messageIdFor(provider: CasinoProvider, casinoKey: string, rec: CasinoRecord): string {
  const hash = createHash('sha256')
  for (const part of [provider, casinoKey, rec.stream, rec.record.id, rec.record.updatedAt]) {
    hash.update(part).update('\0')
  }
  return `casino:${provider}:${rec.stream}:${hash.digest('hex').slice(0, 32)}`
}

const TRANSACTION_EVENTS: Record<TransactionStatus, string> = {
  pending: 'Transaction Pending',
  completed: 'Transaction Completed',
  failed: 'Transaction Failed',
  cancelled: 'Transaction Cancelled',
}

/** Event names used for `track` records. */
export const CASINO_EVENTS = {
  transaction: TRANSACTION_EVENTS,
  gameSessionEnded: 'Game Session Ended',
  gameSessionUpdated: 'Game Session Updated',
} as const

/**
 * The Destination record of a casino record. `userId` is the player id; `timestamp` the record's
 * updatedAt; properties carry the record plus `provider` and `casino` (the `casinoKey`, so it
 * must not be secret). Undefined optional fields are left out.
 */
export function toDeliveryRecord(
  provider: CasinoProvider,
  casinoKey: string,
  rec: CasinoRecord,
): DeliveryRecord {
  const messageId = messageIdFor(provider, casinoKey, rec)
  const origin = { provider, casino: casinoKey }
  const source = { stream: rec.stream, key: rec.record.id }
  switch (rec.stream) {
    case 'players': {
      const p = rec.record
      return {
        messageId,
        type: 'identify',
        userId: p.id,
        properties: compact({
          email: p.email,
          country: p.country,
          currency: p.currency,
          status: p.status,
          registeredAt: p.registeredAt,
          updatedAt: p.updatedAt,
          ...origin,
        }),
        timestamp: p.updatedAt,
        ...source,
      }
    }
    case 'transactions': {
      const t = rec.record
      return {
        messageId,
        type: 'track',
        userId: t.playerId,
        event: TRANSACTION_EVENTS[t.status],
        properties: compact({
          transactionId: t.id,
          type: t.type,
          status: t.status,
          amountMinor: t.amountMinor,
          currency: t.currency,
          gameSessionId: t.gameSessionId,
          createdAt: t.createdAt,
          updatedAt: t.updatedAt,
          ...origin,
        }),
        timestamp: t.updatedAt,
        ...source,
      }
    }
    case 'games': {
      const g = rec.record
      return {
        messageId,
        type: 'track',
        userId: g.playerId,
        event: g.endedAt ? CASINO_EVENTS.gameSessionEnded : CASINO_EVENTS.gameSessionUpdated,
        properties: compact({
          gameSessionId: g.id,
          gameId: g.gameId,
          gameName: g.gameName,
          studio: g.studio,
          currency: g.currency,
          totalBetMinor: g.totalBetMinor,
          totalWinMinor: g.totalWinMinor,
          rounds: g.rounds,
          startedAt: g.startedAt,
          endedAt: g.endedAt,
          updatedAt: g.updatedAt,
          ...origin,
        }),
        timestamp: g.updatedAt,
        ...source,
      }
    }
  }
}

function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v
  return out
}
