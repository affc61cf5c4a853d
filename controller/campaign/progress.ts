/**
 * The per-recipient progress of a campaign, kept in Secrets the campaign owns
 * (`<campaign>-progress-<n>`, n = 0, 1, 2..., created when first needed, deleted with the campaign
 * by the garbage collector). Each line of a record's `entries` key is one recipient:
 *
 *   <id> q <intent ms>                   a send is about to happen, or happened and is unconfirmed
 *   <id> s <sid> <delivery> [<code>]     Twilio accepted it: queued, sent, delivered, undelivered,
 *                                        failed or read (never moving backwards)
 *   <id> x <reason> [<code>]             skipped, never to be sent
 *
 * A recipient's entry stays in the record it was first written to. New entries go only to the
 * last record, until it holds `CHUNK_ENTRIES` of them; then the next record is created. A commit
 * writes only the records holding entries that changed: a batch's intents and outcomes are in
 * the last record or two, the callbacks of recent messages in the few before, so the bytes written
 * per commit do not grow with the campaign (at most `CHUNK_ENTRIES` lines of at most ~75 bytes
 * per record written, about 75 KB, well under the 1 MiB a Secret may hold).
 *
 * Records are read straight from the API server (a consistent list, never a cache: a stale read
 * could send twice) and written with their resourceVersion, or created (which fails if another
 * writer created it first). Every commit that adds entries (intents) writes the last record of
 * its writer's view or creates the one after it, so two controllers that both believe they lead
 * cannot both commit intents: whichever writes second gets a conflict and stops.
 *
 * A record's `reportedTo` key names the Destinations (sorted, comma-separated) that had
 * acknowledged the outcomes of all its entries before it was written; a new controller process
 * does not deliver those again.
 */
import type { CoreV1Api, V1OwnerReference, V1Secret } from '@kubernetes/client-node'
import { Reason, TransientError } from '../../connectors/index.ts'
import {
  createWritableSecret,
  describeApiError,
  SecretConflictError,
  writeSecretKeys,
} from '../runtime/index.ts'

/** New entries per record at most (then the next record is started). */
export const CHUNK_ENTRIES = 1000
const KEY = 'entries'
const REPORTED_KEY = 'reportedTo'
export const PROGRESS_TYPE = 'switchboard.dev/campaign-progress'
export const CAMPAIGN_LABEL = 'switchboard.dev/message-campaign'

export type Delivery = 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'read'

export type Entry =
  | { state: 'q'; intentMs: number }
  | {
      state: 's'
      sid: string
      delivery: Delivery
      code?: number | undefined
      /** When Twilio accepted the message (ms, kept to the second): the status reads count from it. */
      sentMs?: number | undefined
    }
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

/** A sent entry moved on to a later delivery (and its error code, if any); its send time stays. */
export function movedOn(
  e: Extract<Entry, { state: 's' }>,
  delivery: Delivery,
  code: number | undefined,
): Entry {
  return { state: 's', sid: e.sid, delivery, sentMs: e.sentMs, ...(code === undefined ? {} : { code }) }
}

/** The later of two deliveries: `delivered` then a late `sent` stays `delivered`. */
export function advance(current: Delivery, next: Delivery): boolean {
  return RANK[next] > RANK[current]
}

/**
 * One entry as a line of its record: `<id> q <intentMs>`, `<id> x <reason> [code]`, or
 * `<id> s <sid> <delivery> [code] [@<seconds, base 36>]`. The `@` field came later: lines without
 * it (records written before) load with no send time.
 */
export function encodeEntry(id: string, e: Entry): string {
  switch (e.state) {
    case 'q':
      return `${id} q ${e.intentMs}`
    case 's': {
      const code = e.code === undefined ? '' : ` ${e.code}`
      const sent = e.sentMs === undefined ? '' : ` @${Math.floor(e.sentMs / 1000).toString(36)}`
      return `${id} s ${e.sid} ${e.delivery}${code}${sent}`
    }
    case 'x':
      return `${id} x ${e.reason}${e.code === undefined ? '' : ` ${e.code}`}`
  }
}

export function decodeEntry(line: string): [string, Entry] | undefined {
  const [id, state, a, b, c, d] = line.split(' ')
  if (!id || !state || a === undefined) return undefined
  if (state === 'q') return [id, { state, intentMs: Number(a) }]
  if (state === 's' && b) {
    const sent = c?.startsWith('@') ? c : d
    const code = c && !c.startsWith('@') ? Number(c) : undefined
    const sentMs = sent?.startsWith('@') ? Number.parseInt(sent.slice(1), 36) * 1000 : Number.NaN
    return [
      id,
      {
        state,
        sid: a,
        delivery: b as Delivery,
        ...(code === undefined ? {} : { code }),
        ...(Number.isFinite(sentMs) ? { sentMs } : {}),
      },
    ]
  }
  if (state === 'x') return [id, { state, reason: a, ...(b ? { code: Number(b) } : {}) }]
  return undefined
}

interface Chunk {
  /** The entries this record holds, in the order they were first written. */
  ids: Set<string>
  resourceVersion: string | undefined
  dirty: boolean
  /** `reportedTo` as loaded, with the entries it covered then (taken once by the reporter). */
  loaded?: { reportedTo: string; entries: Array<[string, Entry]> } | undefined
}

export interface ProgressOwner {
  namespace: string
  name: string
  uid: string
  apiVersion: string
  kind: string
}

const NAME_SUFFIX = /-progress-(\d+)$/

/** All entries of one campaign, loaded at once; `commit` writes the records that changed. */
export class Progress {
  readonly entries = new Map<string, Entry>()
  readonly bySid = new Map<string, string>()
  readonly #chunks = new Map<number, Chunk>()
  readonly #chunkOf = new Map<string, number>()
  #last = -1
  readonly #core: CoreV1Api
  readonly #owner: ProgressOwner
  readonly #perChunk: number

  private constructor(core: CoreV1Api, owner: ProgressOwner, perChunk: number) {
    this.#core = core
    this.#owner = owner
    this.#perChunk = perChunk
  }

  static chunkName(campaign: string, n: number): string {
    return `${campaign}-progress-${n}`
  }

  static async load(
    core: CoreV1Api,
    owner: ProgressOwner,
    opts: { perChunk?: number } = {},
  ): Promise<Progress> {
    const p = new Progress(core, owner, opts.perChunk ?? CHUNK_ENTRIES)
    let items: V1Secret[]
    try {
      // no resourceVersion: a consistent read from etcd, never the watch cache
      const list = await core.listNamespacedSecret({
        namespace: owner.namespace,
        labelSelector: `${CAMPAIGN_LABEL}=${owner.name}`,
      })
      items = list.items
    } catch (err) {
      throw new TransientError(
        Reason.Internal,
        `reading the progress records failed: ${describeApiError(err)}`,
      )
    }
    const indexOf = (s: V1Secret) => Number(NAME_SUFFIX.exec(s.metadata?.name ?? '')?.[1] ?? -1)
    items.sort((a, b) => indexOf(a) - indexOf(b))
    for (const secret of items) {
      const name = secret.metadata?.name ?? ''
      const m = NAME_SUFFIX.exec(name)
      if (!m || name !== Progress.chunkName(owner.name, Number(m[1])) || secret.type !== PROGRESS_TYPE)
        continue
      if (!secret.metadata?.ownerReferences?.some((o) => o.uid === owner.uid)) throw foreign(name)
      const n = Number(m[1])
      const chunk: Chunk = { ids: new Set(), resourceVersion: secret.metadata?.resourceVersion, dirty: false }
      const text = secret.data?.[KEY] ? Buffer.from(secret.data[KEY], 'base64').toString('utf8') : ''
      const loaded: Array<[string, Entry]> = []
      for (const line of text.split('\n')) {
        const d = line ? decodeEntry(line) : undefined
        if (!d) continue
        const [id, e] = d
        const before = p.#chunkOf.get(id)
        if (before !== undefined) p.#chunks.get(before)?.ids.delete(id)
        p.entries.set(id, e)
        p.#chunkOf.set(id, n)
        chunk.ids.add(id)
        if (e.state === 's') p.bySid.set(e.sid, id)
        loaded.push(d)
      }
      const reported = secret.data?.[REPORTED_KEY]
      if (reported !== undefined) {
        chunk.loaded = { reportedTo: Buffer.from(reported, 'base64').toString('utf8'), entries: loaded }
      }
      p.#chunks.set(n, chunk)
      p.#last = Math.max(p.#last, n)
    }
    return p
  }

  /** Records that exist at the API server. */
  get records(): number {
    let n = 0
    for (const c of this.#chunks.values()) if (c.resourceVersion !== undefined) n++
    return n
  }

  /**
   * The entries, as loaded, of the records written after the Destinations `reportedTo` had
   * acknowledged all their outcomes. Once per load: entries changed since are not among them.
   */
  takeReported(reportedTo: string): Array<[string, Entry]> {
    const out: Array<[string, Entry]> = []
    for (const c of this.#chunks.values()) {
      if (c.loaded?.reportedTo === reportedTo) out.push(...c.loaded.entries)
      c.loaded = undefined
    }
    return out
  }

  get(id: string): Entry | undefined {
    return this.entries.get(id)
  }

  set(id: string, e: Entry): void {
    const prev = this.entries.get(id)
    if (prev?.state === 's') this.bySid.delete(prev.sid)
    this.entries.set(id, e)
    if (e.state === 's') this.bySid.set(e.sid, id)
    let n = this.#chunkOf.get(id)
    if (n === undefined) {
      // a new entry: into the last record while it has room, else into a new one
      let last = this.#chunks.get(this.#last)
      if (!last || last.ids.size >= this.#perChunk) {
        this.#last++
        last = { ids: new Set(), resourceVersion: undefined, dirty: false }
        this.#chunks.set(this.#last, last)
      }
      n = this.#last
      last.ids.add(id)
      this.#chunkOf.set(id, n)
    }
    const c = this.#chunks.get(n)
    if (c) c.dirty = true
  }

  delete(id: string): void {
    const prev = this.entries.get(id)
    if (!prev) return
    if (prev.state === 's') this.bySid.delete(prev.sid)
    this.entries.delete(id)
    const n = this.#chunkOf.get(id)
    this.#chunkOf.delete(id)
    const c = n === undefined ? undefined : this.#chunks.get(n)
    if (c) {
      c.ids.delete(id)
      c.dirty = true
    }
  }

  /**
   * Writes every changed record (only those); a conflict means another writer: nothing is sent
   * after it. `reportedTo`: the Destinations that acknowledged every entry's outcomes before.
   */
  async commit(reportedTo = ''): Promise<{ records: number; bytes: number }> {
    const dirty = [...this.#chunks.entries()].filter(([, c]) => c.dirty)
    let bytes = 0
    await Promise.all(
      dirty.map(async ([n, chunk]) => {
        const name = Progress.chunkName(this.#owner.name, n)
        const lines: string[] = []
        for (const id of chunk.ids) {
          const e = this.entries.get(id)
          if (e) lines.push(encodeEntry(id, e))
        }
        const text = lines.join('\n')
        bytes += text.length
        try {
          const written = chunk.resourceVersion
            ? await writeSecretKeys(this.#core, {
                namespace: this.#owner.namespace,
                name,
                resourceVersion: chunk.resourceVersion,
                set: { [KEY]: text, [REPORTED_KEY]: reportedTo },
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
                data: {
                  [KEY]: Buffer.from(text).toString('base64'),
                  [REPORTED_KEY]: Buffer.from(reportedTo).toString('base64'),
                },
              })
          chunk.resourceVersion = written.metadata?.resourceVersion
          chunk.dirty = false
        } catch (err) {
          if (err instanceof SecretConflictError) {
            if (chunk.resourceVersion === undefined && (await this.#foreign(name))) throw foreign(name)
            throw new TransientError(
              Reason.Internal,
              `the progress record "${name}" was written by someone else meanwhile; nothing more is sent until it is read again`,
            )
          }
          throw err
        }
      }),
    )
    return { records: dirty.length, bytes }
  }

  /** Whether a Secret of that name exists and is not one of this campaign's records. */
  async #foreign(name: string): Promise<boolean> {
    try {
      const s = await this.#core.readNamespacedSecret({ namespace: this.#owner.namespace, name })
      return !s.metadata?.ownerReferences?.some((o) => o.uid === this.#owner.uid)
    } catch {
      return false
    }
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

function foreign(name: string): TransientError {
  return new TransientError(
    Reason.Internal,
    `Secret "${name}" exists but belongs to something else: remove or rename it`,
  )
}
