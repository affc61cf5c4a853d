/**
 * Reading the next item of a source while the current one is being handled: a sync asks the
 * platform for page N+1 while the destinations are acknowledging page N, so the read and the
 * delivery overlap instead of taking turns.
 *
 * At most one item is read ahead: the consumer holds the item it is handling, this holds the
 * next one (or its read in flight), nothing more. Nothing about what the consumer commits
 * changes: it still sees the items one by one, in order, and decides after each one what is
 * done. An item read ahead and not yet handed over when the consumer stops is dropped unseen (so
 * its cursor is never committed) and the source is closed; a failed read ahead surfaces when the
 * consumer asks for that item, not before.
 */
export interface ReadAheadOptions {
  /**
   * Called when the consumer stops early (a `break`, a throw, a failed delivery) while a read is in
   * flight, before waiting for that read to settle: it should abort the read (its signal), so that
   * stopping does not wait for a page nobody will use.
   */
  cancel?: () => void
}

export async function* readAhead<T>(
  source: AsyncIterable<T>,
  opts: ReadAheadOptions = {},
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]()
  let pending: Promise<IteratorResult<T>> | undefined = it.next()
  try {
    for (;;) {
      const current = pending as Promise<IteratorResult<T>>
      pending = undefined
      // a rejection here is the source's own failure: it has finished, nothing to close
      const result = await current
      if (result.done) return
      pending = it.next()
      // its failure is reported when the consumer asks for it (or dropped if it never does)
      pending.catch(() => {})
      yield result.value
    }
  } finally {
    if (pending) {
      // the consumer stopped with a read in flight: abort it, and close the source once it settled
      // (an async generator would run its `return` only after that read anyway)
      opts.cancel?.()
      const last = await pending.catch(() => undefined)
      if (last && !last.done) {
        try {
          await it.return?.()
        } catch {
          // the consumer's own outcome (its error, or none) is what the caller sees
        }
      }
    }
  }
}
