/**
 * Read-only public routes for CalendarSync resources, as a Fastify plugin the webhook server
 * mounts:
 *
 * - `GET /feeds/:namespace/:name/events.json`, `.../next.json`, `.../today.json`: the public
 *   feed (see feed.ts), 404 unless `spec.publicFeed.enabled`. `?tz=Europe/London` shows dates,
 *   times and "today" in another time zone than `spec.publicFeed.timeZone`.
 * - `GET /freebusy/:namespace/:name.json`: the busy blocks of `status.freeBusy`, 404 unless
 *   `spec.freeBusy` is set. Never titles or calendar ids.
 *
 * Every answer carries an ETag (If-None-Match → 304), `Cache-Control: public, max-age=60` and
 * `Access-Control-Allow-Origin: *` (the data is public, and booking pages and panels fetch it
 * from other origins). Only what the controller already wrote into the status is served; the
 * server never calls a provider.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { type FreeBusyStatus, isTimeZone, type PublicFeedStatus } from '../api/index.ts'
import { etagOf, feedDocuments } from './feed.ts'

/** What the routes read of a CalendarSync (the object as the API server has it). */
export interface PublicCalendarSync {
  metadata?: { name?: string; namespace?: string }
  spec?: {
    publicFeed?: { enabled?: boolean; timeZone?: string }
    freeBusy?: unknown
  }
  status?: {
    publicFeed?: PublicFeedStatus
    freeBusy?: FreeBusyStatus
  }
}

export interface CalendarPublicRoutesOptions {
  /** The CalendarSync `namespace/name`, or undefined when there is none (a cache lookup). */
  lookup(
    namespace: string,
    name: string,
  ): PublicCalendarSync | undefined | Promise<PublicCalendarSync | undefined>
  /** The clock (tests fix it). Default `() => new Date()`. */
  now?: () => Date
  /** `max-age` of the answers, in seconds. Default 60. */
  maxAgeSeconds?: number
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DOCUMENTS = { 'events.json': 'events', 'next.json': 'next', 'today.json': 'today' } as const

const feedParams = {
  type: 'object',
  properties: {
    namespace: { type: 'string', maxLength: 63 },
    name: { type: 'string', maxLength: 253 },
    document: { type: 'string', maxLength: 16 },
  },
  required: ['namespace', 'name', 'document'],
} as const

const freeBusyParams = {
  type: 'object',
  properties: {
    namespace: { type: 'string', maxLength: 63 },
    name: { type: 'string', maxLength: 253 },
  },
  required: ['namespace', 'name'],
} as const

const feedQuery = {
  type: 'object',
  properties: { tz: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

type FeedRequest = FastifyRequest<{
  Params: { namespace: string; name: string; document: string }
  Querystring: { tz?: string }
}>
type FreeBusyRequest = FastifyRequest<{ Params: { namespace: string; name: string } }>

/** The Fastify plugin serving the feeds and free/busy documents. */
export function calendarPublicRoutes(opts: CalendarPublicRoutesOptions): FastifyPluginAsync {
  const now = opts.now ?? (() => new Date())
  const cacheControl = `public, max-age=${opts.maxAgeSeconds ?? 60}`

  const notFound = (reply: FastifyReply, message = 'not found') =>
    reply.code(404).header('cache-control', 'no-store').send({ statusCode: 404, error: 'Not Found', message })

  const send = (request: FastifyRequest, reply: FastifyReply, etag: string, body: unknown) => {
    reply
      .header('etag', etag)
      .header('cache-control', cacheControl)
      .header('access-control-allow-origin', '*')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'Accept-Encoding')
    if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send()
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(body))
  }

  async function find(namespace: string, name: string): Promise<PublicCalendarSync | undefined> {
    if (!NAMESPACE.test(namespace) || namespace.length > 63 || !NAME.test(name)) return undefined
    return opts.lookup(namespace, name)
  }

  return async (app) => {
    app.get(
      '/feeds/:namespace/:name/:document',
      { schema: { params: feedParams, querystring: feedQuery } },
      async (request: FeedRequest, reply) => {
        const { namespace, name, document } = request.params
        const which = DOCUMENTS[document as keyof typeof DOCUMENTS]
        if (!which) return notFound(reply)
        const obj = await find(namespace, name)
        const feed = obj?.spec?.publicFeed
        if (!obj || feed?.enabled !== true) return notFound(reply)
        const timeZone = request.query.tz ?? feed.timeZone ?? 'UTC'
        if (!isTimeZone(timeZone)) {
          return reply
            .code(400)
            .header('cache-control', 'no-store')
            .send({ statusCode: 400, error: 'Bad Request', message: 'tz is not a known time zone' })
        }
        const docs = feedDocuments(obj.status, { now: now(), timeZone })
        return send(request, reply, docs.etag, docs[which])
      },
    )

    app.get(
      '/freebusy/:namespace/:name.json',
      { schema: { params: freeBusyParams } },
      async (request: FreeBusyRequest, reply) => {
        const { namespace, name } = request.params
        const obj = await find(namespace, name)
        if (!obj || obj.spec?.freeBusy === undefined || obj.spec.freeBusy === null) return notFound(reply)
        const fb = obj.status?.freeBusy
        const body = fb
          ? {
              timeMin: fb.timeMin,
              timeMax: fb.timeMax,
              updated: fb.generatedAt,
              busy: fb.busy.map((b) => ({ start: b.start, end: b.end })),
              truncated: fb.truncated,
            }
          : { timeMin: null, timeMax: null, updated: null, busy: [], truncated: false }
        return send(request, reply, etagOf(body), body)
      },
    )
  }
}

/** Whether an If-None-Match header names the ETag (weak comparison, `*` matches). */
function matches(header: string | string[] | undefined, etag: string): boolean {
  if (!header) return false
  const value = Array.isArray(header) ? header.join(',') : header
  const strip = (t: string) => t.trim().replace(/^W\//, '')
  const want = strip(etag)
  return value.split(',').some((t) => t.trim() === '*' || strip(t) === want)
}
