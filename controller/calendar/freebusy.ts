/**
 * Free/busy publishing: the busy blocks of several Google calendars, merged into one sorted
 * list of non-overlapping blocks (who is busy, and why, is never published), bounded.
 */
import type { FreeBusyResult, GoogleCalendarClient } from '../../connectors/index.ts'
import { rfc3339 } from '../../connectors/index.ts'
import { calendarStatusLimits, type FreeBusyStatus } from '../api/index.ts'

export interface Block {
  start: number
  end: number
}

/** Sorted, merged blocks (overlapping or touching blocks become one); invalid ones dropped. */
export function mergeBlocks(blocks: Iterable<Block>): Block[] {
  const sorted = [...blocks]
    .filter((b) => Number.isFinite(b.start) && Number.isFinite(b.end) && b.end > b.start)
    .sort((a, b) => a.start - b.start || a.end - b.end)
  const out: Block[] = []
  for (const b of sorted) {
    const last = out.at(-1)
    if (last && b.start <= last.end) last.end = Math.max(last.end, b.end)
    else out.push({ ...b })
  }
  return out
}

/** status.freeBusy from a freeBusy answer. */
export function freeBusyStatusOf(
  result: FreeBusyResult,
  range: { timeMin: Date; timeMax: Date },
  now: Date,
  max: number = calendarStatusLimits.busyBlocks,
): FreeBusyStatus {
  const blocks: Block[] = []
  const errors: NonNullable<FreeBusyStatus['errors']> = []
  for (const [calendarId, cal] of Object.entries(result.calendars)) {
    for (const b of cal.busy) blocks.push({ start: Date.parse(b.start), end: Date.parse(b.end) })
    for (const e of cal.errors ?? []) {
      if (errors.length < 50)
        errors.push({ calendarId: calendarId.slice(0, 255), reason: e.reason.slice(0, 256) })
    }
  }
  const lo = range.timeMin.getTime()
  const hi = range.timeMax.getTime()
  const merged = mergeBlocks(blocks.map((b) => ({ start: Math.max(b.start, lo), end: Math.min(b.end, hi) })))
  const out: FreeBusyStatus = {
    timeMin: rfc3339(range.timeMin),
    timeMax: rfc3339(range.timeMax),
    busy: merged.slice(0, max).map((b) => ({ start: iso(b.start), end: iso(b.end) })),
    truncated: merged.length > max,
    generatedAt: rfc3339(now),
  }
  if (errors.length > 0) out.errors = errors
  return out
}

/** Second precision, as Kubernetes writes timestamps. */
function iso(ms: number): string {
  return rfc3339(new Date(ms))
}

/** Reads the busy blocks of the calendars for [now, now + ahead). */
export async function readFreeBusy(opts: {
  client: GoogleCalendarClient
  calendars: readonly string[]
  aheadMs: number
  timeZone: string
  now: Date
  signal: AbortSignal
}): Promise<FreeBusyStatus> {
  // whole minutes, so that two reads a few seconds apart describe the same range
  const timeMin = new Date(Math.floor(opts.now.getTime() / 60_000) * 60_000)
  const timeMax = new Date(timeMin.getTime() + opts.aheadMs)
  const result = await opts.client.freeBusy({
    timeMin: timeMin.toISOString(),
    timeMax: timeMax.toISOString(),
    timeZone: opts.timeZone,
    items: opts.calendars,
    signal: opts.signal,
  })
  return freeBusyStatusOf(result, { timeMin, timeMax }, opts.now)
}
