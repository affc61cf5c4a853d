/**
 * The Calendly sandbox's state: one user in one organization, its scheduled events and their
 * invitees, and webhook subscriptions it delivers `invitee.created` / `invitee.canceled` to,
 * signed as Calendly signs them (`Calendly-Webhook-Signature: t=,v1=`, HMAC-SHA256 of
 * `${t}.${body}` with the subscription's signing key).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { calendlySignature } from '../../../connectors/calendly/index.ts'
import { AuthorizationCodes, type CodeRequest, UserTokens } from '../oauth/index.ts'
import { BoundedList, type Instrumentation, type RecordedRequest } from '../recording.ts'

export const CALENDLY_PROVIDER = 'calendly'
export const CALENDLY_MAX_COUNT = 100
export const CALENDLY_DEFAULT_COUNT = 20
export const CALENDLY_DEFAULT_BASE_URL = 'https://api.calendly.com'
/** Where the API routes sit in the sandbox: a client's base URL is `<sandbox URL>/calendly`. */
export const CALENDLY_PATH_PREFIX = '/calendly'
/** OAuth access tokens start with this, so that one the sandbox forgot is refused (not taken for a PAT). */
export const OAUTH_TOKEN_PREFIX = 'cly-oauth-'

export interface CalendlySandboxOptions {
  /** Accepted personal access tokens; none configured = any non-empty bearer token. */
  personalAccessTokens?: string[]
  /** OAuth applications. Default one: `sandbox-calendly-client` / `sandbox-calendly-secret`. */
  oauthClients?: { clientId: string; clientSecret: string }[]
  /** Lifetime of OAuth access tokens. Default 7200 s (two hours, as Calendly's). */
  accessTokenTtlSeconds?: number
  /** Base of the resource URIs in webhook payloads made outside a request. Default Calendly's. */
  baseUrl?: string
  /** Webhook subscriptions from the start. */
  webhooks?: WebhookSubscription[]
  /** Timeout of one webhook delivery. Default 5000 ms. */
  deliveryTimeoutMs?: number
}

export interface WebhookSubscription {
  url: string
  signingKey: string
  /** Default both. */
  events?: ('invitee.created' | 'invitee.canceled')[]
}

export interface BookingInput {
  name?: string
  /** ISO 8601. */
  startTime: string
  endTime: string
  invitee?: { email: string; name?: string; timezone?: string }
  /** A physical location, or `{ type: 'zoom', join_url }` and the like. */
  location?: string | { type: string; location?: string; join_url?: string }
  notes?: string
}

export interface WebhookDelivery {
  at: number
  url: string
  event: string
  /** Receiver's status; 0 while in flight or when the delivery failed (see `error`). */
  status: number
  error?: string
  /** The exact body sent. */
  body: string
}

interface StoredEvent {
  uuid: string
  name: string
  notes: string
  status: 'active' | 'canceled'
  startMs: number
  start: string
  end: string
  location: Record<string, string>
  created: string
  updated: string
  cancellation?: { canceled_by: string; reason: string; canceler_type: string; created_at: string }
  invitees: StoredInvitee[]
}

interface StoredInvitee {
  uuid: string
  email: string
  name: string
  timezone: string
  status: 'active' | 'canceled'
  created: string
  updated: string
}

/** Calendly writes times with microseconds. */
export function calendlyTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

export class CalendlySandbox {
  readonly userUuid = randomUUID().toUpperCase()
  readonly organizationUuid = randomUUID().toUpperCase()
  readonly eventTypeUuid = randomUUID().toUpperCase()
  readonly #tokens: Set<string>
  /** OAuth applications: client id → secret. */
  readonly oauthClients = new Map<string, string>()
  /** Codes the consent page issued, each for a user of an organization (its uuid). */
  readonly codes = new AuthorizationCodes<{ organizationUuid: string }>()
  /** Users' OAuth tokens: two-hour access tokens, single-use refresh tokens (rotated). */
  readonly userTokens: UserTokens<{ organizationUuid: string }>
  #consent: { refuse: boolean; organizationUuid?: string } = { refuse: false }
  readonly #events = new Map<string, StoredEvent>()
  readonly #webhooks: WebhookSubscription[] = []
  readonly #deliveries = new BoundedList<WebhookDelivery>(10_000)
  readonly #pending = new Set<Promise<void>>()
  readonly #requests: Instrumentation['requests']
  readonly #timeoutMs: number
  #baseUrl: string

  constructor(opts: CalendlySandboxOptions, requests: Instrumentation['requests']) {
    this.#tokens = new Set(opts.personalAccessTokens ?? [])
    for (const c of opts.oauthClients ?? [
      { clientId: 'sandbox-calendly-client', clientSecret: 'sandbox-calendly-secret' },
    ])
      this.oauthClients.set(c.clientId, c.clientSecret)
    this.userTokens = new UserTokens({
      ttlSeconds: opts.accessTokenTtlSeconds ?? 7200,
      accessPrefix: OAUTH_TOKEN_PREFIX,
    })
    this.#baseUrl = (opts.baseUrl ?? CALENDLY_DEFAULT_BASE_URL).replace(/\/+$/, '')
    this.#timeoutMs = opts.deliveryTimeoutMs ?? 5000
    for (const w of opts.webhooks ?? []) this.addWebhook(w)
    this.#requests = requests
  }

  /** Base of the resource URIs in webhooks (`<sandbox URL>/calendly` once known). */
  get baseUrl(): string {
    return this.#baseUrl
  }

  setBaseUrl(url: string): void {
    this.#baseUrl = url.replace(/\/+$/, '')
  }

  userUri(base = this.#baseUrl): string {
    return `${base}/users/${this.userUuid}`
  }

  organizationUri(base = this.#baseUrl): string {
    return `${base}/organizations/${this.organizationUuid}`
  }

  addToken(token: string): void {
    if (!token) throw new TypeError('token must be non-empty')
    this.#tokens.add(token)
  }

  /**
   * The bearer token of a request: a user's OAuth access token (with its organization and
   * scopes), or a personal access token (all scopes, the sandbox's organization).
   */
  authorize(token: string): { organizationUuid: string; scopes?: string[] } | undefined {
    const user = this.userTokens.lookup(token)
    if (user) return { organizationUuid: user.grant.organizationUuid, scopes: user.scopes }
    if (token.startsWith(OAUTH_TOKEN_PREFIX)) return undefined
    return this.accepts(token) ? { organizationUuid: this.organizationUuid } : undefined
  }

  accepts(token: string): boolean {
    return token.length > 0 && (this.#tokens.size === 0 || this.#tokens.has(token))
  }

  // --- OAuth (auth.calendly.com) --------------------------------------------------------------

  /**
   * Who answers the next consent page: the sandbox's user (of its organization, or of the
   * organization `organizationUuid` names: another account), or a refusal. Stays until changed.
   */
  setConsent(consent: { refuse?: boolean; organizationUuid?: string }): void {
    this.#consent = {
      refuse: !!consent.refuse,
      ...(consent.organizationUuid ? { organizationUuid: consent.organizationUuid } : {}),
    }
  }

  consent(req: CodeRequest): { code: string } | { error: string } {
    if (this.#consent.refuse) return { error: 'access_denied' }
    return {
      code: this.codes.issue(req, {
        organizationUuid: this.#consent.organizationUuid ?? this.organizationUuid,
      }),
    }
  }

  /** The user revoked the application: every OAuth token stops working. */
  revokeGrants(): void {
    this.userTokens.revoke(() => true)
  }

  addWebhook(w: WebhookSubscription): void {
    if (!/^https?:\/\//.test(w.url)) throw new TypeError('webhook url must be http(s)')
    if (!w.signingKey) throw new TypeError('signingKey must be non-empty')
    this.#webhooks.push({ ...w })
  }

  /** A booking: a new scheduled event with one invitee; sends `invitee.created`. */
  book(input: BookingInput) {
    const startMs = Date.parse(input.startTime)
    const endMs = Date.parse(input.endTime)
    if (Number.isNaN(startMs) || Number.isNaN(endMs) || endMs <= startMs) {
      throw new TypeError('booking needs startTime < endTime (ISO 8601)')
    }
    const now = calendlyTime(Date.now())
    const location =
      input.location === undefined
        ? { type: 'physical', location: 'Sandbox Hall' }
        : typeof input.location === 'string'
          ? { type: 'physical', location: input.location }
          : Object.fromEntries(Object.entries(input.location).filter(([, v]) => typeof v === 'string'))
    const ev: StoredEvent = {
      uuid: randomUUID().toUpperCase(),
      name: input.name ?? 'Sandbox meeting',
      notes: input.notes ?? '',
      status: 'active',
      startMs,
      start: calendlyTime(startMs),
      end: calendlyTime(endMs),
      location: location as Record<string, string>,
      created: now,
      updated: now,
      invitees: [],
    }
    this.#events.set(ev.uuid, ev)
    const inv: StoredInvitee = {
      uuid: randomUUID().toUpperCase(),
      email: input.invitee?.email ?? `guest-${randomBytes(3).toString('hex')}@example.com`,
      name: input.invitee?.name ?? 'Sandbox Guest',
      timezone: input.invitee?.timezone ?? 'UTC',
      status: 'active',
      created: now,
      updated: now,
    }
    ev.invitees.push(inv)
    this.#notify('invitee.created', ev, inv)
    return { event: this.eventResource(ev.uuid), invitee: this.#inviteeResource(ev, inv, this.#baseUrl) }
  }

  /** Cancels a scheduled event; sends `invitee.canceled` for each active invitee. */
  cancel(uuid: string, reason = 'Canceled in the sandbox'): void {
    const ev = this.#events.get(uuid)
    if (!ev) throw new TypeError(`no scheduled event ${uuid}`)
    if (ev.status === 'canceled') return
    const now = calendlyTime(Date.now())
    ev.status = 'canceled'
    ev.updated = now
    ev.cancellation = { canceled_by: 'Sandbox Host', reason, canceler_type: 'host', created_at: now }
    for (const inv of ev.invitees) {
      if (inv.status === 'canceled') continue
      inv.status = 'canceled'
      inv.updated = now
      this.#notify('invitee.canceled', ev, inv)
    }
  }

  has(uuid: string): boolean {
    return this.#events.has(uuid)
  }

  /** A scheduled event in the API's shape. */
  eventResource(uuid: string, base = this.#baseUrl): Record<string, unknown> {
    const ev = this.#events.get(uuid)
    if (!ev) throw new TypeError(`no scheduled event ${uuid}`)
    const active = ev.invitees.filter((i) => i.status === 'active').length
    const out: Record<string, unknown> = {
      uri: `${base}/scheduled_events/${ev.uuid}`,
      name: ev.name,
      meeting_notes_plain: ev.notes || null,
      meeting_notes_html: ev.notes ? `<p>${ev.notes.replace(/[<>&]/g, '')}</p>` : null,
      status: ev.status,
      start_time: ev.start,
      end_time: ev.end,
      event_type: `${base}/event_types/${this.eventTypeUuid}`,
      location: ev.location,
      invitees_counter: { total: ev.invitees.length, active, limit: 1 },
      created_at: ev.created,
      updated_at: ev.updated,
      event_memberships: [
        { user: this.userUri(base), user_email: 'host@sandbox.test', user_name: 'Sandbox Host' },
      ],
      event_guests: [],
    }
    if (ev.cancellation) out.cancellation = ev.cancellation
    return out
  }

  /** Events sorted by start (then uuid), filtered as `GET /scheduled_events` filters. */
  listEvents(filter: { minStartMs?: number; maxStartMs?: number; status?: string }): StoredEventKey[] {
    return [...this.#events.values()]
      .filter(
        (e) =>
          (filter.minStartMs === undefined || e.startMs >= filter.minStartMs) &&
          (filter.maxStartMs === undefined || e.startMs < filter.maxStartMs) &&
          (filter.status === undefined || e.status === filter.status),
      )
      .sort((a, b) => a.startMs - b.startMs || (a.uuid < b.uuid ? -1 : 1))
      .map((e) => ({ startMs: e.startMs, uuid: e.uuid }))
  }

  invitees(uuid: string, base = this.#baseUrl, status?: string): Record<string, unknown>[] {
    const ev = this.#events.get(uuid)
    if (!ev) return []
    return ev.invitees
      .filter((i) => status === undefined || i.status === status)
      .map((i) => this.#inviteeResource(ev, i, base))
  }

  /** Webhook deliveries made, oldest first. */
  deliveries(): WebhookDelivery[] {
    return [...this.#deliveries.items]
  }

  /** Resolves when every delivery started so far has finished. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  get requests(): RecordedRequest[] {
    return this.#requests.list(CALENDLY_PROVIDER)
  }

  /** Forgets events and deliveries; keeps tokens and webhook subscriptions. */
  reset(): void {
    this.#events.clear()
    this.#deliveries.clear()
    this.codes.reset()
    this.userTokens.reset()
    this.#consent = { refuse: false }
  }

  #inviteeResource(ev: StoredEvent, i: StoredInvitee, base: string): Record<string, unknown> {
    const eventUri = `${base}/scheduled_events/${ev.uuid}`
    const out: Record<string, unknown> = {
      uri: `${eventUri}/invitees/${i.uuid}`,
      email: i.email,
      name: i.name,
      first_name: null,
      last_name: null,
      status: i.status,
      timezone: i.timezone,
      event: eventUri,
      created_at: i.created,
      updated_at: i.updated,
      questions_and_answers: [],
      tracking: {},
      text_reminder_number: null,
      rescheduled: false,
      old_invitee: null,
      new_invitee: null,
      cancel_url: `https://calendly.com/cancellations/${i.uuid}`,
      reschedule_url: `https://calendly.com/reschedulings/${i.uuid}`,
      no_show: null,
      reconfirmation: null,
      scheduling_method: null,
      invitee_scheduled_by: null,
    }
    if (i.status === 'canceled' && ev.cancellation) out.cancellation = ev.cancellation
    return out
  }

  #notify(event: 'invitee.created' | 'invitee.canceled', ev: StoredEvent, inv: StoredInvitee): void {
    const base = this.#baseUrl
    for (const w of this.#webhooks) {
      if (w.events && !w.events.includes(event)) continue
      const body = JSON.stringify({
        event,
        created_at: calendlyTime(Date.now()),
        created_by: this.userUri(base),
        payload: {
          ...this.#inviteeResource(ev, inv, base),
          scheduled_event: this.eventResource(ev.uuid, base),
        },
      })
      const record: WebhookDelivery = { at: Date.now(), url: w.url, event, status: 0, body }
      this.#deliveries.push(record)
      const delivery = fetch(w.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'calendly-webhook-signature': calendlySignature.sign(w.signingKey, body),
          'user-agent': 'Calendly',
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
        .then(async (res) => {
          record.status = res.status
          await res.arrayBuffer().catch(() => undefined)
        })
        .catch((err: unknown) => {
          record.error = err instanceof Error ? err.message : String(err)
        })
        .finally(() => this.#pending.delete(delivery))
      this.#pending.add(delivery)
    }
  }
}

export interface StoredEventKey {
  startMs: number
  uuid: string
}
