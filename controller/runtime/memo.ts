import type { Logger } from 'pino'

interface Entry {
  inputs: string
  value: unknown
  dispose: ((value: never) => void | Promise<void>) | undefined
}

interface ObjectMemo {
  uid: string
  entries: Map<string, Entry>
}

/**
 * Values kept per object across reconciles (provider clients, in-memory mirrors), each rebuilt
 * when the inputs it was made from change, and all dropped when their object goes.
 */
export class MemoStore {
  readonly #objects = new Map<string, ObjectMemo>()
  readonly #log: Logger | undefined

  constructor(log?: Logger) {
    this.#log = log
  }

  /** The memo of one object (`namespace/name`); a new uid (the object was recreated) starts afresh. */
  get<T>(
    objectKey: string,
    uid: string,
    key: string,
    inputs: unknown,
    create: () => T,
    dispose?: (value: T) => void | Promise<void>,
  ): T {
    let memo = this.#objects.get(objectKey)
    if (memo && memo.uid !== uid) {
      this.drop(objectKey)
      memo = undefined
    }
    if (!memo) {
      memo = { uid, entries: new Map() }
      this.#objects.set(objectKey, memo)
    }
    const fingerprint = JSON.stringify(inputs) ?? ''
    const existing = memo.entries.get(key)
    if (existing && existing.inputs === fingerprint) return existing.value as T
    if (existing) {
      memo.entries.delete(key)
      this.#dispose(objectKey, key, existing)
    }
    const value = create()
    memo.entries.set(key, {
      inputs: fingerprint,
      value,
      dispose: dispose as Entry['dispose'],
    })
    return value
  }

  /** Disposes of and drops every value of an object. */
  drop(objectKey: string): void {
    const memo = this.#objects.get(objectKey)
    if (!memo) return
    this.#objects.delete(objectKey)
    for (const [key, entry] of memo.entries) this.#dispose(objectKey, key, entry)
  }

  /** Disposes of and drops every value of every object (the controller stopped). */
  clear(): void {
    for (const objectKey of [...this.#objects.keys()]) this.drop(objectKey)
  }

  /** How many values an object holds (tests). */
  size(objectKey: string): number {
    return this.#objects.get(objectKey)?.entries.size ?? 0
  }

  #dispose(objectKey: string, key: string, entry: Entry): void {
    if (!entry.dispose) return
    const fail = (err: unknown) =>
      this.#log?.warn(
        { object: objectKey, memo: key, err: err instanceof Error ? err.message : String(err) },
        'disposing of a memoised value failed',
      )
    try {
      const done = (entry.dispose as (value: unknown) => void | Promise<void>)(entry.value)
      if (done) done.catch(fail)
    } catch (err) {
      fail(err)
    }
  }
}
