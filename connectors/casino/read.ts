/**
 * The incremental read every casino connector shares. A connector supplies `fetchPage` (one
 * request: records with (updatedAt, id) after a position, ascending, at most `limit`); this
 * turns it into an async generator of pages with resumable cursors:
 *
 * - the start position is the cursor's (updatedAt, id); with `lookbackMs` it is
 *   `updatedAt - lookbackMs` instead (records of that window are read again: destinations dedupe
 *   them by message id); without a cursor, `startFrom`, else the beginning;
 * - each page's cursor is the (updatedAt, id) of its last record;
 * - it stops when the platform says there is no more; memory is one page at a time;
 * - a page that goes backwards in time, starts before the position asked for, or does not
 *   advance is a `MalformedResponse` (reading on could skip or loop over records).
 */
import { Reason, StallingError, SwitchboardError, TransientError } from '../errors.ts'
import { type CursorPosition, decodeCursor, encodeCursor } from './cursor.ts'
import type { CasinoProvider, CasinoRecord, Page, ReadOptions, StreamName } from './types.ts'

export interface PageRequest {
  stream: StreamName
  /** Records updated at or after this instant ... */
  since: Date
  /** ... and, at exactly `since`, with an id after this one (undefined: all of them). */
  afterId: string | undefined
  limit: number
  signal: AbortSignal | undefined
}

export interface FetchedPage {
  /** Normalised records in ascending (updatedAt, id) order. */
  records: CasinoRecord[]
  /** Whether the platform holds more records after the last one. */
  hasMore: boolean
}

export type PageFetcher = (req: PageRequest) => Promise<FetchedPage>

export interface ReadPagesOptions extends ReadOptions {
  provider: CasinoProvider
  stream: StreamName
  fetchPage: PageFetcher
  /** Default 100. */
  defaultPageSize?: number
  /** The platform's largest page. Default 1000. */
  maxPageSize?: number
}

export const DEFAULT_PAGE_SIZE = 100

export async function* readPages(opts: ReadPagesOptions): AsyncGenerator<Page> {
  const { provider, stream, fetchPage, signal } = opts
  const maxPageSize = opts.maxPageSize ?? 1000
  const limit = pageSizeOf(opts, maxPageSize)
  let position = startPosition(opts)
  for (;;) {
    if (signal?.aborted) throw abortReason(signal, provider, stream)
    const { records, hasMore } = await fetchPage({
      stream,
      since: position.since,
      afterId: position.afterId,
      limit,
      signal,
    })
    if (records.length === 0) {
      if (hasMore) throw malformed(provider, stream, 'returned an empty page but says there are more records')
      return
    }
    if (records.length > limit) {
      throw malformed(provider, stream, `returned ${records.length} records for a page of ${limit}`)
    }
    const last = checkOrder(provider, stream, records, position)
    const lastMs = Date.parse(last.updatedAt)
    if (lastMs === position.since.getTime() && last.id === position.afterId) {
      throw malformed(provider, stream, 'returned a page that does not advance past the cursor')
    }
    yield { records, cursor: encodeCursor(provider, stream, last) }
    if (!hasMore) return
    position = { since: new Date(lastMs), afterId: last.id }
  }
}

interface Position {
  since: Date
  afterId: string | undefined
}

function startPosition(opts: ReadPagesOptions): Position {
  const { provider, stream, lookbackMs } = opts
  if (lookbackMs !== undefined && (!Number.isFinite(lookbackMs) || lookbackMs < 0)) {
    throw new StallingError(Reason.InvalidSpec, `${provider} ${stream}: lookback must be a duration >= 0`, {
      field: 'lookback',
    })
  }
  if (opts.cursor !== undefined && opts.cursor !== '') {
    const pos: CursorPosition = decodeCursor(provider, stream, opts.cursor)
    const at = Date.parse(pos.updatedAt)
    if (lookbackMs) return { since: new Date(Math.max(0, at - lookbackMs)), afterId: undefined }
    return { since: new Date(at), afterId: pos.id }
  }
  if (opts.startFrom !== undefined) {
    if (!(opts.startFrom instanceof Date) || Number.isNaN(opts.startFrom.getTime())) {
      throw new StallingError(Reason.InvalidSpec, `${provider} ${stream}: startFrom is not a valid date`, {
        field: 'startFrom',
      })
    }
    return { since: new Date(Math.max(0, opts.startFrom.getTime())), afterId: undefined }
  }
  return { since: new Date(0), afterId: undefined }
}

function pageSizeOf(opts: ReadPagesOptions, max: number): number {
  const size = opts.pageSize ?? Math.min(opts.defaultPageSize ?? DEFAULT_PAGE_SIZE, max)
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw new StallingError(
      Reason.InvalidSpec,
      `${opts.provider} ${opts.stream}: page size must be an integer 1..${max}`,
      { field: 'pageSize' },
    )
  }
  return size
}

/**
 * Checks that the page belongs to the stream, starts at or after the position asked for, and
 * does not go back in time; returns its last position. Ids sharing one millisecond are not
 * compared: platforms with finer timestamps may order them differently, and the cursor stays
 * safe (it floors to the millisecond, so at worst records are read twice).
 */
function checkOrder(
  provider: CasinoProvider,
  stream: StreamName,
  records: readonly CasinoRecord[],
  from: Position,
): CursorPosition {
  let previous = from.since.getTime()
  let last: CursorPosition = { updatedAt: from.since.toISOString(), id: from.afterId ?? '' }
  for (const [i, r] of records.entries()) {
    if (r.stream !== stream) throw malformed(provider, stream, `returned a ${r.stream} record at index ${i}`)
    const at = Date.parse(r.record.updatedAt)
    if (Number.isNaN(at)) throw malformed(provider, stream, `record ${i} has no valid updatedAt`)
    if (at < previous) {
      throw malformed(
        provider,
        stream,
        i === 0
          ? 'returned records updated before the position asked for'
          : `returned records out of updatedAt order (at index ${i})`,
      )
    }
    previous = at
    last = { updatedAt: new Date(at).toISOString(), id: r.record.id }
  }
  return last
}

function malformed(provider: CasinoProvider, stream: StreamName, what: string): TransientError {
  return new TransientError(Reason.MalformedResponse, `${provider} ${stream}: the platform ${what}`)
}

function abortReason(signal: AbortSignal, provider: CasinoProvider, stream: StreamName): Error {
  const reason: unknown = signal.reason
  if (reason instanceof SwitchboardError) return reason
  return new TransientError(Reason.Timeout, `${provider} ${stream}: read aborted`)
}
