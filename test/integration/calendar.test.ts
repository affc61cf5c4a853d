import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { calendarPublicRoutes, type PublicCalendarSync } from '../../controller/calendar/index.ts'
import {
  type CalendarSyncStatus,
  createOperator,
  type Operator,
  REQUESTED_AT_ANNOTATION,
} from '../../controller/index.ts'
import { mergePatch } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createSecret,
  eventsFor,
  GROUP,
  getObj,
  type Obj,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const PLURAL = 'calendarsyncs'
/** The status of an object as the controller writes it. */
const st = (o: Obj) => (o.status ?? {}) as CalendarSyncStatus
/** Where providers would reach the webhook server (nothing listens: notifications just fail). */
const PUBLIC_URL = 'http://127.0.0.1:9'
const HOUR = 3_600_000

/** An instant `hours` from the next full hour, RFC 3339. */
const at = (hours: number) => new Date(Math.ceil(Date.now() / HOUR) * HOUR + hours * HOUR).toISOString()

type GoogleEvent = Record<string, unknown> & {
  id: string
  summary?: string
  description?: string
  attendees?: unknown[]
  extendedProperties?: { private?: Record<string, string> }
}

describe('CalendarSync against the real API server and the sandbox', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  const logs = capturedLogger('info')

  const start = () => {
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl: PUBLIC_URL,
      providerHttp: { timeoutMs: 2_000, retry: { limit: 1, backoffBaseMs: 50, maxRetryAfterMs: 2_000 } },
    })
    return operator.start()
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox()
    await sandbox.listen()
    await start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  /** A namespace with a Google service account Secret and three calendars. */
  async function googleEnv(prefix: string) {
    const ns = await createNamespace(c.core, prefix)
    const key = sandbox.googleCalendar.auth.createServiceAccount({ tokenUri: `${sandbox.url}/token` })
    const channelToken = `channel-token-${ns}-0123456789`
    await createSecret(c.core, ns, 'google', { serviceAccountKey: JSON.stringify(key.keyFile), channelToken })
    const cal = (what: string) => `${ns}-${what}@group.calendar.google.com`
    const env = { ns, src: cal('src'), internal: cal('internal'), public: cal('public'), channelToken }
    for (const id of [env.src, env.internal, env.public]) sandbox.googleCalendar.addCalendar(id)
    return env
  }

  async function create(ns: string, name: string, spec: Record<string, unknown>) {
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'CalendarSync',
        metadata: { name, namespace: ns },
        spec,
      },
    })
  }

  async function patchSpec(ns: string, name: string, spec: Record<string, unknown>) {
    await c.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name, body: { spec } },
      mergePatch,
    )
  }

  /** Asks for a sync with the requested-at annotation and waits until it was handled. */
  async function requestSync(ns: string, name: string, ready = true): Promise<Obj> {
    const when = new Date().toISOString()
    await c.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        name,
        body: { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: when } } },
      },
      mergePatch,
    )
    return waitFor(`the sync of ${ns}/${name} requested at ${when}`, async () => {
      const o = await getObj(c.custom, PLURAL, ns, name)
      if (o.status?.lastHandledRequestAt !== when) return undefined
      return !ready || condition(o, 'Ready')?.status === 'True' ? o : undefined
    })
  }

  const googleSpec = (env: Awaited<ReturnType<typeof googleEnv>>, extra: Record<string, unknown> = {}) => ({
    source: { googleCalendar: { calendarId: env.src } },
    targets: [{ calendarId: env.internal }, { calendarId: env.public, visibility: 'public' }],
    credentialsSecretRef: { name: 'google' },
    endpoints: { googleCalendar: sandbox.url },
    ...extra,
  })

  /** The copies a resource made in a calendar (straight from the sandbox's state). */
  const copies = (calendarId: string, owner: string) =>
    (sandbox.googleCalendar.events(calendarId) as GoogleEvent[]).filter(
      (e) => e.extendedProperties?.private?.switchboardOwner === owner,
    )
  const titles = (events: GoogleEvent[]) => events.map((e) => e.summary).sort()
  const writesTo = (calendarId: string) =>
    sandbox.googleCalendar.requests.filter(
      (r) =>
        r.method !== 'GET' &&
        r.path.includes(`/calendars/${encodeURIComponent(calendarId)}/events`) &&
        !r.path.endsWith('/watch'),
    ).length
  const targetStatus = (obj: Obj, calendarId: string) =>
    (obj.status?.targets as Array<Record<string, unknown>> | undefined)?.find(
      (t) => t.calendarId === calendarId,
    )

  it('targets follow creates, changes and deletes within one sync; public targets get no private fields', async () => {
    const env = await googleEnv('cal-sync')
    const g = sandbox.googleCalendar
    const gig = g.insertByHand(env.src, {
      summary: 'The Band',
      description: 'Doors 19:00 #live-music. Guest list: ask Sam on 07700 900123',
      location: 'Main room',
      start: { dateTime: at(24) },
      end: { dateTime: at(27) },
      attendees: [{ email: 'sam@example.com' }],
    })
    const staff = g.insertByHand(env.src, {
      summary: 'Staff meeting',
      visibility: 'private',
      start: { dateTime: at(30) },
      end: { dateTime: at(31) },
    })
    await create(env.ns, 'venue', googleSpec(env))
    const first = await waitForCondition(c, PLURAL, env.ns, 'venue', 'Ready', 'True', undefined, 30_000)
    const owner = `${env.ns}/venue`
    expect(titles(copies(env.internal, owner))).toEqual(['Staff meeting', 'The Band'])
    expect(titles(copies(env.public, owner))).toEqual(['The Band'])
    expect(condition(first, 'SourceReady')?.status).toBe('True')
    expect(condition(first, 'TargetsSynced')?.status).toBe('True')
    expect(first.status?.source).toMatchObject({ kind: 'googleCalendar', events: 2, syncTokenState: 'Valid' })
    expect(targetStatus(first, env.internal)).toMatchObject({ events: 2, totalCreated: 2 })
    expect(targetStatus(first, env.public)).toMatchObject({ events: 1, totalCreated: 1 })
    const internalGig = copies(env.internal, owner).find((e) => e.summary === 'The Band')
    expect(internalGig?.description).toContain('Guest list')

    // change one event, delete another, add a third: one sync, incremental
    g.patchByHand(env.src, gig.id, { summary: 'The Band (sold out)' })
    g.deleteByHand(env.src, staff.id)
    g.insertByHand(env.src, {
      summary: 'DJ night',
      description: '#dj-set',
      start: { dateTime: at(48) },
      end: { dateTime: at(52) },
    })
    const second = await requestSync(env.ns, 'venue')
    expect(second.status?.source).toMatchObject({ lastSyncMode: 'Incremental', changes: 3, events: 2 })
    expect(titles(copies(env.internal, owner))).toEqual(['DJ night', 'The Band (sold out)'])
    expect(titles(copies(env.public, owner))).toEqual(['DJ night', 'The Band (sold out)'])
    expect(targetStatus(second, env.internal)).toMatchObject({
      events: 2,
      created: 1,
      updated: 1,
      deleted: 1,
      totalCreated: 3,
      totalUpdated: 1,
      totalDeleted: 1,
    })
    expect(targetStatus(second, env.public)).toMatchObject({ events: 2, created: 1, updated: 1, deleted: 0 })

    // the public calendar never held anything private
    for (const e of g.events(env.public) as GoogleEvent[]) {
      expect(e.description ?? '').toBe('')
      expect(e.attendees ?? []).toEqual([])
      // What the event shows (not its generated ids and etag, which may contain any digits).
      const {
        etag: _etag,
        id: _id,
        htmlLink: _link,
        iCalUID: _uid,
        ...shown
      } = e as GoogleEvent & Record<string, unknown>
      expect(JSON.stringify(shown)).not.toMatch(/Guest list|07700|sam@example\.com|Staff meeting/)
    }

    // nothing changed: no write at all
    const before = writesTo(env.internal) + writesTo(env.public)
    const third = await requestSync(env.ns, 'venue')
    expect(writesTo(env.internal) + writesTo(env.public)).toBe(before)
    expect(targetStatus(third, env.internal)).toMatchObject({ created: 0, updated: 0, deleted: 0, events: 2 })
    expect(third.status?.drift).toMatchObject({ count: 0 })
  })

  it('an expired sync token (410) leads to a full read and no duplicates', async () => {
    const env = await googleEnv('cal-410')
    const g = sandbox.googleCalendar
    for (const h of [24, 48, 72]) {
      g.insertByHand(env.src, {
        summary: `Night ${h}`,
        start: { dateTime: at(h) },
        end: { dateTime: at(h + 2) },
      })
    }
    await create(env.ns, 'venue', googleSpec(env))
    await waitForCondition(c, PLURAL, env.ns, 'venue', 'Ready', 'True', undefined, 30_000)
    const owner = `${env.ns}/venue`
    g.expireSyncTokens(env.src)
    const extra = g.insertByHand(env.src, {
      summary: 'Night extra',
      start: { dateTime: at(96) },
      end: { dateTime: at(98) },
    })
    const obj = await requestSync(env.ns, 'venue')
    expect(obj.status?.source).toMatchObject({
      syncTokenState: 'Expired',
      lastSyncMode: 'Full',
      fullSyncs: 2,
    })
    for (const cal of [env.internal, env.public]) {
      const list = copies(cal, owner)
      expect(list).toHaveLength(4)
      const sources = list.map((e) => e.extendedProperties?.private?.switchboardSource)
      expect(new Set(sources).size).toBe(4)
      expect(sources).toContain(extra.id)
    }
    expect((await eventsFor(c.core, env.ns, 'venue')).some((e) => e.reason === 'SyncTokenExpired')).toBe(true)
    // and incremental again afterwards
    const next = await requestSync(env.ns, 'venue')
    expect(next.status?.source).toMatchObject({ syncTokenState: 'Valid', lastSyncMode: 'Incremental' })
  })

  it('hand edits in a target are restored (Full) or only reported (Observe); events made by hand are never touched', async () => {
    const env = await googleEnv('cal-drift')
    const g = sandbox.googleCalendar
    g.insertByHand(env.src, {
      summary: 'Tribute night',
      start: { dateTime: at(24) },
      end: { dateTime: at(27) },
    })
    const mine = g.insertByHand(env.internal, {
      summary: 'Birthday (made by hand)',
      start: { dateTime: at(25) },
      end: { dateTime: at(26) },
    })
    await create(env.ns, 'venue', googleSpec(env))
    await waitForCondition(c, PLURAL, env.ns, 'venue', 'Ready', 'True', undefined, 30_000)
    const owner = `${env.ns}/venue`
    const [copy] = copies(env.internal, owner)
    expect(copy).toBeDefined()

    // Full: the edit is reported and undone
    g.patchByHand(env.internal, copy?.id as string, {
      summary: 'Tribute night (edited)',
      location: 'Backroom',
    })
    const fixed = await requestSync(env.ns, 'venue')
    expect(g.event(env.internal, copy?.id as string)).toMatchObject({
      summary: 'Tribute night',
      location: '',
    })
    expect(fixed.status?.drift).toMatchObject({ count: 1, corrected: true, totalCorrected: 1 })
    expect(st(fixed).drift?.events).toEqual([
      {
        calendarId: env.internal,
        sourceEventId: copy?.extendedProperties?.private?.switchboardSource,
        eventId: copy?.id,
        kind: 'EditedInTarget',
        fields: ['summary', 'location'],
      },
    ])
    expect(targetStatus(fixed, env.internal)).toMatchObject({ updated: 1, drift: 1 })
    expect((await eventsFor(c.core, env.ns, 'venue')).some((e) => e.reason === 'DriftDetected')).toBe(true)

    // Observe: reported, not written
    await patchSpec(env.ns, 'venue', { managementPolicy: 'Observe' })
    await waitForCondition(c, PLURAL, env.ns, 'venue', 'Ready', 'True', 'Observed', 30_000)
    g.patchByHand(env.internal, copy?.id as string, { summary: 'Tribute night (edited again)' })
    const writes = writesTo(env.internal) + writesTo(env.public)
    const observed = await requestSync(env.ns, 'venue')
    expect(g.event(env.internal, copy?.id as string)?.summary).toBe('Tribute night (edited again)')
    expect(writesTo(env.internal) + writesTo(env.public)).toBe(writes)
    expect(observed.status?.drift).toMatchObject({ count: 1, corrected: false })
    expect(st(observed).drift?.events[0]?.kind).toBe('EditedInTarget')
    expect(condition(observed, 'TargetsSynced')).toMatchObject({ status: 'False', reason: 'DriftObserved' })
    expect(condition(observed, 'Ready')).toMatchObject({ status: 'True', reason: 'Observed' })

    // the event made by hand was never changed
    expect(g.event(env.internal, mine.id)).toEqual(mine)
  })

  it('a target that refuses writes is reported; the other target still syncs; fixing it recovers without a spec change', async () => {
    const env = await googleEnv('cal-partial')
    const g = sandbox.googleCalendar
    g.insertByHand(env.src, { summary: 'Quiz night', start: { dateTime: at(24) }, end: { dateTime: at(26) } })
    g.setAccessRole(env.public, 'reader')
    await create(env.ns, 'venue', googleSpec(env))
    const failing = await waitForCondition(
      c,
      PLURAL,
      env.ns,
      'venue',
      'TargetsSynced',
      'False',
      'Unauthorized',
      30_000,
    )
    const owner = `${env.ns}/venue`
    expect(titles(copies(env.internal, owner))).toEqual(['Quiz night'])
    expect(copies(env.public, owner)).toEqual([])
    expect(condition(failing, 'Ready')).toMatchObject({ status: 'False', reason: 'Unauthorized' })
    expect(condition(failing, 'Stalled')).toBeUndefined()
    expect(targetStatus(failing, env.public)?.lastError).toMatchObject({ reason: 'Unauthorized' })
    expect(String(condition(failing, 'TargetsSynced')?.message)).toContain(env.public)

    g.setAccessRole(env.public, 'owner')
    const fixed = await requestSync(env.ns, 'venue')
    expect(titles(copies(env.public, owner))).toEqual(['Quiz night'])
    expect(targetStatus(fixed, env.public)?.lastError).toBeUndefined()
    expect(condition(fixed, 'TargetsSynced')?.status).toBe('True')
  })

  for (const policy of ['Delete', 'Orphan'] as const) {
    it(`deletionPolicy ${policy}: the push channel is stopped; copies ${policy === 'Delete' ? 'removed' : 'left'}`, async () => {
      const env = await googleEnv(`cal-${policy.toLowerCase()}`)
      const g = sandbox.googleCalendar
      g.insertByHand(env.src, { summary: 'Gig', start: { dateTime: at(24) }, end: { dateTime: at(26) } })
      const mine = g.insertByHand(env.internal, {
        summary: 'By hand',
        start: { dateTime: at(30) },
        end: { dateTime: at(31) },
      })
      await create(env.ns, 'venue', googleSpec(env, { deletionPolicy: policy }))
      const ready = await waitForCondition(
        c,
        PLURAL,
        env.ns,
        'venue',
        'WebhookReady',
        'True',
        'ChannelOpen',
        30_000,
      )
      const webhook = ready.status?.webhook as {
        url: string
        path: string
        channels: Array<{ id: string; resourceId: string; expiration: string }>
      }
      expect(webhook.url).toBe(`${PUBLIC_URL}${webhook.path}`)
      expect(webhook.path).toMatch(/^\/hooks\/google\//)
      expect(webhook.channels).toHaveLength(1)
      const channel = g.push.channels().find((ch) => ch.id === webhook.channels[0]?.id)
      expect(channel).toMatchObject({ calendarId: env.src, address: webhook.url, token: env.channelToken })
      expect(Date.parse(webhook.channels[0]?.expiration ?? '')).toBeGreaterThan(Date.now() + 6 * 86_400_000)
      const owner = `${env.ns}/venue`
      expect(copies(env.internal, owner)).toHaveLength(1)

      await c.custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: env.ns,
        plural: PLURAL,
        name: 'venue',
      })
      await waitFor('the CalendarSync to be gone', async () => {
        try {
          await getObj(c.custom, PLURAL, env.ns, 'venue')
          return undefined
        } catch {
          return true
        }
      })
      expect(g.push.channels().some((ch) => ch.id === channel?.id)).toBe(false)
      const left = policy === 'Delete' ? 0 : 1
      expect(copies(env.internal, owner)).toHaveLength(left)
      expect(copies(env.public, owner)).toHaveLength(left)
      expect(g.event(env.internal, mine.id)).toEqual(mine)
    })
  }

  it('a Calendly booking reaches the targets; cancelling it removes it', async () => {
    const env = await googleEnv('cal-calendly')
    await createSecret(c.core, env.ns, 'calendly', {
      personalAccessToken: 'calendly-pat-0123456789',
      webhookSigningKey: 'calendly-signing-key-0123456789',
    })
    const booking = sandbox.calendly.book({
      name: 'Studio session',
      startTime: at(24),
      endTime: at(25),
      invitee: { email: 'guest@example.com', name: 'Guest' },
      notes: 'Bring your own cables',
    })
    await create(env.ns, 'bookings', {
      source: {
        calendly: {
          organization: sandbox.calendly.organizationUri(),
          credentialsSecretRef: { name: 'calendly' },
        },
      },
      targets: [{ calendarId: env.internal }, { calendarId: env.public, visibility: 'public' }],
      credentialsSecretRef: { name: 'google' },
      endpoints: { googleCalendar: sandbox.url, calendly: `${sandbox.url}/calendly` },
    })
    const first = await waitForCondition(c, PLURAL, env.ns, 'bookings', 'Ready', 'True', undefined, 30_000)
    const owner = `${env.ns}/bookings`
    // bookings are private by default: internal targets only
    expect(titles(copies(env.internal, owner))).toEqual(['Studio session'])
    expect(copies(env.internal, owner)[0]?.description).toContain('Bring your own cables')
    expect(copies(env.public, owner)).toEqual([])
    expect(first.status?.source).toMatchObject({ kind: 'calendly', events: 1, syncTokenState: 'Unsupported' })
    expect(condition(first, 'WebhookReady')).toMatchObject({ status: 'True', reason: 'Published' })
    expect(st(first).webhook?.path).toMatch(/^\/hooks\/calendly\//)

    // a new booking, then the sync the webhook server would ask for
    sandbox.calendly.book({ name: 'Mixing session', startTime: at(48), endTime: at(50) })
    await requestSync(env.ns, 'bookings')
    expect(titles(copies(env.internal, owner))).toEqual(['Mixing session', 'Studio session'])

    sandbox.calendly.cancel(String(booking.event.uri).split('/').pop() as string)
    const after = await requestSync(env.ns, 'bookings')
    expect(titles(copies(env.internal, owner))).toEqual(['Mixing session'])
    expect(targetStatus(after, env.internal)).toMatchObject({ deleted: 1, totalCreated: 2, totalDeleted: 1 })
  })

  it('each new public event is announced exactly once, across restarts; failures are retried and reported; the feed is public only', async () => {
    const ns = await createNamespace(c.core, 'cal-announce')
    const page = sandbox.facebook.createPage('The Venue')
    await createSecret(c.core, ns, 'facebook', { pageAccessToken: page.accessToken })
    const events = [
      {
        id: 'band',
        title: 'The Band',
        start: at(24),
        end: at(27),
        type: 'live-music',
        location: 'Main room',
        link: 'https://example.com/band',
      },
      { id: 'dj', title: 'DJ Night', start: at(48), end: at(53), type: 'dj-set' },
      {
        id: 'staff',
        title: 'Staff party',
        start: at(30),
        end: at(34),
        visibility: 'private',
        description: 'Internal only',
      },
    ]
    await create(ns, 'venue', {
      source: { events },
      announce: {
        facebook: {
          pageId: page.id,
          credentialsSecretRef: { name: 'facebook' },
          templates: [{ type: 'dj-set', text: 'Tonight on the decks: {{title}} ({{date}} {{time}})' }],
          timeZone: 'Europe/London',
        },
      },
      publicFeed: { enabled: true, timeZone: 'Europe/London' },
      endpoints: { facebook: `${sandbox.url}/facebook` },
    })
    const ready = await waitFor(
      'both public events announced',
      async () => {
        const o = await getObj(c.custom, PLURAL, ns, 'venue')
        return condition(o, 'Announced')?.status === 'True' && condition(o, 'Ready')?.status === 'True'
          ? o
          : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(sandbox.facebook.postCount(page.id)).toBe(2)
    const posts = sandbox.facebook.posts(page.id)
    expect(posts.map((p) => p.message?.split('\n')[0]).sort()).toEqual([
      expect.stringMatching(/^Tonight on the decks: DJ Night/),
      '🎸 Live music: The Band',
    ])
    expect(posts.some((p) => p.message?.includes('Staff'))).toBe(false)
    const announcements = ready.status?.announcements as {
      total: number
      announced: Array<{ eventId: string; posts: unknown[] }>
    }
    expect(announcements.total).toBe(2)
    expect(announcements.announced.map((a) => a.eventId).sort()).toEqual(['band', 'dj'])

    // the feed: public events only
    const feed = ready.status?.publicFeed as { events: Array<{ title: string }> }
    expect(feed.events.map((e) => e.title)).toEqual(['The Band', 'DJ Night'])
    expect(JSON.stringify(feed)).not.toMatch(/Staff|Internal only/)

    // another sync posts nothing, and does not even ask Facebook: the status has the record
    const calls = sandbox.facebook.requests.length
    await requestSync(ns, 'venue')
    expect(sandbox.facebook.postCount(page.id)).toBe(2)
    expect(sandbox.facebook.requests.length).toBe(calls)

    // restart: a new operator on the same objects posts nothing again, even with the record lost
    await operator.stop({ timeoutMs: 5_000 })
    await c.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        name: 'venue',
        body: { status: { announcements: { total: 2, pending: 0, announced: [] } } },
      },
      mergePatch,
    )
    await start()
    await requestSync(ns, 'venue')
    expect(sandbox.facebook.postCount(page.id)).toBe(2)
    const rebuilt = await getObj(c.custom, PLURAL, ns, 'venue')
    expect((st(rebuilt).announcements?.announced ?? []).map((a) => a.eventId).sort()).toEqual(['band', 'dj'])

    // a new event while the page is failing: reported, retried, posted once
    sandbox.faults.inject({
      provider: 'facebook',
      status: 503,
      times: 2,
      path: `/facebook/v23.0/${page.id}/feed`,
    })
    await patchSpec(ns, 'venue', {
      source: {
        events: [
          ...events,
          { id: 'tribute', title: 'Tribute Night', start: at(72), end: at(75), type: 'tribute-night' },
        ],
      },
    })
    await waitFor('the failure to be reported', async () =>
      (await eventsFor(c.core, ns, 'venue')).some((e) => e.reason === 'AnnouncementFailed'),
    )
    const done = await waitFor(
      'the third announcement',
      async () => {
        const o = await getObj(c.custom, PLURAL, ns, 'venue')
        return (o.status?.announcements as { total: number } | undefined)?.total === 3 &&
          condition(o, 'Announced')?.status === 'True'
          ? o
          : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(sandbox.facebook.postCount(page.id)).toBe(3)
    expect(st(done).announcements?.lastError).toBeUndefined()

    // the feed documents, served from the object as the webhook server would
    const app = Fastify()
    const clock = new Date(Date.parse(at(24)) + 30 * 60_000) // during The Band
    await app.register(
      calendarPublicRoutes({
        lookup: async (namespace, name) =>
          (await getObj(c.custom, PLURAL, namespace, name)) as unknown as PublicCalendarSync,
        now: () => clock,
      }),
    )
    try {
      const next = await app.inject(`/feeds/${ns}/venue/next.json`)
      expect(next.statusCode).toBe(200)
      expect(next.json().live.map((e: { title: string }) => e.title)).toEqual(['The Band'])
      expect(next.json().next.title).toBe('DJ Night')
      const all = await app.inject(`/feeds/${ns}/venue/events.json?tz=Asia/Tokyo`)
      expect(all.json().events.map((e: { title: string }) => e.title)).toEqual([
        'The Band',
        'DJ Night',
        'Tribute Night',
      ])
      expect(all.body).not.toMatch(/Staff|Internal only/)
      const again = await app.inject({
        url: `/feeds/${ns}/venue/events.json?tz=Asia/Tokyo`,
        headers: { 'if-none-match': all.headers.etag as string },
      })
      expect(again.statusCode).toBe(304)
    } finally {
      await app.close()
    }
    expect(logs.text()).not.toContain(page.accessToken)
  })
})
