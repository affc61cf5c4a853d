/**
 * Calendly scheduled events as CalendarEvents.
 *
 * - id: the event's uuid; title: its name; start/end: its times (never all-day);
 * - status: `active` → `confirmed`, `canceled` → `cancelled`;
 * - description: the meeting notes, then the join URL of an online meeting (a description only
 *   reaches internal targets);
 * - location: a physical address, or the kind of online meeting (`Zoom`, `Google Meet`, ...);
 * - attendees: the invitees given (active ones `accepted`, cancelled ones `declined`);
 * - type: a `#tag` of a known type in the notes or the name (see google-calendar/events.ts);
 * - visibility: `default` unless the caller says (bookings are often private meetings).
 */
import {
  type CalendarAttendee,
  type CalendarEvent,
  DEFAULT_EVENT_TYPES,
  detectType,
  type EventVisibility,
} from '../google-calendar/index.ts'
import { type CalendlyInvitee, type CalendlyScheduledEvent, calendlyUuid } from './client.ts'

export interface CalendlyMappingOptions {
  /** Default `default`. */
  visibility?: EventVisibility
  /** Types a `#tag` may name. Default the built-in ones. */
  knownTypes?: readonly string[]
}

const ONLINE: Record<string, string> = {
  zoom: 'Zoom',
  zoom_conference: 'Zoom',
  google_conference: 'Google Meet',
  microsoft_teams_conference: 'Microsoft Teams',
  gotomeeting: 'GoTo Meeting',
  gotomeeting_conference: 'GoTo Meeting',
  webex_conference: 'Webex',
  outbound_call: 'Phone call',
  inbound_call: 'Phone call',
}

export function calendlyEventToCalendarEvent(
  e: CalendlyScheduledEvent,
  invitees: readonly CalendlyInvitee[] = [],
  opts: CalendlyMappingOptions = {},
): CalendarEvent {
  const notes = e.meeting_notes_plain ?? ''
  const joinUrl = e.location?.join_url ?? undefined
  const description = [notes, joinUrl ? `Join: ${joinUrl}` : ''].filter(Boolean).join('\n\n')
  const type = detectType(`${notes}\n${e.name ?? ''}`, opts.knownTypes ?? DEFAULT_EVENT_TYPES)
  const out: CalendarEvent = {
    id: calendlyUuid(e.uri),
    title: e.name ?? 'Calendly meeting',
    start: e.start_time,
    end: e.end_time,
    allDay: false,
    status: e.status === 'canceled' ? 'cancelled' : 'confirmed',
    visibility: opts.visibility ?? 'default',
    updated: e.updated_at ?? e.created_at ?? e.start_time,
  }
  if (description) out.description = description
  const where = e.location?.location ?? (e.location?.type ? ONLINE[e.location.type] : undefined)
  if (where) out.location = where
  if (type) out.type = type
  if (invitees.length > 0) {
    out.attendees = invitees.map((i) => {
      const a: CalendarAttendee = {
        email: i.email,
        responseStatus: i.status === 'canceled' ? 'declined' : 'accepted',
      }
      if (i.name) a.name = i.name
      return a
    })
  }
  return out
}
