import { z } from 'zod'
import {
  commonStatusFields,
  counter,
  dateTime,
  dnsSubdomainPattern,
  duration,
  exactlyOneOf,
  httpUrl,
  interval,
  suspend,
  withValidations,
} from './common.ts'
import { connectStatus } from './connect.ts'
import { defineKind, type Resource } from './types.ts'
import { webhookStatus } from './webhook.ts'

/** Event types Switchboard ships announcement templates for (any other type uses `default`). */
export const calendarEventTypes = ['live-music', 'dj-set', 'tribute-night'] as const

/** Upper bounds on what the status keeps, so that the object stays small. */
export const calendarStatusLimits = {
  /** Busy blocks in `status.freeBusy.busy`. */
  busyBlocks: 200,
  /** Events in `status.publicFeed.events`. */
  feedEvents: 100,
  /** Event ids in `status.drift.events`. */
  driftEvents: 50,
  /** Announced events remembered in `status.announcements.announced`. */
  announced: 200,
} as const

/** An IANA time zone name such as `Europe/London` or `UTC` (checked against the runtime's list). */
export const timeZonePattern = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/

export function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: value })
    return true
  } catch {
    return false
  }
}

function timeZone(description: string) {
  return z
    .string()
    .max(64)
    .regex(timeZonePattern)
    .refine(isTimeZone, { message: 'not a time zone this runtime knows (use an IANA name)' })
    .describe(description)
}

/** `YYYY-MM-DD` (all day) or an RFC 3339 date-time with an offset. */
export const eventTimePattern = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:\d{2}))?$/

function eventTime(description: string) {
  return z
    .string()
    .max(40)
    .regex(eventTimePattern)
    .refine((v) => !Number.isNaN(Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v)), {
      message: 'not a valid date or date-time',
    })
    .describe(description)
}

const eventType = z
  .string()
  .min(1)
  .max(48)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/)

const calendarId = (description: string) =>
  z
    .string()
    .min(1)
    .max(255)
    .regex(/^[^\s/]+$/)
    .describe(description)

/** A reference to a Secret in the resource's namespace, with its own description. */
function secretRef(description: string) {
  return z
    .object({
      name: z
        .string()
        .min(1)
        .max(253)
        .regex(dnsSubdomainPattern)
        .describe('Name of the Secret. It must be in the same namespace as this resource.'),
    })
    .describe(description)
}

export const googleSecretKeys =
  'a service account key as `serviceAccountKey` (the JSON key file; optionally `subject`, the ' +
  'user it acts for), or an OAuth client and refresh token as `clientId`, `clientSecret` and ' +
  '`refreshToken` (without `refreshToken`, and with the label ' +
  'switchboard.dev/controller-writable=true, the user authorizes Switchboard from the one-time ' +
  'link in status.connect and the tokens are written into the Secret)'

export const googleCalendarSource = z
  .object({
    calendarId: calendarId(
      'The Google calendar events are read from, for example `club@group.calendar.google.com` ' +
        'or `primary`. It must be shared with the account in the Secret.',
    ),
    credentialsSecretRef: secretRef(
      `The Secret with the Google credentials for reading the calendar: ${googleSecretKeys}. ` +
        'With push notifications it also holds `channelToken` (at least 16 characters), the token ' +
        'Google sends back with every notification. Defaults to spec.credentialsSecretRef.',
    ).optional(),
  })
  .describe(
    'Read events from a Google calendar: incrementally (sync tokens), kept current by push ' +
      'notifications when the controller has a public URL.',
  )

export const calendlySource = z
  .object({
    organization: httpUrl(
      'The Calendly organization URI whose scheduled events (bookings) are read, for example ' +
        '`https://api.calendly.com/organizations/AAAA...`. `GET /users/me` shows it as ' +
        '`current_organization`.',
    ),
    credentialsSecretRef: secretRef(
      'The Secret with `personalAccessToken` (a Calendly personal access token), or with ' +
        '`clientId` and `clientSecret` (an OAuth application: the user authorizes Switchboard ' +
        'from the one-time link in status.connect, and the tokens are written into the Secret, ' +
        'which needs the label switchboard.dev/controller-writable=true); and ' +
        '`webhookSigningKey` (the signing key of the webhook subscription that points at ' +
        'status.webhook.url). Defaults to spec.credentialsSecretRef.',
    ).optional(),
    visibility: z
      .enum(['public', 'private'])
      .default('private')
      .describe(
        'How bookings count: `private` (the default) keeps them out of public targets, the ' +
          'public feed and announcements, as bookings are usually meetings with people; ' +
          '`public` treats them as public events.',
      ),
  })
  .describe('Read Calendly bookings (scheduled events); each becomes an event in the targets.')

export const inlineEvent = withValidations(
  z
    .object({
      id: z
        .string()
        .min(1)
        .max(128)
        .regex(/^[A-Za-z0-9._:-]+$/)
        .describe('A stable id, unique in the list; the copies in the targets are linked to it.'),
      title: z.string().min(1).max(1024).describe('The title.'),
      start: eventTime(
        'When it starts: an RFC 3339 date-time with an offset (`2030-06-01T20:00:00+01:00`), or a ' +
          'date (`2030-06-01`) for an all-day event.',
      ),
      end: eventTime(
        'When it ends, in the same form as start. For an all-day event the day after the last ' +
          'day (exclusive), as calendars store it.',
      ),
      timeZone: timeZone(
        'The IANA time zone the event is held in (for example `Europe/London`); shown by ' +
          'calendars and used for the date and time of announcements.',
      ).optional(),
      location: z.string().max(1024).describe('Where it takes place.').optional(),
      description: z
        .string()
        .max(8192)
        .describe('Details. Only internal targets get the description.')
        .optional(),
      type: eventType
        .describe(
          'The kind of event, which picks the announcement template: for example `live-music`, ' +
            '`dj-set` or `tribute-night`.',
        )
        .optional(),
      visibility: z
        .enum(['public', 'private'])
        .default('public')
        .describe(
          '`public` (the default): in every target, the public feed and announcements. `private`: ' +
            'in internal targets only.',
        ),
      link: httpUrl('A public page about the event (tickets, details).').optional(),
    })
    .superRefine((e, ctx) => {
      const allDay = e.start.length === 10
      if (allDay !== (e.end.length === 10)) {
        ctx.addIssue({
          code: 'custom',
          path: ['end'],
          message: 'start and end must both be dates or both date-times',
        })
        return
      }
      const ms = (v: string) => Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v)
      if (ms(e.end) < ms(e.start) || (allDay && ms(e.end) === ms(e.start))) {
        ctx.addIssue({ code: 'custom', path: ['end'], message: 'end must be after start' })
      }
    })
    .describe('One event of an inline schedule.'),
  [
    {
      rule: '(size(self.start) == 10) == (size(self.end) == 10)',
      message: 'start and end must both be dates or both date-times',
      fieldPath: '.end',
    },
  ],
)

export const calendarSource = exactlyOneOf(
  z
    .object({
      googleCalendar: googleCalendarSource.optional(),
      calendly: calendlySource.optional(),
      events: z
        .array(inlineEvent)
        .max(200)
        .meta({
          description:
            'A schedule declared here, for GitOps-managed programmes. Each entry becomes an event ' +
            'in the targets; removing an entry removes its copies.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['id'],
        })
        .optional(),
    })
    .describe('Where the events come from: exactly one of googleCalendar, calendly or events.'),
  ['googleCalendar', 'calendly', 'events'],
  'exactly one of spec.source.googleCalendar, spec.source.calendly or spec.source.events must be set',
)

export const calendarTarget = z
  .object({
    calendarId: calendarId(
      'The Google calendar the events are copied to. The account must be able to make changes ' +
        'to events in it.',
    ),
    visibility: z
      .enum(['internal', 'public'])
      .default('internal')
      .describe(
        '`internal` (the default): full copies, description and attendees included. `public`: ' +
          'title, times, location and link only, and events marked private are left out.',
      ),
    timeZone: timeZone(
      'The time zone the copies are written in (the instants do not change). Defaults to the ' +
        "source event's own time zone.",
    ).optional(),
    credentialsSecretRef: secretRef(
      `The Secret with the Google credentials for this calendar: ${googleSecretKeys}. Defaults to ` +
        'spec.credentialsSecretRef.',
    ).optional(),
  })
  .describe(
    'A Google calendar kept in step with the source. Switchboard marks each event it creates ' +
      '(a private extended property) and never changes an event it did not create.',
  )

export const calendarWindow = z
  .object({
    past: duration(
      'How far back events are synced, from now, as a Go-style duration. Defaults to `24h`. ' +
        'Copies of events that ended before are left as they are.',
    ).default('24h'),
    future: duration(
      'How far ahead events are synced, from now, as a Go-style duration. Defaults to `2160h` ' +
        '(90 days).',
    ).default('2160h'),
  })
  .describe('The time range that is synced, relative to now.')

export const freeBusySpec = z
  .object({
    calendars: z
      .array(calendarId('A Google calendar whose busy times are published.'))
      .min(1)
      .max(50)
      .describe(
        'Google calendars whose busy times are read (at most 50). Only busy blocks are ' +
          'published, merged across calendars: never titles or who is busy.',
      ),
    credentialsSecretRef: secretRef(
      `The Secret with the Google credentials for these calendars: ${googleSecretKeys}. Defaults ` +
        'to spec.credentialsSecretRef.',
    ).optional(),
    ahead: duration(
      'How far ahead busy times are published, from now, as a Go-style duration. Defaults to ' +
        '`336h` (14 days).',
    ).default('336h'),
    timeZone: timeZone('The time zone Google is asked to answer in. Defaults to `UTC`.').default('UTC'),
  })
  .describe(
    'Publish free/busy blocks in status.freeBusy, which the webhook server serves read-only as ' +
      'JSON at /freebusy/<namespace>/<name>.json (for booking pages).',
  )

export const announcementTemplate = z
  .object({
    type: eventType.describe('The event type this template is for, or `default` for every other type.'),
    text: z
      .string()
      .min(1)
      .max(5000)
      .describe(
        'The post. Placeholders: `{{title}}`, `{{date}}`, `{{time}}`, `{{location}}`, `{{link}}`; ' +
          'a line whose placeholders are all empty is left out. Values are inserted as they are.',
      ),
  })
  .describe('The announcement text for one event type.')

export const facebookAnnounce = withValidations(
  z
    .object({
      pageId: z
        .string()
        .regex(/^[0-9A-Za-z_.-]{1,128}$/)
        .describe('The Facebook page posts go to (its numeric id).')
        .optional(),
      groupIds: z
        .array(z.string().regex(/^[0-9A-Za-z_.-]{1,128}$/))
        .max(10)
        .describe('Facebook groups posts go to as well (numeric ids), at most 10.')
        .optional(),
      credentialsSecretRef: secretRef(
        'The Secret with `pageAccessToken` (a Page access token allowed to post) and, if the app ' +
          'requires it, `appSecret`. Defaults to spec.credentialsSecretRef.',
      ).optional(),
      templates: z
        .array(announcementTemplate)
        .max(20)
        .meta({
          description:
            'Templates by event type. Built-in ones exist for `live-music`, `dj-set`, ' +
            '`tribute-night` and `default`; entries here replace them.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['type'],
        })
        .optional(),
      locale: z
        .string()
        .min(2)
        .max(35)
        .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/)
        .default('en-GB')
        .describe('The BCP 47 locale of dates and times in posts. Defaults to `en-GB`.'),
      timeZone: timeZone(
        "The time zone dates and times are shown in. Defaults to the event's own, else UTC.",
      ).optional(),
      ahead: duration(
        'Events are announced once they start within this long from now, as a Go-style ' +
          'duration. Defaults to `720h` (30 days).',
      ).default('720h'),
      maxPostsPerSync: z
        .int()
        .min(1)
        .max(50)
        .default(5)
        .describe('At most this many events are announced per sync; the rest follow. Defaults to 5.'),
    })
    .describe(
      'Post each new public event once to a Facebook page and/or groups. An event is announced ' +
        'exactly once, also across restarts: status.announcements records it, and each post ' +
        'carries a marker that is looked for before posting.',
    ),
  [
    {
      rule: 'has(self.pageId) || (has(self.groupIds) && size(self.groupIds) > 0)',
      message: 'name pageId or groupIds',
    },
  ],
)

export const publicFeedSpec = z
  .object({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        'Keep the upcoming public events in status.publicFeed, served by the webhook server as ' +
          '/feeds/<namespace>/<name>/{events,next,today}.json. Defaults to false.',
      ),
    maxEvents: z
      .int()
      .min(1)
      .max(calendarStatusLimits.feedEvents)
      .default(20)
      .describe(
        `How many upcoming events the feed holds, at most ${calendarStatusLimits.feedEvents}. Defaults to 20.`,
      ),
    timeZone: timeZone(
      'The time zone of the date and time fields and of "today". Defaults to `UTC`; readers may ' +
        'ask for another with `?tz=`.',
    ).default('UTC'),
  })
  .describe('A public feed of upcoming public events, for web pages and in-world panels.')

export const calendarSyncSpec = withValidations(
  z
    .object({
      source: calendarSource,
      targets: z
        .array(calendarTarget)
        .max(10)
        .default([])
        .meta({
          description: 'Google calendars the events are kept in, at most 10.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['calendarId'],
        }),
      credentialsSecretRef: secretRef(
        'The Secret used wherever no other is named (source, targets, freeBusy, announce), in the ' +
          'same namespace. The webhook secrets (`channelToken`, `webhookSigningKey`) are read from ' +
          "the source's Secret: its own, else this one.",
      ).optional(),
      endpoints: z
        .object({
          googleCalendar: httpUrl(
            'Base URL of the Google Calendar API (scheme, host and port count). Defaults to ' +
              '`https://www.googleapis.com/`.',
          ).optional(),
          googleToken: httpUrl(
            "Google's OAuth token endpoint. Defaults to the service account key's `token_uri`, " +
              'else `https://oauth2.googleapis.com/token`.',
          ).optional(),
          googleAuth: httpUrl(
            "Base URL of Google's consent page (`/o/oauth2/v2/auth`), for the connect links of a " +
              'Secret with an OAuth client. Defaults to `https://accounts.google.com`.',
          ).optional(),
          calendly: httpUrl(
            'Base URL of the Calendly API. Defaults to `https://api.calendly.com`.',
          ).optional(),
          calendlyAuth: httpUrl(
            "Base URL of Calendly's OAuth server (its `/oauth/authorize` consent page and " +
              '`/oauth/token`), for a Secret with an OAuth client. Defaults to ' +
              '`https://auth.calendly.com`.',
          ).optional(),
          facebook: httpUrl(
            'Base URL of the Graph API. Defaults to `https://graph.facebook.com`.',
          ).optional(),
        })
        .describe(
          'Provider base URLs, overriding the defaults: a proxy, a regional endpoint or the ' +
            'Switchboard sandbox.',
        )
        .optional(),
      window: calendarWindow.prefault({}),
      interval: interval('5m', 'How often the source is synced even without a notification'),
      deletionPolicy: z
        .enum(['Delete', 'Orphan'])
        .default('Delete')
        .describe(
          'What happens to the events Switchboard created in the targets when this resource is ' +
            'deleted: `Delete` (the default) removes them, `Orphan` leaves them. Push channels are ' +
            'stopped either way.',
        ),
      managementPolicy: z
        .enum(['Full', 'Observe'])
        .default('Full')
        .describe(
          '`Full` (the default): targets are written and drift is corrected. `Observe`: nothing ' +
            'is written to any target and nothing is posted; differences are only reported in ' +
            'status.drift.',
        ),
      suspend,
      freeBusy: freeBusySpec.optional(),
      announce: z
        .object({ facebook: facebookAnnounce.optional() })
        .describe('Announce new public events.')
        .optional(),
      publicFeed: publicFeedSpec.optional(),
    })
    .superRefine((spec, ctx) => {
      const source = spec.source.googleCalendar?.calendarId
      spec.targets.forEach((t, i) => {
        if (source !== undefined && t.calendarId === source) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', i, 'calendarId'],
            message: 'a target cannot be the source calendar',
          })
        }
      })
      const fallback = spec.credentialsSecretRef !== undefined
      const need = (has: boolean, path: (string | number)[]) => {
        if (!has && !fallback) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'credentialsSecretRef'],
            message: 'name a Secret here or set spec.credentialsSecretRef',
          })
        }
      }
      if (spec.source.googleCalendar)
        need(!!spec.source.googleCalendar.credentialsSecretRef, ['source', 'googleCalendar'])
      if (spec.source.calendly) need(!!spec.source.calendly.credentialsSecretRef, ['source', 'calendly'])
      spec.targets.forEach((t, i) => {
        need(!!t.credentialsSecretRef, ['targets', i])
      })
      if (spec.freeBusy) need(!!spec.freeBusy.credentialsSecretRef, ['freeBusy'])
      if (spec.announce?.facebook)
        need(!!spec.announce.facebook.credentialsSecretRef, ['announce', 'facebook'])
    })
    .describe(
      'Events from one source kept in Google calendars, free/busy published, new public events ' +
        'announced, and a public feed of upcoming events.',
    ),
  [
    {
      rule:
        'has(self.credentialsSecretRef) || ((!has(self.source.googleCalendar) || ' +
        'has(self.source.googleCalendar.credentialsSecretRef)) && (!has(self.source.calendly) || ' +
        'has(self.source.calendly.credentialsSecretRef)) && (!has(self.targets) || ' +
        'self.targets.all(t, has(t.credentialsSecretRef))) && (!has(self.freeBusy) || ' +
        'has(self.freeBusy.credentialsSecretRef)) && (!has(self.announce) || ' +
        '!has(self.announce.facebook) || has(self.announce.facebook.credentialsSecretRef)))',
      message:
        'every part that talks to a provider needs a credentialsSecretRef, or set spec.credentialsSecretRef',
    },
    {
      rule:
        '!has(self.source.googleCalendar) || !has(self.targets) || ' +
        'self.targets.all(t, t.calendarId != self.source.googleCalendar.calendarId)',
      message: 'a target cannot be the source calendar',
      fieldPath: '.targets',
    },
  ],
)

const lastError = z
  .object({
    reason: z.string().max(1024).describe('Stable, machine-readable reason.'),
    message: z.string().max(32768).describe('What went wrong, sanitised. Never contains credentials.'),
    time: dateTime('When it happened.'),
  })
  .describe('The last error, if the last attempt failed.')

export const calendarSourceStatus = z
  .object({
    kind: z.enum(['googleCalendar', 'calendly', 'events']).describe('Which source the status is for.'),
    calendarId: z.string().max(255).describe('The Google calendar read (googleCalendar only).').optional(),
    events: counter('Events of the source in the sync window at the last sync (cancelled ones excluded).'),
    syncToken: z
      .string()
      .max(4096)
      .describe(
        'Google only: where the next incremental sync continues. Dropped when Google answers 410 ' +
          '(expired), which makes a full sync.',
      )
      .optional(),
    syncTokenState: z
      .enum(['None', 'Valid', 'Expired', 'Unsupported'])
      .describe(
        '`Valid`: the next sync is incremental. `None`: the next is a full sync. `Expired`: Google ' +
          'refused the token and a full sync replaced it. `Unsupported`: the source has no sync ' +
          'tokens (Calendly, inline events): each sync reads the window.',
      ),
    lastSyncMode: z.enum(['Full', 'Incremental']).describe('How the last sync read the source.').optional(),
    lastFullSyncTime: dateTime('When the source was last read in full.').optional(),
    fullSyncs: counter('Full reads of the source since the resource was created.').optional(),
    changes: counter('Changed or new source events the last sync read.').optional(),
    lastSyncTime: dateTime('When the source was last read successfully.').optional(),
  })
  .describe('The state of the source.')

export const calendarTargetStatus = z
  .object({
    calendarId: z.string().max(255).describe('The target calendar.'),
    visibility: z.enum(['internal', 'public']).describe('What the target gets.'),
    events: counter('Events Switchboard keeps in this calendar (in the sync window).'),
    created: counter('Events created by the last sync.'),
    updated: counter('Events updated by the last sync.'),
    deleted: counter('Events deleted by the last sync.'),
    totalCreated: counter('Events created since the resource was created.'),
    totalUpdated: counter('Events updated since the resource was created.'),
    totalDeleted: counter('Events deleted since the resource was created.'),
    drift: counter('Events that differed from the source at the last sync (see status.drift).'),
    lastSyncTime: dateTime(
      'When the calendar was last brought in step (or checked, with Observe).',
    ).optional(),
    lastError: lastError.optional(),
  })
  .describe('The state of one target calendar.')

export const driftEntry = z
  .object({
    calendarId: z.string().max(255).describe('The target calendar.'),
    sourceEventId: z.string().max(1024).describe('The source event the copy belongs to.'),
    eventId: z.string().max(1024).describe('The copy in the target, when there is one.').optional(),
    kind: z
      .enum(['EditedInTarget', 'DeletedInTarget', 'Missing', 'Outdated', 'Extra'])
      .describe(
        '`EditedInTarget`: changed by hand; `DeletedInTarget`: deleted by hand; `Missing`: not ' +
          'created yet (Observe); `Outdated`: the source changed (Observe); `Extra`: the source ' +
          'no longer has it (Observe).',
      ),
    fields: z.array(z.string().max(64)).max(16).describe('The fields that differ.').optional(),
  })
  .describe('One copy that differs from its source.')

export const calendarDriftStatus = z
  .object({
    count: counter('Copies that differed from their source at the last sync, over every target.'),
    corrected: z
      .boolean()
      .describe('True when the differences were corrected (Full), false when only reported (Observe).'),
    events: z
      .array(driftEntry)
      .max(calendarStatusLimits.driftEvents)
      .describe(`The first ${calendarStatusLimits.driftEvents} of them.`),
    totalCorrected: counter(
      'Copies edited or deleted by hand and restored since the resource was created.',
    ).optional(),
    lastDetectedTime: dateTime('When drift was last found.').optional(),
  })
  .describe('Differences between the targets and the source found by the last sync.')

const busyBlock = z
  .object({
    start: dateTime('Start of the busy block.'),
    end: dateTime('End of the busy block.'),
  })
  .describe('A time in which at least one of the calendars is busy.')

export const freeBusyStatus = z
  .object({
    timeMin: dateTime('Start of the published range.'),
    timeMax: dateTime('End of the published range.'),
    busy: z
      .array(busyBlock)
      .max(calendarStatusLimits.busyBlocks)
      .describe(
        `Busy blocks, merged across calendars and sorted, at most ${calendarStatusLimits.busyBlocks}.`,
      ),
    truncated: z.boolean().describe('True when there were more blocks than are kept.'),
    errors: z
      .array(
        z
          .object({
            calendarId: z.string().max(255).describe('The calendar.'),
            reason: z.string().max(256).describe("Google's reason (for example `notFound`)."),
          })
          .describe('A calendar Google could not answer for.'),
      )
      .max(50)
      .describe('Calendars whose busy times could not be read.')
      .optional(),
    generatedAt: dateTime('When the blocks were last read.'),
  })
  .describe('Published free/busy information.')

export const feedEvent = z
  .object({
    title: z.string().max(1024).describe('The title.'),
    start: z.string().max(40).describe('RFC 3339 start (a date for all-day events).'),
    end: z.string().max(40).describe('RFC 3339 end (exclusive date for all-day events).'),
    allDay: z.boolean().describe('Whether the event lasts whole days.'),
    date: z.string().max(10).describe('The start date in the feed time zone, `YYYY-MM-DD`.'),
    time: z
      .string()
      .max(5)
      .describe('The start time in the feed time zone, `HH:MM` (empty for all-day events).'),
    location: z.string().max(1024).describe('Where it takes place.').optional(),
    type: z.string().max(48).describe('The event type.').optional(),
    link: z.string().max(2048).describe('A public page about the event.').optional(),
  })
  .describe('One upcoming public event.')

export const publicFeedStatus = z
  .object({
    timeZone: z.string().max(64).describe('The time zone of the date and time fields.'),
    events: z
      .array(feedEvent)
      .max(calendarStatusLimits.feedEvents)
      .describe('Upcoming public events, soonest first. Never an event marked private.'),
    generatedAt: dateTime('When the list last changed.'),
  })
  .describe('The public feed, as the webhook server serves it.')

const announcementPost = z
  .object({
    target: z.string().max(128).describe('The page or group id.'),
    id: z.string().max(256).describe('The post id.'),
  })
  .describe('One post.')

export const announcedEvent = z
  .object({
    eventId: z.string().max(1024).describe('The source event.'),
    title: z.string().max(1024).describe('Its title when announced.').optional(),
    start: z.string().max(40).describe('Its start when announced.').optional(),
    time: dateTime('When it was announced.'),
    posts: z.array(announcementPost).max(11).describe('The posts, one per page or group.'),
  })
  .describe('An event that was announced.')

export const announcementsStatus = z
  .object({
    total: counter('Posts made since the resource was created.'),
    pending: counter('Public events waiting to be announced after the last sync.'),
    announced: z
      .array(announcedEvent)
      .max(calendarStatusLimits.announced)
      .describe(
        `Announced events that have not started yet (at most ${calendarStatusLimits.announced}); ` +
          'an event listed here is never announced again.',
      ),
    lastAnnouncement: announcedEvent.optional(),
    lastError: lastError
      .extend({ eventId: z.string().max(1024).describe('The event whose post failed.').optional() })
      .describe('The last failed post, until a post succeeds.')
      .optional(),
  })
  .describe('What was announced.')

/** `status.connect`, with the part of the spec (and its Secret) the link authorizes. */
export const calendarConnectStatus = connectStatus
  .extend({
    part: z
      .string()
      .max(64)
      .describe(
        'The part of the spec the link authorizes, e.g. `spec.source.calendly`. One link at a ' +
          'time: the first part (source, targets, freeBusy) that needs authorization.',
      ),
    secretName: z.string().max(253).describe('The Secret the tokens are written into.'),
  })
  .describe(
    'Present while a part of the spec whose Secret holds an OAuth client needs a user to ' +
      'authorize Switchboard (no grant yet, or the grant was revoked). Needs the public URL of ' +
      'the webhook server.',
  )

export const calendarSyncStatus = z
  .object({
    ...commonStatusFields,
    source: calendarSourceStatus.optional(),
    targets: z
      .array(calendarTargetStatus)
      .max(10)
      .meta({
        description: 'Per target calendar: counts of this sync and in total, drift, last error.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['calendarId'],
      })
      .optional(),
    drift: calendarDriftStatus.optional(),
    freeBusy: freeBusyStatus.optional(),
    publicFeed: publicFeedStatus.optional(),
    announcements: announcementsStatus.optional(),
    webhook: webhookStatus.optional(),
    connect: calendarConnectStatus.optional(),
    lastHandledResyncAt: z
      .string()
      .max(256)
      .describe(
        'The value of the `switchboard.dev/resync-requested-at` annotation last handled. Setting ' +
          'it to a new value drops the sync token: the next sync reads the source in full.',
      )
      .optional(),
  })
  .describe('The observed state of the CalendarSync, written by the controller.')

export const CalendarSyncKind = defineKind({
  kind: 'CalendarSync',
  plural: 'calendarsyncs',
  shortNames: ['calsync', 'calsyncs'],
  description:
    'A CalendarSync keeps the events of one source (a Google calendar, Calendly bookings or an ' +
    'inline schedule) in one or more Google calendars, publishes free/busy times, announces new ' +
    'public events on Facebook once each, and keeps a public feed of upcoming events.',
  spec: calendarSyncSpec,
  status: calendarSyncStatus,
  printerColumns: [
    {
      name: 'Source',
      type: 'string',
      jsonPath: '.status.source.kind',
      description: 'Where events come from',
    },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the source was read and every target is in step',
    },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      description: 'Reason of the Ready condition',
    },
    {
      name: 'Events',
      type: 'integer',
      jsonPath: '.status.source.events',
      description: 'Source events in the sync window',
    },
    { name: 'Drift', type: 'integer', jsonPath: '.status.drift.count', description: 'Copies that differed' },
    {
      name: 'Last Sync',
      type: 'date',
      jsonPath: '.status.lastSyncTime',
      description: 'When a sync last completed',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
})

export type CalendarSyncSpec = z.output<typeof calendarSyncSpec>
export type CalendarSyncStatus = z.output<typeof calendarSyncStatus>
export type CalendarTargetSpec = z.output<typeof calendarTarget>
export type CalendarTargetStatus = z.output<typeof calendarTargetStatus>
export type CalendarDriftEntry = z.output<typeof driftEntry>
export type InlineCalendarEvent = z.output<typeof inlineEvent>
export type FeedEvent = z.output<typeof feedEvent>
export type PublicFeedStatus = z.output<typeof publicFeedStatus>
export type FreeBusyStatus = z.output<typeof freeBusyStatus>
export type AnnouncedEvent = z.output<typeof announcedEvent>
export type CalendarSync = Resource<CalendarSyncSpec, CalendarSyncStatus>
