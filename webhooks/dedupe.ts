import { hash } from 'node:crypto'

/**
 * Remembers delivery ids for a while, to answer a provider's retry (or a replay) with a 2xx that
 * does nothing. Bounded three ways: at most `maxEntries` ids, at most `maxBytes` of them (the
 * oldest go first either way), and each for at most `ttlMs`. The webhook server keeps one per
 * provider ({@link DedupeStores}) and stores fixed-length digests ({@link dedupeKey}), so a flood
 * of one provider's deliveries cannot push out another's, and no payload field makes a key long.
 *
 * Every id lives for the same TTL, so arrival order is expiry order: the ids sit in a ring in
 * arrival order (oldest at the head) beside a Map for lookups, and both eviction rules only ever
 * remove from the head. Every operation is O(1), also when the memory is full and every new id
 * evicts an old one.
 */
export interface DeliveryDedupeOptions {
  /** Ids kept at most. Default 50 000 (a few MB at most). */
  maxEntries?: number
  /** How long an id is remembered. Default 15 minutes (longer than Twitch's 10-minute window). */
  ttlMs?: number
  /** Bytes of ids kept at most (UTF-16 size plus a per-entry overhead). Default 8 MiB. */
  maxBytes?: number
  now?: () => number
}

export class DeliveryDedupe {
  readonly #max: number
  readonly #maxBytes: number
  #bytes = 0
  readonly #ttl: number
  readonly #now: () => number
  /** id -> expiry (epoch ms). */
  readonly #seen = new Map<string, number>()
  /** The ring: ids and their expiries in arrival order; grows up to `#max`, then wraps. */
  readonly #ids: string[] = []
  readonly #expiries: number[] = []
  #head = 0
  #count = 0

  constructor(opts: DeliveryDedupeOptions = {}) {
    this.#max = opts.maxEntries ?? 50_000
    this.#maxBytes = opts.maxBytes ?? 8 * 1024 * 1024
    this.#ttl = opts.ttlMs ?? 15 * 60_000
    this.#now = opts.now ?? Date.now
    if (!(this.#max >= 1)) throw new RangeError('maxEntries must be at least 1')
  }

  get size(): number {
    return this.#seen.size
  }

  /** Bytes the ids take by the measure `maxBytes` is in. */
  get bytes(): number {
    return this.#bytes
  }

  /** True if `id` was recorded and has not expired. Does not record it. */
  has(id: string): boolean {
    this.#expire(this.#now())
    return this.#seen.has(id)
  }

  /**
   * Records `id`; returns false if it was already there (a duplicate), true if it is new.
   * Call it only for deliveries that were verified and accepted, so that a forged or rejected
   * request can never make a later genuine one look like a duplicate.
   */
  add(id: string): boolean {
    const now = this.#now()
    this.#expire(now)
    if (this.#seen.has(id)) return false
    if (this.#count === this.#max) this.#dropHead()
    const size = entryBytes(id)
    while (this.#count > 0 && this.#bytes + size > this.#maxBytes) this.#dropHead()
    const slot = (this.#head + this.#count) % this.#max
    this.#ids[slot] = id
    this.#expiries[slot] = now + this.#ttl
    this.#count++
    this.#bytes += size
    this.#seen.set(id, now + this.#ttl)
    return true
  }

  clear(): void {
    this.#seen.clear()
    this.#ids.length = 0
    this.#expiries.length = 0
    this.#head = 0
    this.#count = 0
    this.#bytes = 0
  }

  #expire(now: number): void {
    while (this.#count > 0 && (this.#expiries[this.#head] ?? 0) <= now) this.#dropHead()
  }

  #dropHead(): void {
    const id = this.#ids[this.#head]
    if (id !== undefined) {
      this.#seen.delete(id)
      this.#bytes -= entryBytes(id)
    }
    this.#head = (this.#head + 1) % this.#max
    this.#count--
  }
}

/** What one remembered id costs: its UTF-16 size and the Map and ring slots around it. */
function entryBytes(id: string): number {
  return id.length * 2 + 64
}

/**
 * The key remembered for a delivery: a digest of the resource's path and the provider's id, so
 * every key is 43 characters whatever the payload put in the id.
 */
export function dedupeKey(path: string, id: string): string {
  // the one-shot digest: a third of the time of a Hash object on every delivery
  return hash('sha256', `${path}\0${id}`, 'base64url')
}

/** One {@link DeliveryDedupe} per provider, each with the same bounds. */
export class DedupeStores {
  readonly #opts: DeliveryDedupeOptions
  readonly #stores = new Map<string, DeliveryDedupe>()

  constructor(opts: DeliveryDedupeOptions = {}) {
    this.#opts = opts
  }

  /** The provider's store (made on first use). */
  of(provider: string): DeliveryDedupe {
    let store = this.#stores.get(provider)
    if (!store) {
      store = new DeliveryDedupe(this.#opts)
      this.#stores.set(provider, store)
    }
    return store
  }

  /** Ids remembered, over every provider. */
  get size(): number {
    let n = 0
    for (const s of this.#stores.values()) n += s.size
    return n
  }

  /** Ids remembered per provider. */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.#stores].map(([p, s]) => [p, s.size]))
  }
}
