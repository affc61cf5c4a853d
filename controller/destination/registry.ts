import {
  type Deliverer,
  type DeliverOptions,
  type DeliveryRecord,
  type DeliveryResult,
  Reason,
  rfc3339,
  toSwitchboardError,
  WaitingError,
} from '../../connectors/index.ts'

/** What a Destination did since its status was last written. */
export interface DeliveryDelta {
  recordsDelivered: number
  recordsFailed: number
  batchesDelivered: number
  lastDeliveryTime?: string
  lastError?: { reason: string; message: string; time: string }
  /** The outcome of the most recent delivery: cleared by a success. */
  failing: boolean
}

interface Entry {
  deliverer: Deliverer
  delta: DeliveryDelta
  inFlight: number
}

/**
 * The Destinations this controller has configured, by `namespace/name`. Integrations hand a batch
 * to `get(namespace, name).deliver(records)` and learn when it was acknowledged; the registry
 * counts what happened and asks the Destination's reconciler to write it to status.
 */
export class DeliveryRegistry {
  readonly #entries = new Map<string, Entry>()
  readonly #onActivity: (namespace: string, name: string) => void
  readonly #onInstalled: (namespace: string, waiter: string) => void
  /** `namespace/name` of a Destination → the integrations (names, same namespace) waiting for it. */
  readonly #waiters = new Map<string, Set<string>>()

  /**
   * `onActivity`: a Destination delivered (its reconciler writes the counters). `onInstalled`:
   * a Destination that an integration waited for (see `notifyWhenReady`) is ready now, so the
   * integration can be reconciled at once rather than after its wait (a Destination checked
   * before it is offered, as Postgres is, may arrive after the integrations that use it).
   */
  constructor(opts: {
    onActivity: (namespace: string, name: string) => void
    onInstalled?: (namespace: string, waiter: string) => void
  }) {
    this.#onActivity = opts.onActivity
    this.#onInstalled = opts.onInstalled ?? (() => {})
  }

  /** Calls `onInstalled(namespace, waiter)` once the Destination `namespace/name` is set. */
  notifyWhenReady(namespace: string, name: string, waiter: string): void {
    const key = `${namespace}/${name}`
    const set = this.#waiters.get(key) ?? new Set<string>()
    set.add(waiter)
    this.#waiters.set(key, set)
  }

  /** The deliverer of a ready Destination; throws a waiting error while it is not ready. */
  get(namespace: string, name: string): Deliverer {
    const key = `${namespace}/${name}`
    const entry = this.#entries.get(key)
    if (!entry) {
      throw new WaitingError(
        Reason.DestinationNotFound,
        `Destination "${name}" is not ready in namespace "${namespace}"`,
        10_000,
      )
    }
    const { cursors } = entry.deliverer
    return {
      type: entry.deliverer.type,
      deliver: (records, opts) => this.#deliver(key, namespace, name, entry, records, opts),
      close: async () => {},
      // the cursors of the current deliverer, even if the caller held on to an older handle
      ...(cursors && {
        cursors: {
          read: (integration, stream, signal) =>
            (this.#entries.get(key)?.deliverer.cursors ?? cursors).read(integration, stream, signal),
        },
      }),
    }
  }

  has(namespace: string, name: string): boolean {
    return this.#entries.has(`${namespace}/${name}`)
  }

  /** Installs (or replaces) the deliverer of a Destination; the old one is closed after its batches finish. */
  set(namespace: string, name: string, deliverer: Deliverer): void {
    const key = `${namespace}/${name}`
    const old = this.#entries.get(key)
    this.#entries.set(key, {
      deliverer,
      // A new configuration (spec or Secret changed) starts with a clean verdict; counts carry over.
      delta: old ? { ...old.delta, failing: false } : emptyDelta(),
      inFlight: 0,
    })
    if (old) void old.deliverer.close().catch(() => {})
    const waiters = this.#waiters.get(key)
    this.#waiters.delete(key)
    for (const w of waiters ?? []) this.#onInstalled(namespace, w)
  }

  /** What happened since the last `commitDelta` (the reconciler adds it to status). */
  peekDelta(namespace: string, name: string): DeliveryDelta | undefined {
    const entry = this.#entries.get(`${namespace}/${name}`)
    return entry ? { ...entry.delta } : undefined
  }

  /** Subtracts a delta that is now in status; what arrived meanwhile stays for the next write. */
  commitDelta(namespace: string, name: string, written: DeliveryDelta): void {
    const entry = this.#entries.get(`${namespace}/${name}`)
    if (!entry) return
    const d = entry.delta
    d.recordsDelivered -= written.recordsDelivered
    d.recordsFailed -= written.recordsFailed
    d.batchesDelivered -= written.batchesDelivered
    if (d.lastDeliveryTime === written.lastDeliveryTime) delete d.lastDeliveryTime
    if (d.lastError === written.lastError) delete d.lastError
  }

  async remove(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`
    const entry = this.#entries.get(key)
    this.#entries.delete(key)
    await entry?.deliverer.close()
  }

  async closeAll(): Promise<void> {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    await Promise.allSettled(entries.map((e) => e.deliverer.close()))
  }

  async #deliver(
    key: string,
    namespace: string,
    name: string,
    entry: Entry,
    records: readonly DeliveryRecord[],
    opts?: DeliverOptions,
  ): Promise<DeliveryResult> {
    // Use the current deliverer even if the caller held on to an older handle.
    const current = this.#entries.get(key) ?? entry
    current.inFlight += 1
    try {
      const result = await current.deliverer.deliver(records, opts)
      const d = current.delta
      d.recordsDelivered += result.delivered
      d.batchesDelivered += 1
      d.lastDeliveryTime = rfc3339(new Date())
      d.failing = false
      return result
    } catch (err) {
      const e = toSwitchboardError(err)
      const d = current.delta
      d.recordsFailed += records.length
      d.failing = true
      d.lastError = {
        reason: e.reason,
        message: e.message,
        time: rfc3339(new Date()),
      }
      throw e
    } finally {
      current.inFlight -= 1
      this.#onActivity(namespace, name)
    }
  }
}

function emptyDelta(): DeliveryDelta {
  return { recordsDelivered: 0, recordsFailed: 0, batchesDelivered: 0, failing: false }
}
