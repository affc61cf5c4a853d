/**
 * A casino's records, computed on demand: record `i` of a stream is a pure function of the seed
 * and `i`, so a dataset of a million records costs a few numbers of memory. Records are in
 * ascending (updatedAt, id) order by index, three records share each updatedAt (so cursors must
 * break ties by id), and `append` adds records after the last one (later updatedAt), as a
 * platform that keeps receiving activity would.
 *
 * Records come out in Switchboard's normalised shapes (`connectors/casino/types.ts`); each
 * platform plugin renders them in its own wire format, so a connector that reads a dataset
 * back must reproduce `recordAt(stream, i)` exactly.
 */
import { createHash } from 'node:crypto'
import type {
  GameSession,
  Player,
  PlayerStatus,
  StreamName,
  Transaction,
  TransactionStatus,
  TransactionType,
} from '../../../connectors/index.ts'

export type DatasetSizes = Record<StreamName, number>

export interface RecordOf {
  players: Player
  transactions: Transaction
  games: GameSession
}

export interface DatasetOptions {
  /** Varies every generated value; two casinos with different seeds hold different records. */
  seed: string
  sizes: DatasetSizes
  /** `numeric`: ids are integers (as strings); `prefixed`: `P000000042`-style strings. */
  idStyle: 'numeric' | 'prefixed'
  /** updatedAt of record 0 of each stream, epoch ms. Default 2024-01-01T00:00:00Z. */
  startAt?: number
}

export const DEFAULT_START_AT = Date.UTC(2024, 0, 1)

/** Milliseconds between successive updatedAt values (every 3 records) per stream. */
const STEP_MS: Record<StreamName, number> = { players: 60_000, transactions: 5_000, games: 20_000 }
const TIE = 3
const NUMERIC_BASE: Record<StreamName, number> = { players: 100_000, transactions: 5_000_000, games: 900_000 }
const PREFIX: Record<StreamName, string> = { players: 'P', transactions: 'T', games: 'G' }

const CURRENCIES = ['EUR', 'EUR', 'USD', 'GBP', 'CAD', 'JPY', 'BTC', 'KWD'] as const
const COUNTRIES = ['DE', 'MT', 'GB', 'CA', 'SE', 'FI', 'JP', 'BR', 'NZ'] as const
const STATUSES: readonly PlayerStatus[] = [
  'active',
  'active',
  'active',
  'active',
  'blocked',
  'self_excluded',
  'closed',
]
const TX_TYPES: readonly TransactionType[] = [
  'bet',
  'bet',
  'bet',
  'win',
  'win',
  'deposit',
  'withdrawal',
  'bonus',
  'refund',
  'adjustment',
]
const TX_STATUSES: readonly TransactionStatus[] = [
  'completed',
  'completed',
  'completed',
  'completed',
  'pending',
  'failed',
  'cancelled',
]
const GAMES = [
  { id: 'book-of-riches', name: 'Book of Riches', studio: 'Northlight' },
  { id: 'sweet-cascade', name: 'Sweet Cascade', studio: 'Candyforge' },
  { id: 'lightning-roulette', name: 'Lightning Roulette', studio: 'LiveHall' },
  { id: 'blackjack-classic', name: undefined, studio: 'LiveHall' },
  { id: 'mega-moolah-x', name: 'Mega Fortune X', studio: undefined },
] as const

export class CasinoDataset {
  readonly seed: string
  readonly idStyle: DatasetOptions['idStyle']
  readonly startAt: number
  readonly #base: DatasetSizes
  readonly #sizes: DatasetSizes
  readonly #salt: number
  /** Per stream: index of a later version → index of the record it updates. */
  readonly #updates: Record<StreamName, Map<number, number>> = {
    players: new Map(),
    transactions: new Map(),
    games: new Map(),
  }

  constructor(opts: DatasetOptions) {
    for (const [stream, n] of Object.entries(opts.sizes)) {
      if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`dataset size of ${stream} must be >= 0`)
    }
    this.seed = opts.seed
    this.idStyle = opts.idStyle
    this.startAt = opts.startAt ?? DEFAULT_START_AT
    this.#base = { ...opts.sizes }
    this.#sizes = { ...opts.sizes }
    this.#salt = createHash('sha256').update(opts.seed).digest().readUInt32BE(0)
  }

  size(stream: StreamName): number {
    return this.#sizes[stream]
  }

  /** Adds `n` records after the last one of the stream (later updatedAt). */
  append(stream: StreamName, n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('append: n must be an integer >= 0')
    this.#sizes[stream] += n
  }

  /**
   * A new version of record `i`, as a platform serves an edited record: the same id, a later
   * updatedAt than any record before, one changed field (a player's or transaction's status, a
   * game session's rounds). It starts a group of records with the same updatedAt (fresh records
   * are appended first to fill the current one), so ids stay ascending within each updatedAt.
   * Returns the index the new version is served at.
   */
  update(stream: StreamName, i: number): number {
    const of = this.#updates[stream].get(i) ?? i
    if (!Number.isSafeInteger(of) || of < 0 || of >= this.size(stream)) {
      throw new RangeError(`update: ${stream} record ${i} does not exist`)
    }
    const pad = (TIE - (this.#sizes[stream] % TIE)) % TIE
    this.#sizes[stream] += pad
    const at = this.#sizes[stream]
    this.#sizes[stream] += 1
    this.#updates[stream].set(at, of)
    return at
  }

  /** How many different records (ids) a stream has: its size less the later versions. */
  distinct(stream: StreamName): number {
    return this.size(stream) - this.#updates[stream].size
  }

  /** Back to the configured sizes (drops appended records and updates). */
  reset(): void {
    Object.assign(this.#sizes, this.#base)
    for (const m of Object.values(this.#updates)) m.clear()
  }

  id(stream: StreamName, i: number): string {
    const of = this.#updates[stream].get(i)
    if (of !== undefined) return this.id(stream, of)
    return this.idStyle === 'numeric'
      ? String(NUMERIC_BASE[stream] + i)
      : `${PREFIX[stream]}${String(i).padStart(9, '0')}`
  }

  updatedAtMs(stream: StreamName, i: number): number {
    return this.startAt + Math.floor(i / TIE) * STEP_MS[stream]
  }

  /** Orders two ids of this dataset the way the platforms do. */
  compareIds(a: string, b: string): number {
    if (this.idStyle === 'numeric' && /^\d+$/.test(a) && /^\d+$/.test(b)) return Number(a) - Number(b)
    return a < b ? -1 : a > b ? 1 : 0
  }

  /**
   * Index of the first record after the position: updatedAt > since, or updatedAt == since and
   * (no afterId, or id > afterId). `size(stream)` when there is none.
   */
  firstAfter(stream: StreamName, sinceMs: number, afterId: string | undefined): number {
    let lo = 0
    let hi = this.size(stream)
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const at = this.updatedAtMs(stream, mid)
      const after =
        at > sinceMs ||
        (at === sinceMs && (afterId === undefined || this.compareIds(this.id(stream, mid), afterId) > 0))
      if (after) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  /** Indexes of one page: `[start, end)` and whether records follow. */
  page(
    stream: StreamName,
    sinceMs: number,
    afterId: string | undefined,
    limit: number,
  ): { start: number; end: number; hasMore: boolean } {
    const start = this.firstAfter(stream, sinceMs, afterId)
    const end = Math.min(this.size(stream), start + limit)
    return { start, end, hasMore: end < this.size(stream) }
  }

  recordAt<S extends StreamName>(stream: S, i: number): RecordOf[S]
  recordAt(stream: StreamName, i: number): Player | Transaction | GameSession {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.size(stream)) {
      throw new RangeError(`${stream} record ${i} does not exist (size ${this.size(stream)})`)
    }
    const of = this.#updates[stream].get(i)
    if (of !== undefined) return this.#updated(stream, of, i)
    switch (stream) {
      case 'players':
        return this.#player(i)
      case 'transactions':
        return this.#transaction(i)
      case 'games':
        return this.#game(i)
    }
  }

  /** Version `at` of record `of`: its fields, updatedAt of slot `at`, one field changed. */
  #updated(stream: StreamName, of: number, at: number): Player | Transaction | GameSession {
    const updatedAt = this.#iso(this.updatedAtMs(stream, at))
    switch (stream) {
      case 'players': {
        const p = this.#player(of)
        return { ...p, status: p.status === 'blocked' ? 'active' : 'blocked', updatedAt }
      }
      case 'transactions': {
        const t = this.#transaction(of)
        return { ...t, status: t.status === 'cancelled' ? 'completed' : 'cancelled', updatedAt }
      }
      case 'games': {
        const g = this.#game(of)
        return { ...g, rounds: g.rounds + 1, updatedAt }
      }
    }
  }

  #rand(stream: StreamName, i: number, field: number): number {
    return mix(
      this.#salt ^ Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(field + 1, 0x85ebca6b) ^ STREAM_SALT[stream],
    )
  }

  #pick<T>(list: readonly T[], stream: StreamName, i: number, field: number): T {
    return list[this.#rand(stream, i, field) % list.length] as T
  }

  #iso(ms: number): string {
    return new Date(ms).toISOString()
  }

  /** The index of the player a transaction or game session belongs to (an existing one). */
  #playerIndexFor(stream: StreamName, i: number): number {
    const players = Math.max(1, this.#base.players)
    return this.#rand(stream, i, 90) % players
  }

  #currencyOfPlayer(p: number): string {
    return this.#pick(CURRENCIES, 'players', p, 3)
  }

  #player(i: number): Player {
    const updated = this.updatedAtMs('players', i)
    const r = this.#rand('players', i, 1)
    const tag = this.#salt.toString(36)
    return {
      id: this.id('players', i),
      ...(r % 7 !== 0 && { email: `player${i}.${tag}@casino.example` }),
      ...(r % 11 !== 0 && { country: this.#pick(COUNTRIES, 'players', i, 2) }),
      currency: this.#currencyOfPlayer(i),
      status: this.#pick(STATUSES, 'players', i, 4),
      registeredAt: this.#iso(updated - (this.#rand('players', i, 5) % (30 * 86_400)) * 1000),
      updatedAt: this.#iso(updated),
    }
  }

  #transaction(i: number): Transaction {
    const updated = this.updatedAtMs('transactions', i)
    const p = this.#playerIndexFor('transactions', i)
    const type = this.#pick(TX_TYPES, 'transactions', i, 1)
    const games = this.#base.games
    const withSession = (type === 'bet' || type === 'win' || type === 'refund') && games > 0
    return {
      id: this.id('transactions', i),
      playerId: this.id('players', p),
      type,
      amountMinor: 100 + (this.#rand('transactions', i, 2) % 500_000),
      currency: this.#currencyOfPlayer(p),
      status: this.#pick(TX_STATUSES, 'transactions', i, 3),
      createdAt: this.#iso(updated - (this.#rand('transactions', i, 4) % 3600) * 1000),
      updatedAt: this.#iso(updated),
      ...(withSession && { gameSessionId: this.id('games', this.#rand('transactions', i, 5) % games) }),
    }
  }

  #game(i: number): GameSession {
    const updated = this.updatedAtMs('games', i)
    const p = this.#playerIndexFor('games', i)
    const game = this.#pick(GAMES, 'games', i, 1)
    const rounds = 1 + (this.#rand('games', i, 2) % 400)
    const bet = rounds * (10 + (this.#rand('games', i, 3) % 500))
    const ongoing = this.#rand('games', i, 4) % 4 === 0
    return {
      id: this.id('games', i),
      playerId: this.id('players', p),
      gameId: game.id,
      ...(game.name !== undefined && { gameName: game.name }),
      ...(game.studio !== undefined && { studio: game.studio }),
      currency: this.#currencyOfPlayer(p),
      totalBetMinor: bet,
      totalWinMinor: Math.floor((bet * (this.#rand('games', i, 5) % 190)) / 100),
      rounds,
      startedAt: this.#iso(updated - rounds * 10_000),
      ...(!ongoing && { endedAt: this.#iso(updated) }),
      updatedAt: this.#iso(updated),
    }
  }
}

const STREAM_SALT: Record<StreamName, number> = {
  players: 0x1b873593,
  transactions: 0x68e31da4,
  games: 0x3c6ef372,
}

/** A 32-bit finaliser (good avalanche; deterministic across runs and machines). */
function mix(x: number): number {
  let h = x | 0
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}
