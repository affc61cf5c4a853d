/**
 * Segment HTTP Tracking API, as the official SDK sees it.
 *
 * - `POST /v1/batch` `{ batch: [...], writeKey?, sentAt? }`, and the single-event endpoints
 *   `POST /v1/identify|track|page|screen|group|alias` (the event is the body).
 * - Auth: `Authorization: Basic base64(writeKey + ':')` or `writeKey` in the body. No key, or a
 *   key not in the configured list (when there is one) → 401.
 * - Invalid JSON, a batch over 500 KB or 2500 events, a single call over 32 KB → 400.
 * - Inside an accepted batch, an event over 32 KB, of an unknown type or without `userId` /
 *   `anonymousId` is dropped silently (counted in `dropped`), as Segment does.
 * - Otherwise 200 `{"success":true}`. Events are recorded per write key, deduplicated by
 *   `messageId` (repeats counted in `duplicates`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  BoundedList,
  type Instrumentation,
  instrument,
  MessageTally,
  type RecordedRequest,
} from './recording.ts'

export const SEGMENT_PROVIDER = 'segment'
export const MAX_BATCH_BYTES = 500 * 1024
export const MAX_BATCH_EVENTS = 2500
export const MAX_EVENT_BYTES = 32 * 1024
const EVENT_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const
type EventType = (typeof EVENT_TYPES)[number]

export interface SegmentSandboxOptions {
  /** Accepted write keys. Absent or empty: any non-empty write key is accepted. */
  writeKeys?: string[]
  /** Event bodies kept per write key (ids and counts are always kept). Default 10000. */
  maxStoredEvents?: number
}

/** An event as it arrived (`type`, `messageId`, `userId`, `traits`/`properties`, `context` ...). */
export type SegmentEvent = Record<string, unknown> & { type: string; messageId?: string }

interface KeyRecord {
  tally: MessageTally
  dropped: number
  batches: number
  events: BoundedList<SegmentEvent>
}

/** What arrived at the Segment plugin, per write key. */
export class SegmentSandbox {
  readonly #writeKeys: Set<string>
  readonly #maxStoredEvents: number
  readonly #byKey = new Map<string, KeyRecord>()
  readonly #requests: Instrumentation['requests']

  constructor(opts: SegmentSandboxOptions, requests: Instrumentation['requests']) {
    this.#writeKeys = new Set(opts.writeKeys ?? [])
    this.#maxStoredEvents = opts.maxStoredEvents ?? 10_000
    this.#requests = requests
  }

  /** Accepts one more write key (from then on only listed keys are accepted). */
  addWriteKey(writeKey: string): void {
    if (!writeKey) throw new TypeError('writeKey must be non-empty')
    this.#writeKeys.add(writeKey)
  }

  /** Whether a request with this write key is let in. */
  accepts(writeKey: string): boolean {
    return writeKey.length > 0 && (this.#writeKeys.size === 0 || this.#writeKeys.has(writeKey))
  }

  /** Events accepted for the key, repeats included. */
  received(writeKey: string): number {
    return this.#byKey.get(writeKey)?.tally.received ?? 0
  }

  /** Number of distinct message ids accepted for the key. */
  uniqueMessageIds(writeKey: string): number {
    return this.#byKey.get(writeKey)?.tally.ids.size ?? 0
  }

  /** The distinct message ids accepted for the key. */
  messageIds(writeKey: string): ReadonlySet<string> {
    return this.#byKey.get(writeKey)?.tally.ids ?? new Set()
  }

  /** Events whose message id had already been accepted for the key. */
  duplicates(writeKey: string): number {
    return this.#byKey.get(writeKey)?.tally.duplicates ?? 0
  }

  /** Events dropped silently (over 32 KB, unknown type, no user). */
  dropped(writeKey: string): number {
    return this.#byKey.get(writeKey)?.dropped ?? 0
  }

  /** Accepted requests (batches or single calls) for the key. */
  batches(writeKey: string): number {
    return this.#byKey.get(writeKey)?.batches ?? 0
  }

  /** Bodies of the first `maxStoredEvents` distinct events, in arrival order. */
  events(writeKey: string): readonly SegmentEvent[] {
    return this.#byKey.get(writeKey)?.events.items ?? []
  }

  /** Requests that reached the Segment plugin (any status, faults included), oldest first. */
  get requests(): RecordedRequest[] {
    return this.#requests.list(SEGMENT_PROVIDER)
  }

  /** Summary for the control API. */
  snapshot(writeKey: string) {
    const rec = this.#byKey.get(writeKey)
    return {
      received: rec?.tally.received ?? 0,
      uniqueMessageIds: rec?.tally.ids.size ?? 0,
      duplicates: rec?.tally.duplicates ?? 0,
      dropped: rec?.dropped ?? 0,
      batches: rec?.batches ?? 0,
      storedEvents: rec?.events.items.length ?? 0,
      truncated: rec?.events.truncated ?? false,
      events: rec?.events.items ?? [],
    }
  }

  /** Forgets everything that arrived; keeps the configured write keys. */
  reset(): void {
    this.#byKey.clear()
  }

  /**
   * @internal Records one accepted request's events. `checkSize`: whether an event may be over
   * 32 KB (false when the whole request is smaller, which saves measuring each one).
   */
  record(writeKey: string, events: readonly unknown[], checkSize = true): void {
    let rec = this.#byKey.get(writeKey)
    if (!rec) {
      rec = {
        tally: new MessageTally(),
        dropped: 0,
        batches: 0,
        events: new BoundedList<SegmentEvent>(this.#maxStoredEvents),
      }
      this.#byKey.set(writeKey, rec)
    }
    rec.batches++
    for (const event of events) {
      if (!isValidEvent(event, checkSize)) {
        rec.dropped++
        continue
      }
      const id = typeof event.messageId === 'string' ? event.messageId : undefined
      if (rec.tally.add(id)) rec.events.push(event)
    }
  }
}

function isValidEvent(event: unknown, checkSize: boolean): event is SegmentEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false
  const e = event as Record<string, unknown>
  if (typeof e.type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(e.type)) return false
  if (!nonEmpty(e.userId) && !nonEmpty(e.anonymousId)) return false
  if (e.type === 'track' && !nonEmpty(e.event)) return false
  return !checkSize || Buffer.byteLength(JSON.stringify(e)) <= MAX_EVENT_BYTES
}

function nonEmpty(v: unknown): boolean {
  return (typeof v === 'string' && v.length > 0) || typeof v === 'number'
}

/** The write key of a `Basic base64(writeKey:)` header; undefined when there is none. */
export function basicAuthWriteKey(header: string | undefined): string | undefined {
  if (!header) return undefined
  const m = /^Basic\s+(\S+)$/i.exec(header.trim())
  if (!m?.[1]) return ''
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? decoded : decoded.slice(0, colon)
}

const fail = (reply: FastifyReply, status: number, message: string) =>
  reply
    .code(status)
    .send({ success: false, code: status === 401 ? 'unauthorized' : 'invalid_request', message })

/** The Segment provider plugin (encapsulated: its own raw-body parser and hooks). */
export function segmentPlugin(state: SegmentSandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    instrument(app, SEGMENT_PROVIDER, inst)
    // sizes are checked on the bytes that arrived, and invalid JSON is a Segment 400, not Fastify's
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 8 * 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    )

    const handle = (kind: 'batch' | EventType) => async (req: FastifyRequest, reply: FastifyReply) => {
      const headerKey = basicAuthWriteKey(req.headers.authorization)
      if (headerKey !== undefined && !state.accepts(headerKey)) return fail(reply, 401, 'invalid write key')
      const raw = req.body
      if (!Buffer.isBuffer(raw) || raw.length === 0) return fail(reply, 400, 'empty body')
      const limit = kind === 'batch' ? MAX_BATCH_BYTES : MAX_EVENT_BYTES
      if (raw.length > limit) return fail(reply, 400, `request over ${limit / 1024} KB`)
      let body: unknown
      try {
        body = JSON.parse(raw.toString('utf8'))
      } catch {
        return fail(reply, 400, 'invalid JSON')
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return fail(reply, 400, 'body must be a JSON object')
      }
      const obj = body as Record<string, unknown>
      const writeKey = headerKey ?? (typeof obj.writeKey === 'string' ? obj.writeKey : '')
      if (!state.accepts(writeKey)) return fail(reply, 401, 'missing or invalid write key')

      let events: unknown[]
      if (kind === 'batch') {
        if (!Array.isArray(obj.batch)) return fail(reply, 400, 'batch must be an array')
        if (obj.batch.length > MAX_BATCH_EVENTS)
          return fail(reply, 400, `batch over ${MAX_BATCH_EVENTS} events`)
        events = obj.batch
      } else {
        const { writeKey: _omit, ...event } = obj
        events = [{ ...event, type: kind }]
      }
      state.record(writeKey, events, raw.length > MAX_EVENT_BYTES)
      return reply.code(200).send({ success: true })
    }

    app.post('/v1/batch', handle('batch'))
    for (const type of EVENT_TYPES) app.post(`/v1/${type}`, handle(type))
  }
}
