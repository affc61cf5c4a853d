/**
 * The sending window: local clock times in an IANA time zone (quiet hours are outside it),
 * computed with the platform's `Intl` time-zone data, so daylight saving is the zone's own.
 */
import type { MessageCampaignSpec } from '../api/index.ts'

type Window = NonNullable<MessageCampaignSpec['window']>

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const

const formatters = new Map<string, Intl.DateTimeFormat>()

/** Local weekday and minute of the day of `at` in `timeZone`; throws RangeError on an unknown zone. */
export function localTime(at: Date, timeZone: string): { day: string; minute: number } {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    formatters.set(timeZone, f)
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]))
  return { day: String(parts.weekday), minute: Number(parts.hour) * 60 + Number(parts.minute) }
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    localTime(new Date(0), timeZone)
    return true
  } catch {
    return false
  }
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))

/** Whether messages may go out at `at`. A window that ends before it starts spans midnight. */
export function isOpen(window: Window | undefined, at: Date): boolean {
  if (!window) return true
  const { day, minute } = localTime(at, window.timeZone)
  const start = minutes(window.start)
  const end = minutes(window.end)
  const days = window.days as readonly string[] | undefined
  if (start === end) return !days || days.includes(day)
  if (start < end) return minute >= start && minute < end && (!days || days.includes(day))
  // spans midnight: the evening part belongs to today, the morning part to yesterday's window
  if (minute >= start) return !days || days.includes(day)
  if (minute < end) {
    const yesterday = DAYS[(DAYS.indexOf(day as (typeof DAYS)[number]) + 6) % 7] as string
    return !days || days.includes(yesterday)
  }
  return false
}

/** The next time at or after `at` when the window is open (minute steps, at most 8 days on). */
export function nextOpen(window: Window | undefined, at: Date): Date | undefined {
  if (isOpen(window, at)) return at
  const t = new Date(Math.ceil(at.getTime() / 60_000) * 60_000)
  for (let i = 0; i < 8 * 24 * 60; i++) {
    if (isOpen(window, t)) return t
    t.setTime(t.getTime() + 60_000)
  }
  return undefined
}

/** The next time after `at` when an open window closes (so a batch stops in time). */
export function closesAt(window: Window | undefined, at: Date): Date | undefined {
  if (!window) return undefined
  const t = new Date(Math.floor(at.getTime() / 60_000) * 60_000 + 60_000)
  for (let i = 0; i < 8 * 24 * 60; i++) {
    if (!isOpen(window, t)) return t
    t.setTime(t.getTime() + 60_000)
  }
  return undefined
}
