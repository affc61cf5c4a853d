/**
 * The provider sandbox's webhook senders: each builds the request a provider would send, signed
 * the way that provider signs it (Twilio with the official SDK's `getExpectedTwilioSignature`,
 * the others with their documented HMAC schemes, computed here with node:crypto and nothing
 * shared with the receiver). Builders are pure; `send` delivers one with fetch.
 */
import { createHmac, randomUUID } from 'node:crypto'
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js'

export interface WebhookRequest {
  method: 'GET' | 'POST'
  /** The full URL the provider calls (the public one: this is what Twilio signs). */
  url: string
  headers: Record<string, string>
  /** The exact bytes that were signed. */
  body?: string
}

type Json = unknown

function bodyText(body: Json): string {
  return typeof body === 'string' ? body : JSON.stringify(body)
}

function hmacHex(algorithm: string, key: string, ...parts: string[]): string {
  const h = createHmac(algorithm, key)
  for (const p of parts) h.update(p, 'utf8')
  return h.digest('hex')
}

// --- Twilio ---------------------------------------------------------------------------------

export type TwilioParams = Record<string, string | string[]>

export interface TwilioRequestOptions {
  url: string
  authToken: string
  params: TwilioParams
  /** `I-Twilio-Idempotency-Token`; default a random one; null leaves the header out. */
  idempotencyToken?: string | null
}

/** A Twilio webhook: a form POST signed over the URL and the sorted parameters. */
export function twilioRequest(opts: TwilioRequestOptions): WebhookRequest {
  const form = new URLSearchParams()
  for (const [k, v] of Object.entries(opts.params)) {
    for (const one of Array.isArray(v) ? v : [v]) form.append(k, one)
  }
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-twilio-signature': getExpectedTwilioSignature(opts.authToken, opts.url, opts.params),
    'user-agent': 'TwilioProxy/1.1',
  }
  const token = opts.idempotencyToken === undefined ? `sb-${randomUUID()}` : opts.idempotencyToken
  if (token !== null) headers['i-twilio-idempotency-token'] = token
  return { method: 'POST', url: opts.url, headers, body: form.toString() }
}

export interface TwilioStatusCallbackOptions {
  url: string
  authToken: string
  messageSid: string
  status: string
  accountSid?: string
  from?: string
  to?: string
  errorCode?: string
  idempotencyToken?: string | null
}

/** A message status callback (`MessageStatus` = queued, sent, delivered, failed, ...). */
export function twilioStatusCallback(opts: TwilioStatusCallbackOptions): WebhookRequest {
  const params: TwilioParams = {
    AccountSid: opts.accountSid ?? 'ACsandbox0000000000000000000000000',
    ApiVersion: '2010-04-01',
    From: opts.from ?? '+15005550006',
    To: opts.to ?? '+15005550009',
    MessageSid: opts.messageSid,
    SmsSid: opts.messageSid,
    MessageStatus: opts.status,
    SmsStatus: opts.status,
  }
  if (opts.errorCode !== undefined) params.ErrorCode = opts.errorCode
  return twilioRequest({
    url: opts.url,
    authToken: opts.authToken,
    params,
    idempotencyToken: opts.idempotencyToken,
  })
}

// --- Patreon --------------------------------------------------------------------------------

export interface PatreonRequestOptions {
  url: string
  secret: string
  /** `members:create`, `members:pledge:update`, ... */
  event: string
  body: Json
}

/** `X-Patreon-Signature`: hex HMAC-MD5 of the body. */
export function patreonRequest(opts: PatreonRequestOptions): WebhookRequest {
  const body = bodyText(opts.body)
  return {
    method: 'POST',
    url: opts.url,
    headers: {
      'content-type': 'application/json',
      'x-patreon-event': opts.event,
      'x-patreon-signature': hmacHex('md5', opts.secret, body),
    },
    body,
  }
}

// --- Calendly -------------------------------------------------------------------------------

export interface CalendlyRequestOptions {
  url: string
  signingKey: string
  body: Json
  /** Unix seconds of the signature; default now. */
  timestampSeconds?: number
}

/** `Calendly-Webhook-Signature: t=<s>,v1=<hex HMAC-SHA256 of "t.body">`. */
export function calendlyRequest(opts: CalendlyRequestOptions): WebhookRequest {
  const body = bodyText(opts.body)
  const t = opts.timestampSeconds ?? Math.floor(Date.now() / 1000)
  return {
    method: 'POST',
    url: opts.url,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'calendly-webhook-signature': `t=${t},v1=${hmacHex('sha256', opts.signingKey, `${t}.`, body)}`,
    },
    body,
  }
}

/** A Calendly `invitee.created` / `invitee.canceled` body. */
export function calendlyInviteeBody(event: 'invitee.created' | 'invitee.canceled', uri: string): Json {
  return {
    event,
    created_at: new Date().toISOString(),
    created_by: 'https://api.calendly.com/users/SANDBOX',
    payload: {
      uri,
      email: 'invitee@example.com',
      name: 'Sandbox Invitee',
      status: event === 'invitee.created' ? 'active' : 'canceled',
      scheduled_event: {
        uri: 'https://api.calendly.com/scheduled_events/SANDBOX',
        name: 'Sandbox meeting',
        start_time: '2030-01-01T10:00:00.000000Z',
        end_time: '2030-01-01T10:30:00.000000Z',
      },
    },
  }
}

// --- Twitch EventSub ------------------------------------------------------------------------

export type TwitchMessageType = 'webhook_callback_verification' | 'notification' | 'revocation'

export interface TwitchRequestOptions {
  url: string
  secret: string
  type: TwitchMessageType
  body: Json
  messageId?: string
  /** RFC 3339 with nanoseconds, as Twitch sends it; default now. */
  timestamp?: string
  subscriptionType?: string
}

/** Twitch's timestamp format: RFC 3339 with nine fractional digits. */
export function twitchTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z')
}

/** An EventSub message: `sha256=` + hex HMAC-SHA256(secret, id + timestamp + body). */
export function twitchRequest(opts: TwitchRequestOptions): WebhookRequest {
  const body = bodyText(opts.body)
  const id = opts.messageId ?? randomUUID()
  const timestamp = opts.timestamp ?? twitchTimestamp()
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'twitch-eventsub-message-id': id,
    'twitch-eventsub-message-retry': '0',
    'twitch-eventsub-message-type': opts.type,
    'twitch-eventsub-message-signature': `sha256=${hmacHex('sha256', opts.secret, id, timestamp, body)}`,
    'twitch-eventsub-message-timestamp': timestamp,
    'twitch-eventsub-subscription-version': '1',
  }
  if (opts.subscriptionType) headers['twitch-eventsub-subscription-type'] = opts.subscriptionType
  return { method: 'POST', url: opts.url, headers, body }
}

export interface TwitchSubscription {
  id: string
  type: string
  version?: string
  status?: string
  condition?: Record<string, string>
  callback: string
}

function subscriptionBody(s: TwitchSubscription, status: string) {
  return {
    id: s.id,
    status: s.status ?? status,
    type: s.type,
    version: s.version ?? '1',
    cost: 1,
    condition: s.condition ?? {},
    transport: { method: 'webhook', callback: s.callback },
    created_at: new Date().toISOString(),
  }
}

export function twitchVerification(opts: {
  url: string
  secret: string
  challenge: string
  subscription: TwitchSubscription
  messageId?: string
  timestamp?: string
}): WebhookRequest {
  return twitchRequest({
    ...opts,
    type: 'webhook_callback_verification',
    subscriptionType: opts.subscription.type,
    body: {
      challenge: opts.challenge,
      subscription: subscriptionBody(opts.subscription, 'webhook_callback_verification_pending'),
    },
  })
}

export function twitchNotification(opts: {
  url: string
  secret: string
  subscription: TwitchSubscription
  event: Record<string, unknown>
  messageId?: string
  timestamp?: string
}): WebhookRequest {
  return twitchRequest({
    ...opts,
    type: 'notification',
    subscriptionType: opts.subscription.type,
    body: { subscription: subscriptionBody(opts.subscription, 'enabled'), event: opts.event },
  })
}

export function twitchRevocation(opts: {
  url: string
  secret: string
  subscription: TwitchSubscription
  reason?: string
  messageId?: string
  timestamp?: string
}): WebhookRequest {
  return twitchRequest({
    ...opts,
    type: 'revocation',
    subscriptionType: opts.subscription.type,
    body: { subscription: subscriptionBody(opts.subscription, opts.reason ?? 'authorization_revoked') },
  })
}

// --- Google Calendar push -------------------------------------------------------------------

export interface GoogleNotificationOptions {
  url: string
  channelId: string
  /** `X-Goog-Channel-Token`, when the channel was opened with one. */
  token?: string
  resourceState: 'sync' | 'exists' | 'not_exists' | string
  messageNumber: number
  resourceId?: string
  resourceUri?: string
  /** RFC 1123 date, as Google sends it. */
  expiration?: string
}

/** An empty-body POST carrying the channel's headers. */
export function googleNotification(opts: GoogleNotificationOptions): WebhookRequest {
  const headers: Record<string, string> = {
    'x-goog-channel-id': opts.channelId,
    'x-goog-message-number': String(opts.messageNumber),
    'x-goog-resource-id': opts.resourceId ?? 'sandbox-resource-id',
    'x-goog-resource-state': opts.resourceState,
    'x-goog-resource-uri':
      opts.resourceUri ?? 'https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json',
    'content-length': '0',
  }
  if (opts.token !== undefined) headers['x-goog-channel-token'] = opts.token
  if (opts.expiration !== undefined) headers['x-goog-channel-expiration'] = opts.expiration
  return { method: 'POST', url: opts.url, headers }
}

// --- Casino platforms -----------------------------------------------------------------------

/**
 * Switchboard's casino webhook contract: a JSON body naming its `stream`, `X-Delivery-Id`,
 * `X-Request-Timestamp` (Unix seconds) and `X-REQUEST-SIGN` = hex HMAC-SHA256 of
 * `<delivery id>.<timestamp>.<body>`, keyed with the resource's webhook secret. An object body
 * without `stream` gets `stream: 'transactions'` (a string body is sent as it is).
 */
export function casinoRequest(opts: {
  url: string
  secret: string
  body: Json
  deliveryId?: string
  /** Default now. */
  timestampSeconds?: number
  stream?: string
}): WebhookRequest {
  const withStream =
    typeof opts.body === 'object' &&
    opts.body !== null &&
    !Array.isArray(opts.body) &&
    !('stream' in opts.body)
      ? { stream: opts.stream ?? 'transactions', ...opts.body }
      : opts.body
  const body = bodyText(withStream)
  const deliveryId = opts.deliveryId ?? randomUUID()
  const timestamp = String(opts.timestampSeconds ?? Math.floor(Date.now() / 1000))
  return {
    method: 'POST',
    url: opts.url,
    headers: {
      'content-type': 'application/json',
      'x-request-sign': hmacHex('sha256', opts.secret, `${deliveryId}.${timestamp}.`, body),
      'x-delivery-id': deliveryId,
      'x-request-timestamp': timestamp,
    },
    body,
  }
}

// --- delivery -------------------------------------------------------------------------------

export interface SendOptions {
  /**
   * Where to actually send it (scheme, host, port), when that differs from the signed URL: the
   * signed URL is the public one, the request goes to a local server or proxy.
   */
  baseUrl?: string
  signal?: AbortSignal
}

/** The URL a request is sent to: its own, or the same path and query on `baseUrl`. */
export function deliveryUrl(req: WebhookRequest, baseUrl?: string): string {
  if (!baseUrl) return req.url
  const u = new URL(req.url)
  return `${baseUrl.replace(/\/+$/, '')}${u.pathname}${u.search}`
}

/** Sends the request with fetch; resolves with the response. */
export async function send(req: WebhookRequest, opts: SendOptions = {}): Promise<Response> {
  const headers = { ...req.headers }
  delete headers['content-length']
  return fetch(deliveryUrl(req, opts.baseUrl), {
    method: req.method,
    headers,
    ...(req.body !== undefined ? { body: req.body } : {}),
    signal: opts.signal,
  })
}

/** The request in Fastify `inject()` form (path and query only). */
export function toInject(req: WebhookRequest): {
  method: 'GET' | 'POST'
  url: string
  headers: Record<string, string>
  payload?: string
} {
  const u = new URL(req.url)
  return {
    method: req.method,
    url: `${u.pathname}${u.search}`,
    headers: req.headers,
    ...(req.body !== undefined ? { payload: req.body } : {}),
  }
}
