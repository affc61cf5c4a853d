import { ConditionType } from './conditions.ts'
import type { SwitchboardObject } from './definition.ts'

/** A many-to-many index: which objects (keys) use which references, both ways. */
class UsageIndex {
  readonly #users = new Map<string, Set<string>>()
  readonly #usedBy = new Map<string, Set<string>>()

  /** Records that `key` uses exactly `refs` now. */
  set(key: string, refs: Set<string>): void {
    for (const ref of this.#usedBy.get(key) ?? []) if (!refs.has(ref)) this.#drop(ref, key)
    if (refs.size === 0) {
      // most objects use no other object: no empty Set kept for each
      this.#usedBy.delete(key)
      return
    }
    for (const ref of refs) {
      let set = this.#users.get(ref)
      if (!set) {
        set = new Set()
        this.#users.set(ref, set)
      }
      set.add(key)
    }
    this.#usedBy.set(key, refs)
  }

  users(ref: string): Iterable<string> {
    return this.#users.get(ref) ?? []
  }

  /** Whether any object uses `ref`. */
  used(ref: string): boolean {
    return this.#users.has(ref)
  }

  delete(key: string): void {
    for (const ref of this.#usedBy.get(key) ?? []) this.#drop(ref, key)
    this.#usedBy.delete(key)
  }

  #drop(ref: string, key: string): void {
    const users = this.#users.get(ref)
    if (!users) return
    users.delete(key)
    if (users.size === 0) this.#users.delete(ref)
  }
}

/**
 * Which objects of a kind use which Secrets and which other Switchboard objects (same
 * namespace), so that a change to one of those re-enqueues exactly the objects that use it.
 */
export class ReferenceIndex {
  readonly #secrets = new UsageIndex()
  readonly #refs = new UsageIndex()
  /** "Kind/ns/name" -> the readiness last seen of a referenced object. */
  readonly #refState = new Map<string, string>()
  readonly #secretNames: (spec: unknown) => string[]
  readonly #references: (spec: unknown) => Array<{ kind: string; name: string }>

  constructor(
    secretNames: (spec: unknown) => string[],
    references: ((spec: unknown) => Array<{ kind: string; name: string }>) | undefined,
  ) {
    this.#secretNames = secretNames
    this.#references = references ?? (() => [])
  }

  /** Reads what an object uses from its (raw) spec. */
  index(key: string, obj: SwitchboardObject): void {
    const ns = obj.metadata.namespace
    this.#secrets.set(key, new Set(this.#secretNames(obj.spec).map((s) => `${ns}/${s}`)))
    this.#refs.set(key, new Set(this.#references(obj.spec).map((r) => `${r.kind}/${ns}/${r.name}`)))
  }

  forget(key: string): void {
    this.#secrets.delete(key)
    this.#refs.delete(key)
  }

  /** Keys of the objects that use a Secret. */
  usersOfSecret(namespace: string, name: string): Iterable<string> {
    return this.#secrets.users(`${namespace}/${name}`)
  }

  /**
   * Keys of the objects that use another Switchboard object, if its readiness moved since it was
   * last seen (nothing otherwise). The readiness is kept only of objects that something uses:
   * every controller hears of every object of every kind, and most are used by none (an object
   * that gains a user is reconciled then, and its users hear of the next change).
   */
  usersOfChanged(kind: string, obj: SwitchboardObject, deleted: boolean): Iterable<string> {
    const ref = `${kind}/${obj.metadata.namespace}/${obj.metadata.name}`
    if (!this.#refs.used(ref)) {
      this.#refState.delete(ref)
      return []
    }
    const ready = obj.status?.conditions?.find((c) => c.type === ConditionType.Ready)
    const state = deleted
      ? 'deleted'
      : `${obj.metadata.uid}|${ready?.status}|${ready?.reason}|${obj.status?.observedGeneration}`
    if (this.#refState.get(ref) === state) return []
    if (deleted) this.#refState.delete(ref)
    else this.#refState.set(ref, state)
    return this.#refs.users(ref)
  }
}
