/**
 * Announcing new public events on Facebook, each exactly once.
 *
 * An event is a candidate when it is public (see feed.ts), confirmed, has not started and
 * starts within `ahead`. It is announced to every page and group named, with
 * `announceOnce` (which looks for an earlier post carrying the announcement key's marker
 * before posting), keyed `<namespace>/<name>/<source event id>`. Each post is recorded in
 * `status.announcements.announced` and the status is written at once (a checkpoint), so a
 * restart finds it; the marker covers the moment between a post and that write. A failed post
 * stops the announcing of this sync, is recorded as `lastError`, and is retried by the next.
 */
import {
  announceOnce,
  type CalendarEvent,
  type FacebookClient,
  Reason,
  renderAnnouncement,
  rfc3339,
  StallingError,
  type SwitchboardError,
  sanitizeMessage,
  toSwitchboardError,
  validateTemplate,
} from '../../connectors/index.ts'
import { type AnnouncedEvent, type CalendarSyncSpec, calendarStatusLimits } from '../api/index.ts'
import { ConditionType, parseDuration } from '../runtime/index.ts'
import type { Ctx } from './clients.ts'
import { isPublicEvent } from './feed.ts'
import { instantOf } from './sources.ts'

export const Announced = ConditionType.Announced

type FacebookSpec = NonNullable<NonNullable<CalendarSyncSpec['announce']>['facebook']>

/** The templates of the spec by type (over the built-in ones), checked. */
export function templatesOf(spec: FacebookSpec): Record<string, string> {
  const out: Record<string, string> = {}
  for (const t of spec.templates ?? []) {
    const problems = validateTemplate(t.text)
    if (problems.length > 0) {
      const field = `spec.announce.facebook.templates[type=${t.type}].text`
      throw new StallingError(Reason.InvalidSpec, `${field}: ${problems.join('; ')}`, { field })
    }
    out[t.type] = t.text
  }
  return out
}

/** The pages and groups posts go to. */
export function announceTargets(spec: FacebookSpec): string[] {
  return [...new Set([...(spec.pageId ? [spec.pageId] : []), ...(spec.groupIds ?? [])])]
}

/** Events due for an announcement, soonest first. */
export function candidates(
  events: Iterable<CalendarEvent>,
  opts: { now: number; aheadMs: number; done: (id: string) => boolean },
): CalendarEvent[] {
  const out: CalendarEvent[] = []
  for (const e of events) {
    if (!isPublicEvent(e) || e.status !== 'confirmed') continue
    const start = instantOf(e.start)
    if (Number.isNaN(start) || start <= opts.now || start > opts.now + opts.aheadMs) continue
    if (!opts.done(e.id)) out.push(e)
  }
  return out.sort((a, b) => instantOf(a.start) - instantOf(b.start) || (a.id < b.id ? -1 : 1))
}

/**
 * Keeps what status.announcements must remember: an announced event stays while it has not
 * started (by its current start when the source still has it, else as announced), newest
 * announcements first when over the bound.
 */
export function pruneAnnounced(
  announced: readonly AnnouncedEvent[],
  events: ReadonlyMap<string, CalendarEvent>,
  now: number,
): AnnouncedEvent[] {
  const keep = announced.filter((a) => {
    const start = instantOf(events.get(a.eventId)?.start ?? a.start ?? '')
    return Number.isNaN(start) || start > now
  })
  if (keep.length <= calendarStatusLimits.announced) return keep
  return [...keep].sort((a, b) => (a.time < b.time ? 1 : -1)).slice(0, calendarStatusLimits.announced)
}

export interface AnnounceOutcome {
  posted: number
  pending: number
  error?: SwitchboardError
}

/** Announces due events (see the file comment). Never throws a provider error: it is returned. */
export async function announceEvents(opts: {
  ctx: Ctx
  client: FacebookClient | undefined
  spec: FacebookSpec
  events: ReadonlyMap<string, CalendarEvent>
  observe: boolean
  now: Date
}): Promise<AnnounceOutcome> {
  const { ctx, spec } = opts
  const { namespace, name } = ctx.obj.metadata
  ctx.status.announcements ??= { total: 0, pending: 0, announced: [] }
  const st = ctx.status.announcements
  const targets = announceTargets(spec)
  const now = opts.now.getTime()
  st.announced = pruneAnnounced(st.announced, opts.events, now)
  const byId = new Map(st.announced.map((a) => [a.eventId, a]))
  const complete = (id: string) => {
    const a = byId.get(id)
    return a !== undefined && targets.every((t) => a.posts.some((p) => p.target === t))
  }
  const due = candidates(opts.events.values(), {
    now,
    aheadMs: parseDuration(spec.ahead, 'spec.announce.facebook.ahead'),
    done: complete,
  })
  if (opts.observe || !opts.client) {
    st.pending = due.length
    return { posted: 0, pending: due.length }
  }
  const templates = templatesOf(spec)
  const client = opts.client
  let posted = 0
  let handled = 0
  for (const e of due.slice(0, spec.maxPostsPerSync)) {
    if (ctx.signal.aborted) break
    const message = renderAnnouncement(e, {
      templates,
      locale: spec.locale,
      ...(spec.timeZone ? { timeZone: spec.timeZone } : {}),
    })
    let record = byId.get(e.id)
    for (const target of targets) {
      if (record?.posts.some((p) => p.target === target)) continue
      try {
        const result = await announceOnce(client, target, {
          key: `${namespace}/${name}/${e.id}`,
          message,
          ...(e.link ? { link: e.link } : {}),
          signal: ctx.signal,
        })
        if (!record) {
          record = {
            eventId: e.id,
            title: e.title.slice(0, 1024),
            start: e.start,
            time: rfc3339(opts.now),
            posts: [],
          }
          byId.set(e.id, record)
          st.announced.push(record)
        }
        record.posts.push({ target, id: result.id })
        record.time = rfc3339(new Date())
        if (result.created) {
          posted++
          st.total += 1
        }
        st.lastAnnouncement = structuredClone(record)
        delete st.lastError
        ctx.log.info({ eventId: e.id, target, post: result.id, created: result.created }, 'event announced')
        if (result.created) ctx.event('Normal', Reason.Announced, `announced "${e.title}" on ${target}`)
        // the post is out: make the record durable before anything else can fail
        await ctx.checkpoint()
      } catch (err) {
        const error = toSwitchboardError(err)
        st.lastError = {
          reason: error.reason,
          message: sanitizeMessage(error.message),
          time: rfc3339(new Date()),
          eventId: e.id,
        }
        st.pending = due.length - handled
        return { posted, pending: st.pending, error }
      }
    }
    handled++
  }
  st.pending = due.length - handled
  return { posted, pending: st.pending }
}
