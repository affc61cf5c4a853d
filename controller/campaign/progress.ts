/**
 * The per-recipient progress of a campaign, kept in Secrets the campaign owns
 * (`<campaign>-progress-<n>`, n = 0..15, created when first needed, deleted with the campaign by
 * the garbage collector). A recipient's entry lives in the shard its id picks. Each line of a
 * shard's `entries` key is one recipient:
 *
 *   <id> q <intent ms>                   a send is about to happen, or happened and is unconfirmed
 *   <id> s <sid> <delivery> [<code>]     Twilio accepted it: queued, sent, delivered, undelivered,
 *                                        failed or read (never moving backwards)
 *   <id> x <reason> [<code>]             skipped, never to be sent
 *
 * Shards are read straight from the API server (never a cache: a stale read could send twice)
 * and written with their resourceVersion, so that two controllers that both believe they lead
 * cannot both commit: the second gets a conflict and stops.
 */
import type { CoreV1Api, V1OwnerReference } from '@kubernetes/client-node'
import { Reason, TransientError } from '../../connectors/index.ts'
import {
  createWritableSecret,
  describeApiError,
  isNotFound,
  SecretConflictError,
  writeSecretKeys,
} from '../runtime/index.ts'

export const SHARDS = 16
const KEY = 'entries'
export const PROGRESS_TYPE = 'switchboard.dev/campaign-progress'
export const CAMPAIGN_LABEL = 'switchboard.dev/message-campaign'

export type Delivery = 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'read'

export type Entry =
  | { state: 'q'; intentMs: number }
  | { state: 's'; sid: string; delivery: Delivery; code?: number | undefined }
  | { state: 'x'; reason: string; code?: number | undefined }

/** How far along a delivery is; a callback never moves an entry to a lower rank. */
const RANK: Record<Delivery, number> = {
  queued: 0,
  sent: 1,
  undelivered: 2,
  failed: 2,
  delivered: 2,
  read: 3,
}

export function deliveryOf(status: string): Delivery | undefined {
  switch (status) {
    case 'accepted':
    case 'scheduled':
    case 'queued':
    case 'sending':
      return 'queued'
    case 'sent':
    case 'delivered':
    case 'undelivered':
    case 'failed':
    case 'read':
      return status
    default:
      return undefined
  }
}

/** The later of two deliveries: `delivered` then a late `sent` stays `delivered`. */
export function advance(current: Delivery, next: Delivery): boolean {
  return RANK[next] > RANK[current]
}

export function shardOf(id: string): number {
  return id.charCodeAt(0) % SHARDS
}

function encode(id: string, e: Entry): string {
  switch (e.state) {
    case 'q':
      return `${id} q ${e.intentMs}`
    case 's':
      return `${id} s ${e.sid} ${e.delivery}${e.code === undefined ? '' : ` ${e.code}`}`
    case 'x':
      return `${id} x ${e.reason}${e.code === undefined ? '' : ` ${e.code}`}`
  }
}

function decode(line: string): [string, Entry] | undefined {
  const [id, state, a, b, c] = line.split(' ')
  if (!id || !state || a === undefined) return undefined
  if (state === 'q') return [id, { state, intentMs: Number(a) }]
  if (state === 's' && b) {
    return [id, { state, sid: a, delivery: b as Delivery, ...(c ? { code: Number(c) } : {}) }]
  }
  if (state === 'x') return [id, { state, reason: a, ...(b ? { code: Number(b) } : {}) }]
  return undefined
}

interface Shard {
  resourceVersion: string | undefined
  dirty: boolean
}

export interface ProgressOwner {
  namespace: string
  name: string
  uid: string
  apiVersion: string
  kind: string
}

/** All entries of one campaign, loaded at once; `commit` writes the shards that changed. */
export class Progress {
  readonly entries = new Map<string, Entry>()
  readonly bySid = new Map<string, string>()
  readonly #shards: Shard[] = []
  readonly #core: CoreV1Api
  readonly #owner: ProgressOwner

  private constructor(core: CoreV1Api, owner: ProgressOwner) {
    this.#core = core
    this.#owner = owner
  }

  static shardName(campaign: string, n: number): string {
    return `${campaign}-progress-${n}`
  }

  static async load(core: CoreV1Api, owner: ProgressOwner): Promise<Progress> {
    const p = new Progress(core, owner)
    const reads = await Promise.all(
      Array.from({ length: SHARDS }, async (_, n) => {
        try {
          return await core.readNamespacedSecret({
            namespace: owner.namespace,
            name: Progress.shardName(owner.name, n),
          })
        } catch (err) {
          if (isNotFound(err)) return undefined
          throw new TransientError(
            Reason.Internal,
            `reading the progress records failed: ${describeApiError(err)}`,
          )
        }
      }),
    )
    for (const [n, secret] of reads.entries()) {
      if (secret && secret.metadata?.ownerReferences?.some((o) => o.uid === owner.uid) === false) {
        throw new TransientError(
          Reason.Internal,
          `Secret "${Progress.shardName(owner.name, n)}" exists but belongs to something else: remove or rename it`,
        )
      }
      p.#shards[n] = { resourceVersion: secret?.metadata?.resourceVersion, dirty: false }
      const text = secret?.data?.[KEY] ? Buffer.from(secret.data[KEY], 'base64').toString('utf8') : ''
      for (const line of text.split('\n')) {
        const d = line ? decode(line) : undefined
        if (!d) continue
        p.entries.set(d[0], d[1])
        if (d[1].state === 's') p.bySid.set(d[1].sid, d[0])
      }
    }
    return p
  }

  /** Shards that exist at the API server. */
  get records(): number {
    return this.#shards.filter((s) => s.resourceVersion !== undefined).length
  }

  get(id: string): Entry | undefined {
    return this.entries.get(id)
  }

  set(id: string, e: Entry): void {
    const prev = this.entries.get(id)
    if (prev?.state === 's') this.bySid.delete(prev.sid)
    this.entries.set(id, e)
    if (e.state === 's') this.bySid.set(e.sid, id)
    this.#mark(id)
  }

  delete(id: string): void {
    const prev = this.entries.get(id)
    if (!prev) return
    if (prev.state === 's') this.bySid.delete(prev.sid)
    this.entries.delete(id)
    this.#mark(id)
  }

  #mark(id: string): void {
    const s = this.#shards[shardOf(id)]
    if (s) s.dirty = true
  }

  /** Writes every changed shard; a conflict means another writer: nothing is sent after it. */
  async commit(): Promise<void> {
    const lines: string[][] = Array.from({ length: SHARDS }, () => [])
    for (const [id, e] of this.entries) lines[shardOf(id)]?.push(encode(id, e))
    await Promise.all(
      this.#shards.map(async (shard, n) => {
        if (!shard.dirty) return
        const name = Progress.shardName(this.#owner.name, n)
        const text = lines[n]?.join('\n') ?? ''
        try {
          const written = shard.resourceVersion
            ? await writeSecretKeys(this.#core, {
                namespace: this.#owner.namespace,
                name,
                resourceVersion: shard.resourceVersion,
                set: { [KEY]: text },
              })
            : await createWritableSecret(this.#core, {
                apiVersion: 'v1',
                kind: 'Secret',
                type: PROGRESS_TYPE,
                metadata: {
                  name,
                  namespace: this.#owner.namespace,
                  labels: { [CAMPAIGN_LABEL]: this.#owner.name },
                  ownerReferences: [this.#ownerRef()],
                },
                data: { [KEY]: Buffer.from(text).toString('base64') },
              })
          shard.resourceVersion = written.metadata?.resourceVersion
          shard.dirty = false
        } catch (err) {
          if (err instanceof SecretConflictError) {
            throw new TransientError(
              Reason.Internal,
              `the progress record "${name}" was written by someone else meanwhile; nothing more is sent until it is read again`,
            )
          }
          throw err
        }
      }),
    )
  }

  #ownerRef(): V1OwnerReference {
    return {
      apiVersion: this.#owner.apiVersion,
      kind: this.#owner.kind,
      name: this.#owner.name,
      uid: this.#owner.uid,
      controller: true,
      blockOwnerDeletion: false,
    }
  }
}
