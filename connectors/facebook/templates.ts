/**
 * Announcement text from a template. A template is plain text with placeholders `{{title}}`,
 * `{{date}}`, `{{time}}`, `{{location}}` and `{{link}}` (spaces inside the braces allowed).
 * Rendering is a single pass of string substitution: values are inserted as they are and never
 * read as templates themselves, and nothing in a template is evaluated. A line whose
 * placeholders all came out empty (an event without a location, say) is left out, and blank
 * lines are collapsed. Unknown placeholders are an error (`validateTemplate` reports them
 * before a template is used).
 */
import type { CalendarEvent } from '../google-calendar/index.ts'

export const PLACEHOLDERS = ['title', 'date', 'time', 'location', 'link'] as const
export type Placeholder = (typeof PLACEHOLDERS)[number]
export type TemplateValues = Partial<Record<Placeholder, string>>

/** Longest template accepted (Facebook posts may be 63 206 characters). */
export const MAX_TEMPLATE_LENGTH = 5000

/** Default templates by event type; `default` for any other type. */
export const DEFAULT_TEMPLATES: Readonly<
  Record<'live-music' | 'dj-set' | 'tribute-night' | 'default', string>
> = Object.freeze({
  'live-music': '🎸 Live music: {{title}}\n📅 {{date}} {{time}}\n📍 {{location}}\n{{link}}',
  'dj-set': '🎧 DJ set: {{title}}\n📅 {{date}} {{time}}\n📍 {{location}}\n{{link}}',
  'tribute-night': '🎤 Tribute night: {{title}}\n📅 {{date}} {{time}}\n📍 {{location}}\n{{link}}',
  default: '📣 {{title}}\n📅 {{date}} {{time}}\n📍 {{location}}\n{{link}}',
})

const TOKEN = /\{\{\s*([A-Za-z]+)\s*\}\}/g
const KNOWN = new Set<string>(PLACEHOLDERS)

/** Problems of a template (empty when it can be used). */
export function validateTemplate(template: string): string[] {
  const problems: string[] = []
  if (template.trim() === '') problems.push('template is empty')
  if (template.length > MAX_TEMPLATE_LENGTH)
    problems.push(`template is longer than ${MAX_TEMPLATE_LENGTH} characters`)
  for (const m of template.matchAll(TOKEN)) {
    const name = m[1] ?? ''
    if (!KNOWN.has(name)) problems.push(`unknown placeholder {{${name}}} (known: ${PLACEHOLDERS.join(', ')})`)
  }
  return [...new Set(problems)]
}

/** Fills a template in; throws RangeError on an invalid template. */
export function renderTemplate(template: string, values: TemplateValues): string {
  const problems = validateTemplate(template)
  if (problems.length > 0) throw new RangeError(problems.join('; '))
  const lines: string[] = []
  for (const line of template.split('\n')) {
    let placeholders = 0
    let filled = 0
    const out = line.replace(TOKEN, (_m, name: string) => {
      placeholders++
      const v = (values[name as Placeholder] ?? '').replace(/\s*\n\s*/g, ' ').trim()
      if (v) filled++
      return v
    })
    if (placeholders > 0 && filled === 0) continue
    lines.push(out.replace(/[ \t]+$/g, ''))
  }
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}

export interface FormatOptions {
  /** BCP 47 locale of the date and time. Default `en-GB`. */
  locale?: string
  /** Time zone the date and time are shown in. Default: the event's, else UTC. */
  timeZone?: string
}

/** Placeholder values for an event (`date` like "Sat, 1 Jun 2030", `time` like "20:00" in en-GB). */
export function eventValues(e: CalendarEvent, opts: FormatOptions = {}): TemplateValues {
  const locale = opts.locale ?? 'en-GB'
  const values: TemplateValues = { title: e.title, location: e.location ?? '', link: e.link ?? '' }
  if (e.allDay) {
    const day = new Date(`${e.start.slice(0, 10)}T12:00:00Z`)
    if (!Number.isNaN(day.getTime())) {
      values.date = new Intl.DateTimeFormat(locale, {
        weekday: 'short',
        day: 'numeric',
        month: 'short',
        year: 'numeric',
        timeZone: 'UTC',
      }).format(day)
    }
    values.time = ''
    return values
  }
  const start = new Date(e.start)
  if (Number.isNaN(start.getTime())) return values
  const timeZone = opts.timeZone ?? e.timeZone ?? 'UTC'
  values.date = new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone,
  }).format(start)
  values.time = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', timeZone }).format(
    start,
  )
  return values
}

export interface RenderAnnouncementOptions extends FormatOptions {
  /** Templates by type, over the defaults; `default` for types without one. */
  templates?: Record<string, string>
}

/** The announcement text of an event: its type's template (or `default`), filled in. */
export function renderAnnouncement(e: CalendarEvent, opts: RenderAnnouncementOptions = {}): string {
  const templates: Record<string, string> = { ...DEFAULT_TEMPLATES, ...opts.templates }
  const template = (e.type ? templates[e.type] : undefined) ?? templates.default ?? DEFAULT_TEMPLATES.default
  return renderTemplate(template, eventValues(e, opts))
}
