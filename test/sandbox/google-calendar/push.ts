/**
 * Push channels of the Google Calendar sandbox. `events.watch` opens one; the sandbox then POSTs
 * to its address, as Google does: first a `sync` message, then `exists` after every change to
 * the calendar's events. Empty body; headers `X-Goog-Channel-ID`, `X-Goog-Message-Number`
 * (1 for `sync`, then increasing), `X-Goog-Resource-ID`, `X-Goog-Resource-State`,
 * `X-Goog-Resource-URI`, `X-Goog-Channel-Expiration` (RFC 1123) and, when the channel has one,
 * `X-Goog-Channel-Token`. Channels end at their expiration or on `channels.stop`.
 * Deliveries are not retried; each is recorded with the status it got (or the error).
 */
import { BoundedList } from '../recording.ts'

export interface PushChannelsOptions {
  /** Timeout of one delivery. Default 5000 ms. */
  timeoutMs?: number
  /** Delivery records kept. Default 10000. */
  maxNotifications?: number
  /** Longest channel lifetime granted (a longer `expiration` is shortened). Default 30 days. */
  maxTtlMs?: number
  /** Lifetime when the watch request names none. Default 7 days. */
  defaultTtlMs?: number
}

export interface PushChannel {
  id: string
  calendarId: string
  resourceId: string
  resourceUri: string
  address: string
  token?: string
  /** Epoch ms. */
  expiration: number
  /** Number of the last message sent. */
  messageNumber: number
}

export interface PushNotification {
  /** Epoch ms when it was sent. */
  at: number
  channelId: string
  state: string
  messageNumber: number
  /** The receiver's status; 0 while in flight or when the delivery failed (see `error`). */
  status: number
  error?: string
}

export class PushChannels {
  readonly #channels = new Map<string, PushChannel>()
  readonly #log: BoundedList<PushNotification>
  readonly #pending = new Set<Promise<void>>()
  readonly #timeoutMs: number
  readonly #maxTtlMs: number
  readonly #defaultTtlMs: number

  constructor(opts: PushChannelsOptions = {}) {
    this.#timeoutMs = opts.timeoutMs ?? 5000
    this.#log = new BoundedList(opts.maxNotifications ?? 10_000)
    this.#maxTtlMs = opts.maxTtlMs ?? 30 * 86_400_000
    this.#defaultTtlMs = opts.defaultTtlMs ?? 7 * 86_400_000
  }

  has(id: string): boolean {
    return this.#channels.has(id)
  }

  /** Opens a channel and sends its `sync` message. */
  open(spec: Omit<PushChannel, 'messageNumber' | 'expiration'> & { expiration?: number }): PushChannel {
    const now = Date.now()
    const wanted = spec.expiration ?? now + this.#defaultTtlMs
    const channel: PushChannel = {
      ...spec,
      expiration: Math.min(Math.max(wanted, now + 1000), now + this.#maxTtlMs),
      messageNumber: 0,
    }
    this.#channels.set(channel.id, channel)
    this.#send(channel, 'sync')
    return { ...channel }
  }

  /** Ends a channel; false when there is no such channel for the resource. */
  stop(id: string, resourceId: string): boolean {
    const c = this.#channels.get(id)
    if (!c || c.resourceId !== resourceId) return false
    this.#channels.delete(id)
    return true
  }

  /** Tells every live channel of the calendar about a change. */
  changed(calendarId: string, state: 'exists' | 'not_exists'): void {
    const now = Date.now()
    for (const c of this.#channels.values()) {
      if (c.calendarId !== calendarId) continue
      if (c.expiration <= now) {
        this.#channels.delete(c.id)
        continue
      }
      this.#send(c, state)
    }
  }

  /** Live channels. */
  channels(): PushChannel[] {
    const now = Date.now()
    return [...this.#channels.values()].filter((c) => c.expiration > now).map((c) => ({ ...c }))
  }

  /** Deliveries made, oldest first. */
  notifications(channelId?: string): PushNotification[] {
    const all = this.#log.items
    return channelId === undefined ? [...all] : all.filter((n) => n.channelId === channelId)
  }

  /** Resolves when every delivery started so far has finished. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
  }

  reset(): void {
    this.#channels.clear()
    this.#log.clear()
  }

  #send(c: PushChannel, state: string): void {
    c.messageNumber++
    const headers: Record<string, string> = {
      'x-goog-channel-id': c.id,
      'x-goog-message-number': String(c.messageNumber),
      'x-goog-resource-id': c.resourceId,
      'x-goog-resource-state': state,
      'x-goog-resource-uri': c.resourceUri,
      'x-goog-channel-expiration': new Date(c.expiration).toUTCString(),
      'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
    }
    if (c.token !== undefined) headers['x-goog-channel-token'] = c.token
    const record: PushNotification = {
      at: Date.now(),
      channelId: c.id,
      state,
      messageNumber: c.messageNumber,
      status: 0,
    }
    const delivery = fetch(c.address, {
      method: 'POST',
      headers,
      body: '',
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
      .finally(() => {
        this.#pending.delete(delivery)
      })
    this.#log.push(record)
    this.#pending.add(delivery)
  }
}
