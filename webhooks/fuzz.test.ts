/**
 * Throws thousands of random and malformed requests at the server (random paths, methods,
 * headers, content types, bodies and sizes, plus signed deliveries with one thing broken):
 * no 5xx, no crash, and the heap does not grow with the number of requests. Seeded: set
 * FUZZ_SEED to replay a run.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { InjectOptions } from 'fastify'
import { describe, expect, it } from 'vitest'
import { PROVIDERS, type ProviderId } from '../controller/api/index.ts'
import {
  calendlyInviteeBody,
  calendlyRequest,
  casinoRequest,
  googleNotification,
  patreonRequest,
  toInject,
  twilioStatusCallback,
  twitchNotification,
  twitchVerification,
  type WebhookRequest,
} from '../test/sandbox/webhooks/index.ts'
import { FUZZ_SEED, prng } from '../test/seeded/index.ts'
import { harness } from '../test/webhooks/index.ts'
import { DedupeStores } from './dedupe.ts'
import { providerPlugins } from './providers/index.ts'

const SEED = FUZZ_SEED

/** A way to call the garbage collector (vitest does not pass --expose-gc). */
function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc
  if (existing) return existing
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

const SECRETS: Record<ProviderId, Record<string, string>> = {
  twilio: { authToken: 'fuzz-twilio' },
  patreon: { webhookSecret: 'fuzz-patreon' },
  calendly: { signingKey: 'fuzz-calendly' },
  twitch: { eventsubSecret: 'fuzz-twitch' },
  facebook: {},
  google: { channelToken: 'fuzz-google' },
  softswiss: { signingSecret: 'fuzz-casino' },
  altenar: { signingSecret: 'fuzz-casino' },
  betsoftware: { signingSecret: 'fuzz-casino' },
  'playtech-pam': { signingSecret: 'fuzz-casino' },
}

const METHODS = ['GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/x-www-form-urlencoded',
  'text/plain',
  'text/xml',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  '',
  ';;;',
  'application/',
  '*/*',
  'APPLICATION/JSON',
  'application/json;;charset',
]
const HEADER_NAMES = [
  'x-twilio-signature',
  'i-twilio-idempotency-token',
  'x-patreon-signature',
  'x-patreon-event',
  'calendly-webhook-signature',
  'twitch-eventsub-message-id',
  'twitch-eventsub-message-timestamp',
  'twitch-eventsub-message-signature',
  'twitch-eventsub-message-type',
  'x-hub-signature-256',
  'x-goog-channel-id',
  'x-goog-channel-token',
  'x-goog-resource-state',
  'x-goog-message-number',
  'x-request-sign',
  'x-delivery-id',
  'x-forwarded-for',
  'x-random',
]

describe('fuzz', () => {
  it('survives random and malformed requests without 5xx or heap growth', async () => {
    const r = prng(SEED)
    // printed on every run, so that a failure in CI can be replayed with FUZZ_SEED
    process.stderr.write(`[fuzz] seed ${SEED} (replay: FUZZ_SEED=${SEED})\n`)
    const h = harness({
      bodyLimit: 256 * 1024,
      rateLimit: { max: 400, timeWindowMs: 1000, cache: 500 },
      dedupe: new DedupeStores({ maxEntries: 300 }),
    })
    // the providers that receive webhooks (Facebook pages do not)
    const targets = PROVIDERS.filter((p) => providerPlugins.has(p)).map((p) => ({
      provider: p,
      ...h.addTarget(p, SECRETS[p], { channelIds: ['chan-1'], suspended: false }),
    }))
    const asciiText = (n: number) => {
      let s = ''
      for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + r.int(0x5f))
      return s
    }
    const headerValue = () =>
      r.pick([
        () => asciiText(r.int(80)),
        () => `sha256=${'0123456789abcdef'.repeat(4)}`,
        () => `t=${Math.floor(Date.now() / 1000)},v1=${'a'.repeat(64)}`,
        () => `t=${asciiText(5)},v1=`,
        () => 'ab'.repeat(r.int(40)),
        () => String(r.int(1e9)),
        () => new Date(Date.now() - r.int(3_600_000)).toISOString(),
        () => r.pick(['notification', 'webhook_callback_verification', 'revocation', 'sync', 'exists']),
        () => String.fromCharCode(0x80 + r.int(0x7f)).repeat(r.int(10)),
        () => 'x'.repeat(8000),
      ])()
    const body = (): Buffer | string | undefined => {
      const roll = r.next()
      if (roll < 0.15) return undefined
      if (roll < 0.55) return Buffer.from(Array.from({ length: r.int(200) }, () => r.int(256)))
      if (roll < 0.75)
        return JSON.stringify({ event: asciiText(10), nested: { a: [1, { b: asciiText(20) }] } })
      if (roll < 0.85) return `a=${asciiText(20)}&b=1&b=2&MessageStatus=sent&MessageSid=${asciiText(5)}`
      if (roll < 0.97) return Buffer.alloc(r.int(64 * 1024), r.int(256))
      return Buffer.alloc(300 * 1024, 0x7b) // over the body limit
    }
    const signed = (t: (typeof targets)[number], n: number): WebhookRequest => {
      const s = SECRETS[t.provider]
      switch (t.provider) {
        case 'twilio':
          return twilioStatusCallback({
            url: t.url,
            authToken: s.authToken ?? '',
            messageSid: `SM${n}`,
            status: 'sent',
          })
        case 'patreon':
          return patreonRequest({
            url: t.url,
            secret: s.webhookSecret ?? '',
            event: 'members:update',
            body: { n },
          })
        case 'calendly':
          return calendlyRequest({
            url: t.url,
            signingKey: s.signingKey ?? '',
            body: calendlyInviteeBody('invitee.created', `u${n}`),
          })
        case 'twitch': {
          const sub = { id: `s${n}`, type: 'stream.online', callback: t.url }
          return r.chance(0.2)
            ? twitchVerification({
                url: t.url,
                secret: s.eventsubSecret ?? '',
                challenge: `c${n}`,
                subscription: sub,
              })
            : twitchNotification({
                url: t.url,
                secret: s.eventsubSecret ?? '',
                subscription: sub,
                event: { broadcaster_user_id: String(n) },
              })
        }
        case 'google':
          return googleNotification({
            url: t.url,
            channelId: 'chan-1',
            token: s.channelToken,
            resourceState: r.pick(['sync', 'exists', 'not_exists']),
            messageNumber: n,
          })
        default:
          return casinoRequest({
            url: t.url,
            secret: s.signingSecret ?? '',
            body: { n },
            deliveryId: `d${n}`,
          })
      }
    }
    const randomPath = () =>
      r.pick([
        () => r.pick(targets).path,
        () => `${r.pick(targets).path}?${asciiText(20).replace(/[#\s]/g, '')}`,
        () => `/hooks/${r.pick(PROVIDERS)}/${asciiText(43).replace(/[^A-Za-z0-9_-]/g, 'x')}`,
        () => `/hooks/${r.pick(PROVIDERS)}/${encodeURIComponent(asciiText(r.int(200)))}`,
        () => `/${encodeURIComponent(asciiText(r.int(30)))}/${'..'.repeat(r.int(4))}`,
        () => `/hooks/${r.pick(PROVIDERS)}/%zz%00%ff`,
        () => `/hooks//${r.pick(PROVIDERS)}`,
        () => r.pick(['/healthz', '/readyz', '/metrics', '/', '/hooks', '/hooks/']),
        () => `/${'a/'.repeat(r.int(300))}`,
      ])()

    const statuses = new Map<number, number>()
    const fire = async (n: number) => {
      let req: InjectOptions
      if (r.chance(0.35)) {
        // a signed delivery, maybe with one thing broken
        const t = r.pick(targets)
        const inj = toInject(signed(t, n))
        const headers: Record<string, string> = { ...inj.headers }
        const mutation = r.int(9)
        if (mutation === 1 && inj.payload) inj.payload = `${inj.payload.slice(0, -1)}!`
        if (mutation === 2) delete headers[r.pick(Object.keys(headers))]
        if (mutation === 3) headers[r.pick(HEADER_NAMES)] = headerValue()
        if (mutation === 4) headers['content-type'] = r.pick(CONTENT_TYPES)
        // a header sent twice (light-my-request sends an array as repeated lines)
        const dup: Record<string, string | string[]> = { ...headers }
        if (mutation === 5) {
          const name = r.pick(Object.keys(headers))
          dup[name] = [headers[name] ?? '', r.chance(0.5) ? (headers[name] ?? '') : headerValue()]
        }
        // header names in upper case: must not change the outcome
        if (mutation === 6) {
          for (const k of Object.keys(dup)) {
            const v = dup[k]
            delete dup[k]
            if (v !== undefined) dup[k.toUpperCase()] = v
          }
        }
        // one character of the path percent-encoded: another path, refused
        let url = inj.url
        if (mutation === 7) {
          const i = 1 + r.int(url.length - 1)
          const ch = url[i] ?? 'a'
          if (ch !== '/' && ch !== '?')
            url = `${url.slice(0, i)}%${ch.charCodeAt(0).toString(16)}${url.slice(i + 1)}`
        }
        req = { ...inj, url, headers: dup }
      } else {
        const headers: Record<string, string> = {}
        for (let i = r.int(6); i > 0; i--) headers[r.pick(HEADER_NAMES)] = headerValue()
        const ct = r.pick(CONTENT_TYPES)
        if (ct) headers['content-type'] = ct
        const b = body()
        if (b !== undefined && r.chance(0.05)) headers['content-length'] = String(r.int(1000))
        req = {
          method: r.pick(METHODS),
          url: randomPath(),
          headers,
          ...(b !== undefined ? { payload: b } : {}),
        }
      }
      const res = await h.app.inject(req)
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode >= 500 && res.statusCode !== 503) {
        throw new Error(
          `seed ${SEED}, request ${n}: ${res.statusCode} ${res.body} for ${req.method} ${req.url}`,
        )
      }
    }

    const gc = gcFunction()
    let n = 0
    for (; n < 1500; n++) await fire(n)
    gc()
    const before = process.memoryUsage().heapUsed
    for (; n < 5000; n++) await fire(n)
    gc()
    const after = process.memoryUsage().heapUsed

    // 503 only for the reasons that mean it (not ready / suspended / no secret), never a crash
    if (process.env.FUZZ_VERBOSE)
      console.log({ seed: SEED, statuses: Object.fromEntries(statuses), before, after })
    expect(statuses.get(500) ?? 0, `seed ${SEED}`).toBe(0)
    expect(await h.count('switchboard_webhook_requests_total', { reason: 'internal' })).toBe(0)
    // a good share of requests got deep into the handlers
    expect(await h.count('switchboard_webhook_requests_total', { result: 'accepted' })).toBeGreaterThan(100)
    expect(await h.count('switchboard_webhook_requests_total', { reason: 'bad_signature' })).toBeGreaterThan(
      50,
    )
    for (const [provider, size] of Object.entries(h.dedupe.sizes()))
      expect(size, provider).toBeLessThanOrEqual(300)
    // 3500 more requests may not leave more than a few MB behind (bounded caches only)
    expect(after - before, `seed ${SEED}: heap grew from ${before} to ${after}`).toBeLessThan(
      12 * 1024 * 1024,
    )
    await h.app.close()
  }, 120_000)
})
