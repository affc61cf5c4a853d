/**
 * A receiver of Switchboard's signed HTTP deliveries (`connectors/signed-http`).
 *
 * `POST /http/:receiver` with `{ batchId, records: [...] }`:
 * - unknown receiver → 404;
 * - signature header missing, malformed, stale or not matching the receiver's secret → 401
 *   (checked with `checkSignature` on the raw bytes that arrived; rejects counted by reason);
 * - malformed JSON, missing `batchId`/`records`, or an `X-Switchboard-Delivery` header that
 *   differs from `batchId` → 400;
 * - otherwise 200 `{ ok: true, batchId, records, duplicate }`. Batches are deduplicated by
 *   `batchId`, records by `messageId`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  checkSignature,
  DEFAULT_SIGNATURE_HEADER,
  DEFAULT_TOLERANCE_SECONDS,
  DELIVERY_HEADER,
  type SignatureFailure,
} from '../../connectors/signed-http/index.ts'
import {
  BoundedList,
  type Instrumentation,
  instrument,
  MessageTally,
  type RecordedRequest,
} from './recording.ts'

export const HTTP_PROVIDER = 'http'

export interface ReceiverConfig {
  signingSecret: string
  /** Header carrying the signature. Default `X-Switchboard-Signature`. */
  signatureHeader?: string
  /** Accepted clock difference in seconds. Default 300. */
  toleranceSeconds?: number
}

export interface HttpReceiverSandboxOptions {
  receivers?: Record<string, ReceiverConfig>
  /** Record bodies kept per receiver (ids and counts are always kept). Default 10000. */
  maxStoredRecords?: number
}

/** A record as it arrived (the `DeliveryRecord` shape when Switchboard sent it). */
export type ReceivedRecord = Record<string, unknown> & { messageId?: string }

interface ReceiverState {
  config: Required<ReceiverConfig>
  batchIds: Set<string>
  duplicateBatches: number
  tally: MessageTally
  records: BoundedList<ReceivedRecord>
  rejected: Record<SignatureFailure, number>
}

const RECEIVER_NAME = /^[A-Za-z0-9._-]{1,64}$/

/** What arrived at each signed HTTP receiver. */
export class HttpReceiverSandbox {
  readonly #receivers = new Map<string, ReceiverState>()
  readonly #maxStoredRecords: number
  readonly #requests: Instrumentation['requests']

  constructor(opts: HttpReceiverSandboxOptions, requests: Instrumentation['requests']) {
    this.#maxStoredRecords = opts.maxStoredRecords ?? 10_000
    this.#requests = requests
    for (const [name, config] of Object.entries(opts.receivers ?? {})) this.addReceiver(name, config)
  }

  /** Adds (or reconfigures, keeping what arrived) a receiver at `/http/<name>`. */
  addReceiver(name: string, config: ReceiverConfig): void {
    if (!RECEIVER_NAME.test(name)) throw new TypeError('receiver name must match [A-Za-z0-9._-]{1,64}')
    if (!config.signingSecret) throw new TypeError('signingSecret must be non-empty')
    const full: Required<ReceiverConfig> = {
      signingSecret: config.signingSecret,
      signatureHeader: config.signatureHeader ?? DEFAULT_SIGNATURE_HEADER,
      toleranceSeconds: config.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS,
    }
    const existing = this.#receivers.get(name)
    if (existing) existing.config = full
    else this.#receivers.set(name, this.#fresh(full))
  }

  /** Names of the configured receivers. */
  receivers(): string[] {
    return [...this.#receivers.keys()]
  }

  has(name: string): boolean {
    return this.#receivers.has(name)
  }

  /** Records accepted, repeats included. */
  received(name: string): number {
    return this.#receivers.get(name)?.tally.received ?? 0
  }

  /** Number of distinct message ids accepted. */
  uniqueMessageIds(name: string): number {
    return this.#receivers.get(name)?.tally.ids.size ?? 0
  }

  messageIds(name: string): ReadonlySet<string> {
    return this.#receivers.get(name)?.tally.ids ?? new Set()
  }

  /** Records whose message id had already arrived. */
  duplicates(name: string): number {
    return this.#receivers.get(name)?.tally.duplicates ?? 0
  }

  /** Distinct batch ids accepted. */
  batches(name: string): number {
    return this.#receivers.get(name)?.batchIds.size ?? 0
  }

  /** Accepted batches whose batch id had already arrived. */
  duplicateBatches(name: string): number {
    return this.#receivers.get(name)?.duplicateBatches ?? 0
  }

  /** Requests refused for their signature, by reason. */
  rejected(name: string): Record<SignatureFailure, number> {
    return { ...(this.#receivers.get(name)?.rejected ?? emptyRejects()) }
  }

  /** Bodies of the first `maxStoredRecords` distinct records, in arrival order. */
  records(name: string): readonly ReceivedRecord[] {
    return this.#receivers.get(name)?.records.items ?? []
  }

  /** Requests that reached the receiver plugin (any status, faults included), oldest first. */
  get requests(): RecordedRequest[] {
    return this.#requests.list(HTTP_PROVIDER)
  }

  /** Summary for the control API. */
  snapshot(name: string) {
    const r = this.#receivers.get(name)
    if (!r) return undefined
    return {
      received: r.tally.received,
      uniqueMessageIds: r.tally.ids.size,
      duplicates: r.tally.duplicates,
      batches: r.batchIds.size,
      duplicateBatches: r.duplicateBatches,
      rejected: { ...r.rejected },
      storedRecords: r.records.items.length,
      truncated: r.records.truncated,
      records: r.records.items,
    }
  }

  /** Forgets everything that arrived; keeps the receivers and their secrets. */
  reset(): void {
    for (const [name, r] of this.#receivers) this.#receivers.set(name, this.#fresh(r.config))
  }

  /** @internal */
  state(name: string): ReceiverState | undefined {
    return this.#receivers.get(name)
  }

  #fresh(config: Required<ReceiverConfig>): ReceiverState {
    return {
      config,
      batchIds: new Set(),
      duplicateBatches: 0,
      tally: new MessageTally(),
      records: new BoundedList(this.#maxStoredRecords),
      rejected: emptyRejects(),
    }
  }
}

function emptyRejects(): Record<SignatureFailure, number> {
  return { missing: 0, malformed: 0, stale: 0, mismatch: 0 }
}

/** The signed HTTP receiver plugin (encapsulated: its own raw-body parser and hooks). */
export function httpReceiverPlugin(state: HttpReceiverSandbox, inst: Instrumentation) {
  return async (app: FastifyInstance): Promise<void> => {
    instrument(app, HTTP_PROVIDER, inst)
    // the signature covers the bytes that arrived: keep them as a Buffer, parse after verifying
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 16 * 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    )

    app.post<{ Params: { receiver: string } }>(
      '/http/:receiver',
      async (req: FastifyRequest<{ Params: { receiver: string } }>, reply: FastifyReply) => {
        const receiver = state.state(req.params.receiver)
        if (!receiver) return reply.code(404).send({ error: 'unknown receiver' })
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
        const header = req.headers[receiver.config.signatureHeader.toLowerCase()]
        const check = checkSignature(
          receiver.config.signingSecret,
          typeof header === 'string' ? header : undefined,
          raw,
          {
            toleranceSeconds: receiver.config.toleranceSeconds,
          },
        )
        if (!check.ok) {
          receiver.rejected[check.reason]++
          return reply.code(401).send({ error: 'invalid signature', reason: check.reason })
        }
        let body: unknown
        try {
          body = JSON.parse(raw.toString('utf8'))
        } catch {
          return reply.code(400).send({ error: 'invalid JSON' })
        }
        const batch = body as { batchId?: unknown; records?: unknown }
        if (
          typeof body !== 'object' ||
          body === null ||
          typeof batch.batchId !== 'string' ||
          !batch.batchId
        ) {
          return reply.code(400).send({ error: 'batchId must be a non-empty string' })
        }
        if (!Array.isArray(batch.records)) return reply.code(400).send({ error: 'records must be an array' })
        const delivery = req.headers[DELIVERY_HEADER.toLowerCase()]
        if (typeof delivery === 'string' && delivery !== batch.batchId) {
          return reply.code(400).send({ error: `${DELIVERY_HEADER} does not match batchId` })
        }

        const duplicate = receiver.batchIds.has(batch.batchId)
        if (duplicate) receiver.duplicateBatches++
        else receiver.batchIds.add(batch.batchId)
        for (const record of batch.records) {
          const r = (
            typeof record === 'object' && record !== null ? record : { value: record }
          ) as ReceivedRecord
          const id = typeof r.messageId === 'string' ? r.messageId : undefined
          if (receiver.tally.add(id)) receiver.records.push(r)
        }
        return reply
          .code(200)
          .send({ ok: true, batchId: batch.batchId, records: batch.records.length, duplicate })
      },
    )
  }
}
