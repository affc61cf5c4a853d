/**
 * What the Twilio sandbox remembers: accounts (with API keys), every message created (newest
 * first in lists, as Twilio lists them), opted-out numbers, open WhatsApp sessions, numbers whose
 * messages end undelivered, and the status callbacks it sends, signed with the account's Auth
 * Token exactly as Twilio signs them.
 */
import { randomBytes } from 'node:crypto'
import twilio from 'twilio'

export const TWILIO_PROVIDER = 'twilio'
export const TWILIO_API_VERSION = '2010-04-01'

export interface TwilioAccountSpec {
  sid: string
  authToken: string
  status?: 'active' | 'suspended' | 'closed'
  apiKeys?: Array<{ sid: string; secret: string }>
  friendlyName?: string
}

export interface TwilioSandboxOptions {
  accounts?: TwilioAccountSpec[]
  /** Recipients (E.164) who replied STOP: creating a message to them answers 21610. */
  optedOut?: string[]
  /** WhatsApp users with an open 24-hour session (freeform bodies allowed). */
  openSessions?: string[]
  /** Well-formed numbers Twilio still refuses as not a valid phone number (21211). */
  invalidNumbers?: string[]
  /** Recipients whose messages end `undelivered` (30003) instead of `delivered`. */
  unreachable?: string[]
  /** WhatsApp recipients who read their messages (`read` after `delivered`). */
  readers?: string[]
  /** Recipients whose status callbacks are lost (never sent; the message's status still moves on). */
  lostCallbacks?: string[]
  /** Delay between the status callbacks of one message (ms). Default 5. */
  callbackDelayMs?: number
  /** Clock for date_created / date_sent (tests fix it). Default: real time. */
  now?: () => Date
}

export interface StoredMessage {
  sid: string
  accountSid: string
  to: string
  from: string | null
  messagingServiceSid: string | null
  body: string
  contentSid: string | null
  contentVariables: string | null
  mediaUrls: string[]
  status: string
  errorCode: number | null
  dateCreated: Date
  dateSent: Date | null
  dateUpdated: Date
  statusCallback: string | null
  /** Arrival at the sandbox, epoch ms (for rate and window checks). */
  receivedAt: number
}

export interface SentCallback {
  url: string
  params: Record<string, string>
  status: number | 'error'
}

const sidOf = (prefix: string) => `${prefix}${randomBytes(16).toString('hex')}`

export class TwilioSandbox {
  readonly #opts: TwilioSandboxOptions
  accounts = new Map<string, TwilioAccountSpec>()
  /** Every message, in creation order. */
  messages: StoredMessage[] = []
  readonly bySid = new Map<string, StoredMessage>()
  optedOut = new Set<string>()
  openSessions = new Set<string>()
  unreachable = new Set<string>()
  invalidNumbers = new Set<string>()
  readers = new Set<string>()
  lostCallbacks = new Set<string>()
  /** Status callbacks not sent because their recipient is in `lostCallbacks`. */
  lost = 0
  callbacks: SentCallback[] = []
  /** The next n creates are stored, then the connection is dropped (the response is lost). */
  loseResponses = 0
  /** The next n creates are stored, then answered with this 5xx (Twilio accepted them anyway). */
  acceptThenFail: { times: number; status: number } = { times: 0, status: 500 }
  /** When set, called for each stored message before its response goes out (tests kill here). */
  onAccepted: ((m: StoredMessage) => void) | undefined
  readonly #timers = new Set<NodeJS.Timeout>()
  now: () => Date

  constructor(opts: TwilioSandboxOptions = {}) {
    this.#opts = opts
    this.now = opts.now ?? (() => new Date())
    this.reset()
  }

  reset(): void {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.accounts = new Map((this.#opts.accounts ?? []).map((a) => [a.sid, { status: 'active', ...a }]))
    this.messages = []
    this.bySid.clear()
    this.optedOut = new Set(this.#opts.optedOut ?? [])
    this.openSessions = new Set(this.#opts.openSessions ?? [])
    this.unreachable = new Set(this.#opts.unreachable ?? [])
    this.invalidNumbers = new Set(this.#opts.invalidNumbers ?? [])
    this.readers = new Set(this.#opts.readers ?? [])
    this.lostCallbacks = new Set(this.#opts.lostCallbacks ?? [])
    this.lost = 0
    this.callbacks = []
    this.loseResponses = 0
    this.acceptThenFail = { times: 0, status: 500 }
    this.onAccepted = undefined
  }

  addAccount(a: TwilioAccountSpec): void {
    this.accounts.set(a.sid, { status: 'active', ...a })
  }

  /** Basic auth as Twilio checks it: the account's SID and Auth Token, or one of its API keys. */
  authenticates(accountSid: string, user: string, password: string): boolean {
    const a = this.accounts.get(accountSid)
    if (!a) return false
    if (user === a.sid) return password === a.authToken
    return (a.apiKeys ?? []).some((k) => k.sid === user && k.secret === password)
  }

  /** Messages to one address (`+27...` or `whatsapp:+27...`). */
  messagesTo(to: string): StoredMessage[] {
    return this.messages.filter((m) => m.to === to)
  }

  /** How many messages each recipient got. */
  countsByRecipient(): Map<string, number> {
    const out = new Map<string, number>()
    for (const m of this.messages) out.set(m.to, (out.get(m.to) ?? 0) + 1)
    return out
  }

  store(
    m: Omit<StoredMessage, 'sid' | 'dateCreated' | 'dateSent' | 'dateUpdated' | 'receivedAt'>,
  ): StoredMessage {
    const now = this.now()
    const msg: StoredMessage = {
      ...m,
      sid: sidOf('SM'),
      dateCreated: now,
      dateSent: null,
      dateUpdated: now,
      receivedAt: Date.now(),
    }
    this.messages.push(msg)
    this.bySid.set(msg.sid, msg)
    return msg
  }

  /** Moves a message through its statuses and sends a signed callback for each. */
  progress(msg: StoredMessage): void {
    const steps: Array<[string, number | null]> = []
    const address = msg.to.replace(/^whatsapp:/, '')
    const whatsapp = msg.to.startsWith('whatsapp:')
    if (whatsapp && msg.contentSid === null && !this.openSessions.has(address)) {
      steps.push(['failed', 63016])
    } else if (this.unreachable.has(address)) {
      steps.push(['sent', null], ['undelivered', 30003])
    } else {
      steps.push(['sent', null], ['delivered', null])
      if (whatsapp && this.readers.has(address)) steps.push(['read', null])
    }
    const delay = this.#opts.callbackDelayMs ?? 5
    // one message's callbacks go out one after the other, each once the previous was answered
    const next = (i: number) => {
      const step = steps[i]
      if (!step) return
      const t = setTimeout(() => {
        this.#timers.delete(t)
        const [status, code] = step
        msg.status = status
        msg.errorCode = code
        msg.dateUpdated = this.now()
        if (status === 'sent') msg.dateSent = this.now()
        void this.#callback(msg).then(() => next(i + 1))
      }, delay)
      t.unref()
      this.#timers.add(t)
    }
    next(0)
  }

  /** Sends a status callback again (a provider retry: same parameters, same signature). */
  async redeliver(cb: SentCallback): Promise<number | 'error'> {
    return this.#post(cb.url, cb.params, cb.url)
  }

  async #callback(msg: StoredMessage): Promise<void> {
    if (!msg.statusCallback) return
    if (this.lostCallbacks.has(msg.to.replace(/^whatsapp:/, ''))) {
      this.lost++
      return
    }
    const params: Record<string, string> = {
      AccountSid: msg.accountSid,
      ApiVersion: TWILIO_API_VERSION,
      From: msg.from ?? '',
      MessageSid: msg.sid,
      MessageStatus: msg.status,
      SmsSid: msg.sid,
      SmsStatus: msg.status,
      To: msg.to,
    }
    if (msg.errorCode !== null) params.ErrorCode = String(msg.errorCode)
    if (msg.messagingServiceSid) params.MessagingServiceSid = msg.messagingServiceSid
    await this.#post(msg.statusCallback, params, msg.statusCallback)
  }

  async #post(url: string, params: Record<string, string>, signedUrl: string): Promise<number | 'error'> {
    const account = this.accounts.get(params.AccountSid ?? '')
    const signature = twilio.getExpectedTwilioSignature(account?.authToken ?? '', signedUrl, params)
    let status: number | 'error'
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signature,
          'i-twilio-idempotency-token': `${params.MessageSid}-${params.MessageStatus}`,
        },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(5_000),
      })
      await res.arrayBuffer()
      status = res.status
    } catch {
      status = 'error'
    }
    this.callbacks.push({ url, params, status })
    return status
  }

  close(): void {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
  }
}

/** A message resource as Twilio returns it (snake_case, RFC 2822 dates). */
export function messageResource(m: StoredMessage): Record<string, unknown> {
  const uri = `/${TWILIO_API_VERSION}/Accounts/${m.accountSid}/Messages/${m.sid}.json`
  return {
    account_sid: m.accountSid,
    api_version: TWILIO_API_VERSION,
    body: m.body,
    date_created: m.dateCreated.toUTCString().replace('GMT', '+0000'),
    date_sent: m.dateSent ? m.dateSent.toUTCString().replace('GMT', '+0000') : null,
    date_updated: m.dateUpdated.toUTCString().replace('GMT', '+0000'),
    direction: 'outbound-api',
    error_code: m.errorCode,
    error_message: null,
    from: m.from,
    messaging_service_sid: m.messagingServiceSid,
    num_media: String(m.mediaUrls.length),
    num_segments: String(Math.max(1, Math.ceil(m.body.length / 153))),
    price: null,
    price_unit: 'USD',
    sid: m.sid,
    status: m.status,
    subresource_uris: { media: uri.replace('.json', '/Media.json') },
    to: m.to,
    uri,
  }
}
