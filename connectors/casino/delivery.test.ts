import { describe, expect, it } from 'vitest'
import { MAX_MESSAGE_ID_LENGTH, validateRecords } from '../delivery.ts'
import { messageIdFor, toDeliveryRecord } from './delivery.ts'
import type { CasinoRecord } from './types.ts'

const player: CasinoRecord = {
  stream: 'players',
  record: {
    id: 'P1',
    email: 'p1@casino.example',
    currency: 'EUR',
    status: 'active',
    registeredAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-02T00:00:00.000Z',
  },
}
const transaction: CasinoRecord = {
  stream: 'transactions',
  record: {
    id: 'T1',
    playerId: 'P1',
    type: 'deposit',
    amountMinor: 1250,
    currency: 'EUR',
    status: 'completed',
    createdAt: '2024-01-02T00:00:00.000Z',
    updatedAt: '2024-01-02T00:01:00.000Z',
  },
}
const game: CasinoRecord = {
  stream: 'games',
  record: {
    id: 'G1',
    playerId: 'P1',
    gameId: 'roulette',
    currency: 'EUR',
    totalBetMinor: 500,
    totalWinMinor: 0,
    rounds: 5,
    startedAt: '2024-01-02T00:00:00.000Z',
    endedAt: '2024-01-02T00:05:00.000Z',
    updatedAt: '2024-01-02T00:05:00.000Z',
  },
}

describe('casino delivery records', () => {
  it('gives a stable, short message id per record version', () => {
    const id = messageIdFor('playtech-pam', 'default/my-casino', transaction)
    expect(id).toMatch(/^casino:playtech-pam:transactions:[0-9a-f]{32}$/)
    expect(id.length).toBeLessThanOrEqual(MAX_MESSAGE_ID_LENGTH)
    expect(messageIdFor('playtech-pam', 'default/my-casino', structuredClone(transaction))).toBe(id)
    const newer = { ...transaction, record: { ...transaction.record, updatedAt: '2024-01-03T00:00:00.000Z' } }
    expect(messageIdFor('playtech-pam', 'default/my-casino', newer as CasinoRecord)).not.toBe(id)
    expect(messageIdFor('playtech-pam', 'default/other', transaction)).not.toBe(id)
    expect(messageIdFor('softswiss', 'default/my-casino', transaction)).not.toBe(id)
  })

  it('maps players to identify, transactions and games to track events', () => {
    const records = [player, transaction, game].map((r) => toDeliveryRecord('altenar', 'ns/c', r))
    expect(() => validateRecords(records, 'test')).not.toThrow()
    expect(records[0]).toMatchObject({
      type: 'identify',
      userId: 'P1',
      timestamp: '2024-01-02T00:00:00.000Z',
      properties: { email: 'p1@casino.example', status: 'active', provider: 'altenar', casino: 'ns/c' },
    })
    expect(records[0]?.properties).not.toHaveProperty('country')
    expect(records[1]).toMatchObject({
      type: 'track',
      event: 'Transaction Completed',
      userId: 'P1',
      properties: { transactionId: 'T1', type: 'deposit', amountMinor: 1250, currency: 'EUR' },
    })
    expect(records[2]).toMatchObject({
      type: 'track',
      event: 'Game Session Ended',
      properties: { gameSessionId: 'G1', rounds: 5, totalBetMinor: 500 },
    })
    const running = { ...game, record: { ...game.record, endedAt: undefined } } as CasinoRecord
    expect(toDeliveryRecord('altenar', 'ns/c', running).event).toBe('Game Session Updated')
    const pending = { ...transaction, record: { ...transaction.record, status: 'pending' } } as CasinoRecord
    expect(toDeliveryRecord('altenar', 'ns/c', pending).event).toBe('Transaction Pending')
  })
})
