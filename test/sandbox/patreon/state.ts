/**
 * The Patreon sandbox's state: OAuth clients and the creator tokens they issued (refresh tokens
 * rotate: each refresh token works once), campaigns with tiers and members (generated from an
 * index, so 5,000 members cost nothing until read), the webhooks registered through the API, and
 * the deliveries sent to them, signed as Patreon signs them (hex HMAC-MD5 of the raw body).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { AuthorizationCodes, type CodeRequest } from '../oauth/index.ts'
import { BoundedList } from '../recording.ts'

export const PATREON_PROVIDER = 'patreon'
/** Where the routes sit in the sandbox: a connector's endpoint is `<sandbox URL>/patreon`. */
export const PATREON_PATH_PREFIX = '/patreon'
export const PATREON_MAX_COUNT = 1000
export const PATREON_DEFAULT_COUNT = 20

export type PatronStatus = 'active_patron' | 'declined_patron' | 'former_patron' | null

export interface PatreonTierInput {
  id?: string
  title: string
  amountCents: number
}

export interface PatreonCampaignInput {
  id?: string
  name?: string
  tiers?: PatreonTierInput[]
  /** Members generated from their index (statuses and tiers spread over them). Default 0. */
  members?: number
}

export interface PatreonSandboxOptions {
  /** OAuth clients. Default one: `sandbox-client-id` / `sandbox-client-secret`. */
  clients?: { clientId: string; clientSecret: string }[]
  campaigns?: PatreonCampaignInput[]
  /** Lifetime of access tokens. Default 31 days, as Patreon's. */
  accessTokenTtlSeconds?: number
  /** Requests per access token per window before a 429 (Patreon: 100 per minute). Default none. */
  rateLimit?: { requests: number; windowSeconds: number }
  /** Consecutive failed deliveries after which a webhook is paused. Default 3. */
  pauseAfterFailures?: number
  /** Timeout of one webhook delivery. Default 5000 ms. */
  deliveryTimeoutMs?: number
  /** Tokens issued from the start, with known values (the demo's Secret holds them). */
  grants?: { campaignId: string; clientId?: string; accessToken: string; refreshToken: string }[]
}

export interface StoredMember {
  id: string
  userId: string
  fullName: string
  email: string
  patronStatus: PatronStatus
  lastChargeStatus: string | null
  lastChargeDate: string | null
  entitledCents: number
  lifetimeCents: number
  willPayCents: number
  pledgeStart: string | null
  isFollower: boolean
  tierIds: string[]
}

export interface StoredTier {
  id: string
  title: string
  amountCents: number
}

export interface StoredCampaign {
  id: string
  name: string
  tiers: StoredTier[]
  /** Members in listing order (ids sort as they were added). */
  members: StoredMember[]
}

export interface TokenGrant {
  accessToken: string
  refreshToken: string
  expiresIn: number
  scope: string
}

interface AccessToken {
  campaignId: string
  clientId: string
  expiresAt: number
  scopes: Set<string>
  window: { start: number; count: number }
}

interface RefreshToken {
  campaignId: string
  clientId: string
  scopes: Set<string>
}

export type WebhookTrigger =
  | 'members:create'
  | 'members:update'
  | 'members:delete'
  | 'members:pledge:create'
  | 'members:pledge:update'
  | 'members:pledge:delete'

export const WEBHOOK_TRIGGERS: readonly WebhookTrigger[] = [
  'members:create',
  'members:update',
  'members:delete',
  'members:pledge:create',
  'members:pledge:update',
  'members:pledge:delete',
]

export interface StoredWebhook {
  id: string
  campaignId: string
  clientId: string
  uri: string
  triggers: WebhookTrigger[]
  secret: string
  paused: boolean
  lastAttemptedAt: string | null
  failures: number
  /** Deliveries held while paused, sent on resume. */
  queue: { event: WebhookTrigger; body: string }[]
}

export interface PatreonDelivery {
  at: number
  webhookId: string
  uri: string
  event: WebhookTrigger
  /** Receiver's status; 0 when the delivery failed (see `error`). */
  status: number
  error?: string
  body: string
}

const DEFAULT_SCOPES = [
  'identity',
  'campaigns',
  'campaigns.members',
  'campaigns.members[email]',
  'w:campaigns.webhook',
]

function hex(seed: string, n = 8): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, n)
}

/** A Patreon-style member id (a UUID), derived from the campaign and index. */
function memberId(campaignId: string, i: number): string {
  const h = createHash('sha256').update(`${campaignId}/${i}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

function generateMember(campaign: StoredCampaign, i: number): StoredMember {
  // 80% active, 10% declined, 8% former, 2% followers who never pledged
  const r = i % 50
  const patronStatus: PatronStatus =
    r < 40 ? 'active_patron' : r < 45 ? 'declined_patron' : r < 49 ? 'former_patron' : null
  const tier = campaign.tiers.length > 0 ? campaign.tiers[i % campaign.tiers.length] : undefined
  const active = patronStatus === 'active_patron'
  const day = new Date(Date.UTC(2025, 0, 1 + (i % 365))).toISOString().replace('.000Z', '.000+00:00')
  return {
    id: memberId(campaign.id, i),
    userId: String(10_000_000 + i),
    fullName: `Patron ${i}`,
    email: `patron${i}@example.test`,
    patronStatus,
    lastChargeStatus: patronStatus === 'declined_patron' ? 'Declined' : patronStatus === null ? null : 'Paid',
    lastChargeDate: patronStatus === null ? null : day,
    entitledCents: active && tier ? tier.amountCents : 0,
    lifetimeCents: patronStatus === null ? 0 : (tier?.amountCents ?? 100) * (1 + (i % 12)),
    willPayCents: active && tier ? tier.amountCents : 0,
    pledgeStart: patronStatus === null ? null : day,
    isFollower: patronStatus === null,
    tierIds: active && tier ? [tier.id] : [],
  }
}

export class PatreonSandbox {
  readonly #clients = new Map<string, string>()
  readonly #campaigns = new Map<string, StoredCampaign>()
  readonly #access = new Map<string, AccessToken>()
  readonly #refresh = new Map<string, RefreshToken>()
  readonly #webhooks = new Map<string, StoredWebhook>()
  readonly #deliveries = new BoundedList<PatreonDelivery>(10_000)
  readonly #pending = new Set<Promise<void>>()
  readonly #expireAfter = new Map<string, number>()
  readonly #ttlSeconds: number
  readonly #rateLimit: { requests: number; windowSeconds: number } | undefined
  readonly #pauseAfter: number
  readonly #timeoutMs: number
  readonly #initial: PatreonCampaignInput[]
  readonly #grants: NonNullable<PatreonSandboxOptions['grants']>
  /** Token refreshes answered with new tokens. */
  refreshes = 0
  /** Refresh and code requests refused with invalid_grant. */
  invalidGrants = 0
  /** Codes the consent page issued, each for the owner of a campaign. */
  readonly codes = new AuthorizationCodes<string>({ prefix: 'pat-code-' })
  /** Codes the consent page issued, and codes exchanged for tokens. */
  get codesIssued(): number {
    return this.codes.issued
  }
  get codesRedeemed(): number {
    return this.codes.redeemed
  }
  #consent: { campaignId?: string; refuse: boolean } = { refuse: false }
  #nextId = 1

  constructor(opts: PatreonSandboxOptions = {}) {
    for (const c of opts.clients ?? [
      { clientId: 'sandbox-client-id', clientSecret: 'sandbox-client-secret' },
    ]) {
      this.#clients.set(c.clientId, c.clientSecret)
    }
    this.#ttlSeconds = opts.accessTokenTtlSeconds ?? 31 * 24 * 3600
    this.#rateLimit = opts.rateLimit
    this.#pauseAfter = opts.pauseAfterFailures ?? 3
    this.#timeoutMs = opts.deliveryTimeoutMs ?? 5000
    this.#initial = opts.campaigns ?? []
    this.#grants = opts.grants ?? []
    for (const c of this.#initial) this.addCampaign(c)
    this.#issuePresets()
  }

  #issuePresets(): void {
    for (const g of this.#grants) {
      const clientId = g.clientId ?? [...this.#clients.keys()][0] ?? ''
      const scopes = new Set(DEFAULT_SCOPES)
      this.#access.set(g.accessToken, {
        campaignId: g.campaignId,
        clientId,
        scopes,
        expiresAt: Date.now() + this.#ttlSeconds * 1000,
        window: { start: 0, count: 0 },
      })
      this.#refresh.set(g.refreshToken, { campaignId: g.campaignId, clientId, scopes })
    }
  }

  // --- campaigns, tiers, members ------------------------------------------------------------

  addCampaign(input: PatreonCampaignInput): StoredCampaign {
    const id = input.id ?? String(9_000_000 + this.#nextId++)
    const tiers = (input.tiers ?? []).map((t, i) => ({
      id: t.id ?? String(Number(id) * 10 + i + 1),
      title: t.title,
      amountCents: t.amountCents,
    }))
    const campaign: StoredCampaign = { id, name: input.name ?? `Campaign ${id}`, tiers, members: [] }
    for (let i = 0; i < (input.members ?? 0); i++) campaign.members.push(generateMember(campaign, i))
    this.#campaigns.set(id, campaign)
    return campaign
  }

  campaign(id: string): StoredCampaign {
    const c = this.#campaigns.get(id)
    if (!c) throw new Error(`no campaign ${id}`)
    return c
  }

  campaigns(): StoredCampaign[] {
    return [...this.#campaigns.values()]
  }

  findCampaign(id: string): StoredCampaign | undefined {
    return this.#campaigns.get(id)
  }

  member(campaignId: string, memberId: string): StoredMember {
    const m = this.campaign(campaignId).members.find((x) => x.id === memberId)
    if (!m) throw new Error(`no member ${memberId}`)
    return m
  }

  /** Counts by patron_status, as a sync should find them. */
  counts(campaignId: string): Record<'active_patron' | 'declined_patron' | 'former_patron' | 'none', number> {
    const out = { active_patron: 0, declined_patron: 0, former_patron: 0, none: 0 }
    for (const m of this.campaign(campaignId).members) out[m.patronStatus ?? 'none']++
    return out
  }

  /** Patrons per tier (active patrons entitled to it). */
  tierPatronCount(campaignId: string, tierId: string): number {
    return this.campaign(campaignId).members.filter(
      (m) => m.patronStatus === 'active_patron' && m.tierIds.includes(tierId),
    ).length
  }

  /** A new pledge: a new member, active in `tierId`. Sends members:create and members:pledge:create. */
  pledge(campaignId: string, tierId: string, who: { fullName?: string; email?: string } = {}): StoredMember {
    const c = this.campaign(campaignId)
    const tier = c.tiers.find((t) => t.id === tierId)
    if (!tier) throw new Error(`no tier ${tierId}`)
    const i = c.members.length + 100_000
    const now = new Date().toISOString()
    const m: StoredMember = {
      id: memberId(c.id, i),
      userId: String(20_000_000 + i),
      fullName: who.fullName ?? `New Patron ${i}`,
      email: who.email ?? `new${i}@example.test`,
      patronStatus: 'active_patron',
      lastChargeStatus: 'Paid',
      lastChargeDate: now,
      entitledCents: tier.amountCents,
      lifetimeCents: tier.amountCents,
      willPayCents: tier.amountCents,
      pledgeStart: now,
      isFollower: false,
      tierIds: [tier.id],
    }
    c.members.push(m)
    this.#notify(c, 'members:create', m)
    this.#notify(c, 'members:pledge:create', m)
    return m
  }

  /** A tier change: sends members:pledge:update. */
  changeTier(campaignId: string, memberId: string, tierId: string): StoredMember {
    const c = this.campaign(campaignId)
    const tier = c.tiers.find((t) => t.id === tierId)
    if (!tier) throw new Error(`no tier ${tierId}`)
    const m = this.member(campaignId, memberId)
    m.tierIds = [tier.id]
    m.entitledCents = tier.amountCents
    m.willPayCents = tier.amountCents
    m.patronStatus = 'active_patron'
    this.#notify(c, 'members:pledge:update', m)
    return m
  }

  /** A cancellation: the member stays, as a former patron. Sends members:pledge:delete. */
  cancel(campaignId: string, memberId: string): StoredMember {
    const c = this.campaign(campaignId)
    const m = this.member(campaignId, memberId)
    m.patronStatus = 'former_patron'
    m.tierIds = []
    m.entitledCents = 0
    m.willPayCents = 0
    this.#notify(c, 'members:pledge:delete', m)
    return m
  }

  /** A failed charge: sends members:update. */
  decline(campaignId: string, memberId: string): StoredMember {
    const c = this.campaign(campaignId)
    const m = this.member(campaignId, memberId)
    m.patronStatus = 'declined_patron'
    m.lastChargeStatus = 'Declined'
    m.lastChargeDate = new Date().toISOString()
    this.#notify(c, 'members:update', m)
    return m
  }

  // --- OAuth ----------------------------------------------------------------------------------

  /** Tokens for the owner of `campaignId`, as the authorization-code flow would give them. */
  issueTokens(campaignId: string, opts: { clientId?: string; scopes?: string[] } = {}): TokenGrant {
    this.campaign(campaignId)
    const clientId = opts.clientId ?? [...this.#clients.keys()][0]
    if (!clientId || !this.#clients.has(clientId)) throw new Error('unknown client')
    const scopes = new Set(opts.scopes ?? DEFAULT_SCOPES)
    return this.#grant(campaignId, clientId, scopes)
  }

  #grant(campaignId: string, clientId: string, scopes: Set<string>): TokenGrant {
    const accessToken = `pat-at-${randomBytes(24).toString('base64url')}`
    const refreshToken = `pat-rt-${randomBytes(24).toString('base64url')}`
    this.#access.set(accessToken, {
      campaignId,
      clientId,
      scopes,
      expiresAt: Date.now() + this.#ttlSeconds * 1000,
      window: { start: 0, count: 0 },
    })
    this.#refresh.set(refreshToken, { campaignId, clientId, scopes })
    return { accessToken, refreshToken, expiresIn: this.#ttlSeconds, scope: [...scopes].join(' ') }
  }

  hasClient(clientId: string): boolean {
    return this.#clients.has(clientId)
  }

  checkClient(clientId: string, clientSecret: string): boolean {
    return this.#clients.get(clientId) === clientSecret
  }

  /** The refresh-token grant: a new pair; the refresh token used is spent (rotation). */
  refresh(clientId: string, refreshToken: string): TokenGrant | undefined {
    const r = this.#refresh.get(refreshToken)
    if (!r || r.clientId !== clientId) {
      this.invalidGrants++
      return undefined
    }
    this.#refresh.delete(refreshToken)
    this.refreshes++
    return this.#grant(r.campaignId, r.clientId, r.scopes)
  }

  // --- the authorization-code flow (the consent page and the code grant) ----------------------

  /**
   * Who answers the next consent page: the owner of `campaignId` (default: the first campaign),
   * or a refusal (`error=access_denied`) when `refuse` is set. Stays until changed or reset.
   */
  setConsent(consent: { campaignId?: string; refuse?: boolean }): void {
    this.#consent = {
      ...(consent.campaignId ? { campaignId: consent.campaignId } : {}),
      refuse: !!consent.refuse,
    }
  }

  /**
   * The consent page's answer for a valid authorize request: a one-time code bound to the client,
   * the redirect URI and (RFC 7636, when the request carried one) the code challenge; or the
   * refusal. The caller has checked the client and the redirect URI.
   */
  consent(req: CodeRequest): { code: string } | { error: 'access_denied' } {
    if (this.#consent.refuse) return { error: 'access_denied' }
    const campaignId = this.#consent.campaignId ?? [...this.#campaigns.keys()][0]
    if (!campaignId) return { error: 'access_denied' }
    return { code: this.codes.issue(req, campaignId) }
  }

  /**
   * The authorization-code grant: tokens for a code issued to this client and redirect URI, once.
   * A code given a second time, expired, for another client or redirect URI, or whose PKCE
   * verifier does not hash to its challenge → undefined (`invalid_grant`).
   */
  exchangeCode(
    clientId: string,
    code: string,
    redirectUri: string,
    verifier?: string,
  ): TokenGrant | undefined {
    const c = this.codes.redeem(clientId, code, redirectUri, verifier)
    if (!c) {
      this.invalidGrants++
      return undefined
    }
    return this.#grant(c.grant, clientId, new Set(c.scopes.length > 0 ? c.scopes : DEFAULT_SCOPES))
  }

  /** The creator revoked the app: every token of the campaign stops working. */
  revoke(campaignId: string): void {
    for (const [k, v] of this.#access) if (v.campaignId === campaignId) this.#access.delete(k)
    for (const [k, v] of this.#refresh) if (v.campaignId === campaignId) this.#refresh.delete(k)
  }

  /** Every access token of the campaign expires now (refresh tokens keep working). */
  expireAccessTokens(campaignId: string): void {
    for (const v of this.#access.values()) if (v.campaignId === campaignId) v.expiresAt = Date.now() - 1
  }

  /**
   * Every access token of the campaign expires once `requests` more API requests were answered
   * with one of them: an expiry in the middle of a sync, at a known point.
   */
  expireAccessTokensAfter(campaignId: string, requests: number): void {
    this.#expireAfter.set(campaignId, requests)
  }

  /** Whether a refresh token still works (tests check what the Secret holds). */
  refreshTokenValid(token: string): boolean {
    return this.#refresh.has(token)
  }

  accessTokenValid(token: string): boolean {
    const a = this.#access.get(token)
    return a !== undefined && a.expiresAt > Date.now()
  }

  /**
   * The access token of a request: `undefined` when unknown or expired (401), `'throttled'` with
   * the seconds to wait when over the rate limit (429).
   */
  authorize(token: string): { token: AccessToken } | { throttled: number } | undefined {
    const a = this.#access.get(token)
    if (!a || a.expiresAt <= Date.now()) return undefined
    const left = this.#expireAfter.get(a.campaignId)
    if (left !== undefined) {
      if (left <= 1) {
        this.#expireAfter.delete(a.campaignId)
        // this request is still answered; the next one with any of these tokens is not
        for (const v of this.#access.values()) if (v.campaignId === a.campaignId) v.expiresAt = Date.now() - 1
        a.expiresAt = Date.now() - 1
      } else this.#expireAfter.set(a.campaignId, left - 1)
    }
    const limit = this.#rateLimit
    if (limit) {
      const now = Date.now()
      if (now - a.window.start >= limit.windowSeconds * 1000) a.window = { start: now, count: 0 }
      a.window.count++
      if (a.window.count > limit.requests) {
        return {
          throttled: Math.max(1, Math.ceil((a.window.start + limit.windowSeconds * 1000 - now) / 1000)),
        }
      }
    }
    return { token: a }
  }

  // --- webhooks -------------------------------------------------------------------------------

  createWebhook(input: {
    campaignId: string
    clientId: string
    uri: string
    triggers: WebhookTrigger[]
  }): StoredWebhook {
    const w: StoredWebhook = {
      id: String(500_000 + this.#nextId++),
      campaignId: input.campaignId,
      clientId: input.clientId,
      uri: input.uri,
      triggers: [...new Set(input.triggers)],
      secret: randomBytes(32).toString('base64url'),
      paused: false,
      lastAttemptedAt: null,
      failures: 0,
      queue: [],
    }
    this.#webhooks.set(w.id, w)
    return w
  }

  webhooks(clientId?: string): StoredWebhook[] {
    return [...this.#webhooks.values()].filter((w) => clientId === undefined || w.clientId === clientId)
  }

  webhook(id: string): StoredWebhook | undefined {
    return this.#webhooks.get(id)
  }

  deleteWebhook(id: string): boolean {
    return this.#webhooks.delete(id)
  }

  /** Pauses a webhook as Patreon does after failures (tests use it directly too). */
  pauseWebhook(id: string): void {
    const w = this.#webhooks.get(id)
    if (w) w.paused = true
  }

  /** Resumes a paused webhook and sends what was queued meanwhile. */
  resumeWebhook(id: string): void {
    const w = this.#webhooks.get(id)
    if (!w?.paused) return
    w.paused = false
    w.failures = 0
    const queued = w.queue.splice(0)
    for (const q of queued) this.#send(w, q.event, q.body)
  }

  get deliveries(): readonly PatreonDelivery[] {
    return this.#deliveries.items
  }

  /** Waits for the webhook deliveries in flight. */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  memberDocument(c: StoredCampaign, m: StoredMember): Record<string, unknown> {
    return {
      data: {
        type: 'member',
        id: m.id,
        attributes: {
          full_name: m.fullName,
          email: m.email,
          patron_status: m.patronStatus,
          last_charge_status: m.lastChargeStatus,
          last_charge_date: m.lastChargeDate,
          currently_entitled_amount_cents: m.entitledCents,
          lifetime_support_cents: m.lifetimeCents,
          will_pay_amount_cents: m.willPayCents,
          pledge_relationship_start: m.pledgeStart,
          is_follower: m.isFollower,
        },
        relationships: {
          campaign: { data: { type: 'campaign', id: c.id } },
          currently_entitled_tiers: { data: m.tierIds.map((id) => ({ type: 'tier', id })) },
          user: { data: { type: 'user', id: m.userId } },
        },
      },
      included: [{ type: 'campaign', id: c.id, attributes: { creation_name: c.name } }],
    }
  }

  #notify(c: StoredCampaign, event: WebhookTrigger, m: StoredMember): void {
    const body = JSON.stringify(this.memberDocument(c, m))
    for (const w of this.#webhooks.values()) {
      if (w.campaignId !== c.id || !w.triggers.includes(event)) continue
      if (w.paused) w.queue.push({ event, body })
      else this.#send(w, event, body)
    }
  }

  #send(w: StoredWebhook, event: WebhookTrigger, body: string): void {
    const delivery: PatreonDelivery = { at: Date.now(), webhookId: w.id, uri: w.uri, event, status: 0, body }
    this.#deliveries.push(delivery)
    w.lastAttemptedAt = new Date().toISOString()
    const p = (async () => {
      try {
        const res = await fetch(w.uri, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-patreon-event': event,
            'x-patreon-signature': createHmac('md5', w.secret).update(body).digest('hex'),
          },
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        })
        await res.arrayBuffer()
        delivery.status = res.status
        if (!res.ok) throw new Error(`answered ${res.status}`)
        w.failures = 0
      } catch (err) {
        delivery.error = err instanceof Error ? err.message : String(err)
        w.failures++
        // Patreon pauses a webhook after repeated failures; what follows is queued until resumed
        if (w.failures >= this.#pauseAfter) w.paused = true
      }
    })()
    this.#pending.add(p)
    void p.finally(() => this.#pending.delete(p))
  }

  reset(): void {
    this.#access.clear()
    this.#refresh.clear()
    this.#webhooks.clear()
    this.#deliveries.clear()
    this.#campaigns.clear()
    this.#expireAfter.clear()
    this.codes.reset()
    this.#consent = { refuse: false }
    this.refreshes = 0
    this.invalidGrants = 0
    for (const c of this.#initial) this.addCampaign(c)
    this.#issuePresets()
  }
}

/** A stable pseudo-random hex string (for ids in tests). */
export function sandboxHex(seed: string): string {
  return hex(seed, 16)
}
