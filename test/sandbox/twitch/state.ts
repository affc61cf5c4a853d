/**
 * Twitch as the sandbox emulates it: application clients and their app access tokens, users,
 * live streams, EventSub subscriptions with Twitch's statuses and costs, a points-per-minute rate
 * limit per client, and the EventSub sender: the callback verification a new subscription goes
 * through, and notifications and revocations signed as Twitch signs them (senders.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { AuthorizationCodes, type CodeRequest } from '../oauth/index.ts'
import {
  type TwitchSubscription,
  twitchNotification,
  twitchRevocation,
  twitchTimestamp,
  twitchVerification,
  type WebhookRequest,
} from '../webhooks/index.ts'

export const TWITCH_PROVIDER = 'twitch'
/** Where the plugin is mounted: a client's API and auth base URLs are `<sandbox>/twitch`. */
export const TWITCH_PATH_PREFIX = '/twitch'
/** Values per `login=` / `user_login=` request and subscriptions per page, as Helix allows. */
export const TWITCH_MAX_PER_REQUEST = 100

export interface TwitchClientSpec {
  clientId: string
  clientSecret: string
}

export interface TwitchUserSpec {
  login: string
  id?: string
  displayName?: string
}

export interface TwitchSandboxOptions {
  clients?: TwitchClientSpec[]
  users?: TwitchUserSpec[]
  /** `expires_in` of an app access token. Default 3600 s. */
  tokenTtlSeconds?: number
  /** Helix points per window per client (each request costs 1). Default 800. */
  rateLimitPoints?: number
  /** The rate limit window. Default 60 s. */
  rateLimitWindowMs?: number
  /** `max_total_cost` of a client's subscriptions. Default 10000. */
  maxTotalCost?: number
  /** Answer callback verifications? Default true (false: subscriptions stay pending). */
  verifyCallbacks?: boolean
}

export interface TwitchStream {
  id: string
  userId: string
  title: string
  gameName: string
  gameId: string
  viewerCount: number
  /** RFC 3339, whole seconds, as Helix writes it. */
  startedAt: string
}

export interface StoredSubscription {
  id: string
  clientId: string
  type: string
  version: string
  status: string
  condition: Record<string, string>
  callback: string
  secret: string
  cost: number
  createdAt: string
}

export interface TwitchDelivery {
  messageId: string
  messageType: 'webhook_callback_verification' | 'notification' | 'revocation'
  subscriptionId: string
  subscriptionType: string
  /** HTTP status of the callback's answer (0: unreachable). */
  status: number
  request: WebhookRequest
}

interface TokenEntry {
  clientId: string
  expiresAt: number
}

/** A broadcaster's user token (authorization code flow), and the refresh token that renews it. */
interface UserGrant {
  clientId: string
  userId: string
  login: string
  scopes: string[]
}

export interface TwitchUserTokens {
  accessToken: string
  refreshToken: string
  expiresIn: number
  scopes: string[]
}

/** Every request to Helix, by operation (the test's way to count them). */
export type HelixOperation =
  | 'token'
  | 'users'
  | 'streams'
  | 'subscriptions.list'
  | 'subscriptions.create'
  | 'subscriptions.delete'

export class TwitchSandbox {
  readonly #opts: TwitchSandboxOptions
  readonly clients = new Map<string, string>()
  /** By lower-case login. */
  readonly users = new Map<string, { id: string; login: string; displayName: string }>()
  /** By user id. */
  readonly streams = new Map<string, TwitchStream>()
  readonly subscriptions = new Map<string, StoredSubscription>()
  readonly #tokens = new Map<string, TokenEntry>()
  /** `<userId>:<scope>` the broadcaster granted the application. */
  readonly authorizations = new Set<string>()
  /** Codes the consent page issued, each for a user. */
  readonly codes = new AuthorizationCodes<{ userId: string; login: string }>()
  readonly #userTokens = new Map<string, UserGrant & { expiresAt: number }>()
  readonly #userRefresh = new Map<string, UserGrant>()
  #consent: { login?: string; refuse: boolean } = { refuse: false }
  /** Token requests refused as `Invalid ...`. */
  invalidGrants = 0
  userRefreshes = 0
  readonly deliveries: TwitchDelivery[] = []
  readonly counts = new Map<HelixOperation, number>()
  /** Values asked for per request (`login` / `user_login`), to check the batching. */
  readonly batchSizes: Record<'users' | 'streams', number[]> = { users: [], streams: [] }
  readonly #windows = new Map<string, { start: number; used: number }>()
  #nextUser = 100_000
  verifyCallbacks: boolean
  /** Answer with `Ratelimit-Remaining: 0` and this reset for the next requests (tests). */
  forcedRateLimit: { remaining: number; resetAt: number } | undefined

  constructor(opts: TwitchSandboxOptions = {}) {
    this.#opts = opts
    this.verifyCallbacks = opts.verifyCallbacks ?? true
    this.reset()
  }

  reset(): void {
    this.clients.clear()
    for (const c of this.#opts.clients ?? []) this.clients.set(c.clientId, c.clientSecret)
    this.users.clear()
    for (const u of this.#opts.users ?? []) this.addUser(u)
    this.streams.clear()
    this.subscriptions.clear()
    this.#tokens.clear()
    this.authorizations.clear()
    this.codes.reset()
    this.#userTokens.clear()
    this.#userRefresh.clear()
    this.#consent = { refuse: false }
    this.invalidGrants = 0
    this.userRefreshes = 0
    this.deliveries.length = 0
    this.counts.clear()
    this.batchSizes.users = []
    this.batchSizes.streams = []
    this.#windows.clear()
    this.verifyCallbacks = this.#opts.verifyCallbacks ?? true
    this.forcedRateLimit = undefined
  }

  count(op: HelixOperation): void {
    this.counts.set(op, (this.counts.get(op) ?? 0) + 1)
  }

  addUser(u: TwitchUserSpec): { id: string; login: string; displayName: string } {
    const login = u.login.toLowerCase()
    const user = { id: u.id ?? String(this.#nextUser++), login, displayName: u.displayName ?? u.login }
    this.users.set(login, user)
    return user
  }

  userByLogin(login: string) {
    const u = this.users.get(login.toLowerCase())
    if (!u) throw new Error(`sandbox: no Twitch user ${login}`)
    return u
  }

  // --- tokens and rate limits ---------------------------------------------------------------

  issueToken(clientId: string): { token: string; expiresIn: number } {
    const expiresIn = this.#opts.tokenTtlSeconds ?? 3600
    const token = randomBytes(15).toString('hex')
    this.#tokens.set(token, { clientId, expiresAt: Date.now() + expiresIn * 1000 })
    return { token, expiresIn }
  }

  /** The client of a valid token, else undefined. */
  tokenClient(token: string): string | undefined {
    const t = this.#tokens.get(token)
    if (!t || t.expiresAt <= Date.now()) return undefined
    return t.clientId
  }

  // --- the authorization code flow (a broadcaster's user token) ------------------------------

  /**
   * Who answers the next consent page: the user `login` (default: the first user), or a refusal
   * (`error=access_denied`). Stays until changed or reset.
   */
  setConsent(consent: { login?: string; refuse?: boolean }): void {
    this.#consent = { ...(consent.login ? { login: consent.login } : {}), refuse: !!consent.refuse }
  }

  /** The consent page's answer: a one-time code bound to client, redirect URI and challenge. */
  consent(req: CodeRequest): { code: string } | { error: 'access_denied' } {
    if (this.#consent.refuse) return { error: 'access_denied' }
    const user = this.#consent.login ? this.userByLogin(this.#consent.login) : [...this.users.values()][0]
    if (!user) return { error: 'access_denied' }
    return { code: this.codes.issue(req, { userId: user.id, login: user.login }) }
  }

  /** Codes the consent page issued, and codes exchanged for tokens. */
  get codesIssued(): number {
    return this.codes.issued
  }
  get codesRedeemed(): number {
    return this.codes.redeemed
  }

  /**
   * `grant_type=authorization_code`: tokens for a code issued to this client and redirect URI,
   * once; the broadcaster's scopes count as granted to the client (what channel.subscribe needs).
   */
  exchangeCode(clientId: string, code: string, redirectUri: string, verifier?: string) {
    const c = this.codes.redeem(clientId, code, redirectUri, verifier)
    if (!c) {
      this.invalidGrants++
      return undefined
    }
    for (const scope of c.scopes) this.authorizations.add(`${c.grant.userId}:${scope}`)
    return this.#userGrant({ clientId, userId: c.grant.userId, login: c.grant.login, scopes: c.scopes })
  }

  /** `grant_type=refresh_token`: a new pair (Twitch may rotate; the sandbox always does). */
  refreshUser(clientId: string, refreshToken: string): TwitchUserTokens | undefined {
    const g = this.#userRefresh.get(refreshToken)
    if (!g || g.clientId !== clientId) {
      this.invalidGrants++
      return undefined
    }
    this.#userRefresh.delete(refreshToken)
    this.userRefreshes++
    return this.#userGrant(g)
  }

  /** `GET /oauth2/validate`: the grant behind a live user token. */
  validateUser(accessToken: string): (UserGrant & { expiresIn: number }) | undefined {
    const t = this.#userTokens.get(accessToken)
    if (!t || t.expiresAt <= Date.now()) return undefined
    return { ...t, expiresIn: Math.floor((t.expiresAt - Date.now()) / 1000) }
  }

  /** The broadcaster disconnected the application: its tokens stop working, its scopes go. */
  revokeUser(login: string): void {
    const user = this.userByLogin(login)
    for (const [k, v] of this.#userTokens) if (v.userId === user.id) this.#userTokens.delete(k)
    for (const [k, v] of this.#userRefresh) if (v.userId === user.id) this.#userRefresh.delete(k)
    for (const a of [...this.authorizations]) if (a.startsWith(`${user.id}:`)) this.authorizations.delete(a)
  }

  /** Every user access token expires now (refresh tokens keep working). */
  expireUserTokens(): void {
    for (const v of this.#userTokens.values()) v.expiresAt = Date.now() - 1
  }

  /** Whether a user refresh token still works (tests check what the Secret holds). */
  userRefreshTokenValid(token: string): boolean {
    return this.#userRefresh.has(token)
  }

  #userGrant(g: UserGrant): TwitchUserTokens {
    const expiresIn = this.#opts.tokenTtlSeconds ?? 3600
    const grant = { clientId: g.clientId, userId: g.userId, login: g.login, scopes: g.scopes }
    const accessToken = randomBytes(15).toString('hex')
    const refreshToken = randomBytes(25).toString('hex')
    this.#userTokens.set(accessToken, { ...grant, expiresAt: Date.now() + expiresIn * 1000 })
    this.#userRefresh.set(refreshToken, grant)
    return { accessToken, refreshToken, expiresIn, scopes: g.scopes }
  }

  /** Every issued token stops working (as an expiry or a revocation would do). */
  expireTokens(): void {
    this.#tokens.clear()
  }

  /** Takes one point from the client's window: the headers to send, and whether it is over. */
  takePoint(clientId: string): { limit: number; remaining: number; reset: number; exceeded: boolean } {
    const limit = this.#opts.rateLimitPoints ?? 800
    const windowMs = this.#opts.rateLimitWindowMs ?? 60_000
    const now = Date.now()
    let w = this.#windows.get(clientId)
    if (!w || now - w.start >= windowMs) {
      w = { start: now, used: 0 }
      this.#windows.set(clientId, w)
    }
    const reset = Math.ceil((w.start + windowMs) / 1000)
    if (this.forcedRateLimit) {
      const f = this.forcedRateLimit
      if (f.resetAt <= now) this.forcedRateLimit = undefined
      else
        return {
          limit,
          remaining: f.remaining,
          reset: Math.ceil(f.resetAt / 1000),
          exceeded: f.remaining < 0,
        }
    }
    if (w.used >= limit) return { limit, remaining: 0, reset, exceeded: true }
    w.used++
    return { limit, remaining: limit - w.used, reset, exceeded: false }
  }

  // --- streams ---------------------------------------------------------------------------------

  /**
   * The channel goes live; its enabled `stream.online` subscriptions are notified (awaited).
   * `startedAt` defaults to now, with nanoseconds in the notification as Twitch writes them.
   */
  async goLive(
    login: string,
    s: { title?: string; gameName?: string; viewerCount?: number; startedAt?: Date; notify?: boolean } = {},
  ): Promise<TwitchDelivery[]> {
    const user = this.userByLogin(login)
    const started = s.startedAt ?? new Date()
    const stream: TwitchStream = {
      id: String(Math.floor(Math.random() * 1e11)),
      userId: user.id,
      title: s.title ?? `${user.displayName} live`,
      gameName: s.gameName ?? 'Just Chatting',
      gameId: '509658',
      viewerCount: s.viewerCount ?? 0,
      startedAt: `${started.toISOString().slice(0, 19)}Z`,
    }
    this.streams.set(user.id, stream)
    if (s.notify === false) return []
    return this.notify('stream.online', user.id, {
      id: stream.id,
      broadcaster_user_id: user.id,
      broadcaster_user_login: user.login,
      broadcaster_user_name: user.displayName,
      type: 'live',
      started_at: twitchTimestamp(started),
    })
  }

  /** The channel goes offline; its enabled `stream.offline` subscriptions are notified. */
  async goOffline(login: string, opts: { notify?: boolean } = {}): Promise<TwitchDelivery[]> {
    const user = this.userByLogin(login)
    this.streams.delete(user.id)
    if (opts.notify === false) return []
    return this.notify('stream.offline', user.id, {
      broadcaster_user_id: user.id,
      broadcaster_user_login: user.login,
      broadcaster_user_name: user.displayName,
    })
  }

  /** Sends one notification of `type` to each enabled subscription for the broadcaster. */
  async notify(type: string, userId: string, event: Record<string, unknown>): Promise<TwitchDelivery[]> {
    const out: TwitchDelivery[] = []
    for (const sub of this.subscriptions.values()) {
      if (sub.type !== type || sub.status !== 'enabled' || sub.condition.broadcaster_user_id !== userId)
        continue
      const request = twitchNotification({
        url: sub.callback,
        secret: sub.secret,
        subscription: view(sub),
        event,
      })
      out.push(await this.#send(sub, 'notification', request))
    }
    return out
  }

  /** Sends a delivery again, byte for byte (a Twitch retry: same message id and timestamp). */
  async redeliver(messageId: string): Promise<TwitchDelivery> {
    const d = this.deliveries.find((x) => x.messageId === messageId)
    if (!d) throw new Error(`sandbox: no delivery ${messageId}`)
    const sub = this.subscriptions.get(d.subscriptionId)
    if (!sub) throw new Error(`sandbox: subscription ${d.subscriptionId} is gone`)
    return this.#send(sub, d.messageType, d.request)
  }

  /** Revokes a subscription with a reason (its status) and tells its callback. */
  async revoke(id: string, reason: string): Promise<TwitchDelivery> {
    const sub = this.subscriptions.get(id)
    if (!sub) throw new Error(`sandbox: no subscription ${id}`)
    sub.status = reason
    const request = twitchRevocation({
      url: sub.callback,
      secret: sub.secret,
      subscription: view(sub),
      reason,
    })
    const d = await this.#send(sub, 'revocation', request)
    // Twitch keeps a revoked subscription listed for a while with its status; it no longer costs
    sub.cost = 0
    return d
  }

  // --- subscriptions ---------------------------------------------------------------------------

  totals(clientId: string): { total: number; totalCost: number; maxTotalCost: number } {
    let total = 0
    let totalCost = 0
    for (const s of this.subscriptions.values()) {
      if (s.clientId !== clientId) continue
      total++
      totalCost += s.cost
    }
    return { total, totalCost, maxTotalCost: this.#opts.maxTotalCost ?? 10_000 }
  }

  /** Creates a subscription and starts its callback verification (not awaited, as at Twitch). */
  create(
    clientId: string,
    input: Omit<StoredSubscription, 'id' | 'clientId' | 'status' | 'cost' | 'createdAt'>,
  ) {
    const sub: StoredSubscription = {
      ...input,
      id: randomUUID(),
      clientId,
      status: 'webhook_callback_verification_pending',
      cost: input.type.startsWith('stream.') ? 1 : 0,
      createdAt: new Date().toISOString(),
    }
    this.subscriptions.set(sub.id, sub)
    setImmediate(() => void this.verify(sub.id))
    return sub
  }

  /** Sends the callback verification; the subscription is enabled when the challenge comes back. */
  async verify(id: string): Promise<void> {
    const sub = this.subscriptions.get(id)
    if (!sub || !this.verifyCallbacks) return
    const challenge = randomBytes(16).toString('base64url')
    const request = twitchVerification({
      url: sub.callback,
      secret: sub.secret,
      challenge,
      subscription: view(sub),
    })
    let body = ''
    let status = 0
    try {
      const res = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body ?? null,
      })
      status = res.status
      body = await res.text()
    } catch {
      status = 0
    }
    this.deliveries.push({
      messageId: request.headers['twitch-eventsub-message-id'] as string,
      messageType: 'webhook_callback_verification',
      subscriptionId: sub.id,
      subscriptionType: sub.type,
      status,
      request,
    })
    if (this.subscriptions.get(id) !== sub) return
    sub.status = status === 200 && body === challenge ? 'enabled' : 'webhook_callback_verification_failed'
  }

  async #send(
    sub: StoredSubscription,
    messageType: TwitchDelivery['messageType'],
    request: WebhookRequest,
  ): Promise<TwitchDelivery> {
    let status = 0
    try {
      const res = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body ?? null,
      })
      status = res.status
      await res.arrayBuffer()
    } catch {
      status = 0
    }
    const d: TwitchDelivery = {
      messageId: request.headers['twitch-eventsub-message-id'] as string,
      messageType,
      subscriptionId: sub.id,
      subscriptionType: sub.type,
      status,
      request,
    }
    this.deliveries.push(d)
    return d
  }
}

/** A stored subscription as the senders describe it. */
function view(s: StoredSubscription): TwitchSubscription {
  return {
    id: s.id,
    type: s.type,
    version: s.version,
    status: s.status,
    condition: s.condition,
    callback: s.callback,
  }
}

/** A subscription as Helix returns it. */
export function subscriptionJson(s: StoredSubscription) {
  return {
    id: s.id,
    status: s.status,
    type: s.type,
    version: s.version,
    condition: s.condition,
    created_at: s.createdAt,
    transport: { method: 'webhook', callback: s.callback },
    cost: s.cost,
  }
}
