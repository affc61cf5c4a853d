/**
 * Test support for the webhook server (used by its unit tests and the benchmark; not by the
 * server): an app over in-memory doubles that record what the server asked for, and a contract
 * every provider's plugin is held to.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { expect, it } from 'vitest'
import { createLogger } from '../../connectors/index.ts'
import { newWebhookToken, type ProviderId, webhookPath } from '../../controller/api/index.ts'
import {
  type BuildAppOptions,
  buildApp,
  DedupeStores,
  type EventSink,
  MemoryCallbackSink,
  type MemoryTargetInput,
  MemoryTargetResolver,
  type ReconcileRequester,
  type TargetRef,
  WebhookMetrics,
  type WebhookTarget,
} from '../../webhooks/index.ts'
import { toInject, type WebhookRequest } from '../sandbox/webhooks/index.ts'

/** The public base URL tests pretend providers call. */
export const PUBLIC_URL = 'https://hooks.example.com'

export class RecordingRequester implements ReconcileRequester {
  readonly requests: TargetRef[] = []
  /** The stream each request named (undefined: every stream), in the same order. */
  readonly streams: Array<string | undefined> = []
  request(target: TargetRef, opts: { stream?: string } = {}): void {
    this.requests.push(target)
    this.streams.push(opts.stream)
  }
  names(): string[] {
    return this.requests.map((t) => `${t.namespace}/${t.name}`)
  }
}

export class RecordingEvents implements EventSink {
  readonly events: Array<{ name: string; type: string; reason: string; message: string }> = []
  record(obj: { name: string; namespace: string }, type: string, reason: string, message: string): void {
    this.events.push({ name: `${obj.namespace}/${obj.name}`, type, reason, message })
  }
}

export interface Harness {
  app: FastifyInstance
  resolver: MemoryTargetResolver
  requester: RecordingRequester
  callbacks: MemoryCallbackSink
  events: RecordingEvents
  metrics: WebhookMetrics
  dedupe: DedupeStores
  /** Adds a ready resource for `provider`; returns it with its public URL. */
  addTarget(
    provider: ProviderId,
    secrets: Record<string, string>,
    extra?: Partial<MemoryTargetInput>,
  ): { target: WebhookTarget; url: string; path: string }
  send(req: WebhookRequest): Promise<LightMyRequestResponse>
  /** A counter sample from the metrics registry. */
  count(name: string, labels?: Record<string, string>): Promise<number>
}

let counter = 0

export function harness(opts: Partial<BuildAppOptions> = {}): Harness {
  const resolver = new MemoryTargetResolver()
  const requester = new RecordingRequester()
  const callbacks = new MemoryCallbackSink()
  const events = new RecordingEvents()
  const metrics = new WebhookMetrics({ defaultMetrics: false })
  const dedupe = new DedupeStores()
  const app = buildApp({
    resolver,
    requester,
    callbacks,
    events,
    metrics,
    dedupe,
    publicUrl: PUBLIC_URL,
    logger: createLogger({ level: 'silent' }),
    ...opts,
  })
  return {
    app,
    resolver,
    requester,
    callbacks,
    events,
    metrics,
    dedupe,
    addTarget(provider, secrets, extra = {}) {
      const path = extra.path ?? webhookPath(provider, newWebhookToken())
      counter++
      const target = resolver.set({ name: `r${counter}`, namespace: 'ns', provider, path, secrets, ...extra })
      return { target, url: `${PUBLIC_URL}${path}`, path }
    },
    send: (req) => app.inject(toInject(req)),
    async count(name, labels = {}) {
      const metric = await metrics.registry.getSingleMetric(name)?.get()
      let total = 0
      for (const v of metric?.values ?? []) {
        if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) total += v.value
      }
      return total
    },
  }
}

/** Flips one byte in the middle of the body (keeping it text). */
export function tamperBody(req: WebhookRequest): WebhookRequest {
  const body = req.body ?? ''
  const i = Math.floor(body.length / 2)
  const c = body.charCodeAt(i)
  const flipped = String.fromCharCode(c === 0x61 ? 0x62 : 0x61)
  return { ...req, body: `${body.slice(0, i)}${flipped}${body.slice(i + 1)}` }
}

export interface ProviderContract {
  provider: ProviderId
  /** Secrets the resource has (logical names). */
  secrets: Record<string, string>
  /** The same secrets with the signing one changed. */
  wrongSecrets: Record<string, string>
  /** A valid delivery for `url` signed with `secrets`; `n` makes it a distinct delivery. */
  build(url: string, secrets: Record<string, string>, n: number): WebhookRequest
  /** The signature (or token) header, lower case. */
  signatureHeader: string
  /** Status of an accepted delivery. */
  acceptedStatus: number
  /** Whether an accepted delivery asks for a reconcile (false: it only feeds the callback sink). */
  reconciles: boolean
  /** How to change the signed content by one byte (default: {@link tamperBody}). */
  tamper?(req: WebhookRequest): WebhookRequest
  /** More fields of every resource the contract creates (Google: its channel ids). */
  extra?: Partial<MemoryTargetInput>
  /** A correctly signed delivery whose timestamp is too old (providers that sign one). */
  stale?(url: string, secrets: Record<string, string>): WebhookRequest
}

/** The tests every provider plugin must pass (registered with vitest's `it`). */
export function providerContract(c: ProviderContract): void {
  const accepted = (h: Harness) => h.requester.requests.length + h.callbacks.events.length

  it('accepts a correctly signed delivery and asks for a reconcile of the right resource', async () => {
    const h = harness()
    const other = h.addTarget(c.provider, c.secrets, c.extra)
    const mine = h.addTarget(c.provider, c.secrets, c.extra)
    const res = await h.send(c.build(mine.url, c.secrets, 1))
    expect(res.statusCode, res.body).toBe(c.acceptedStatus)
    if (c.reconciles) expect(h.requester.names()).toEqual([`ns/${mine.target.name}`])
    else expect(h.callbacks.events.map((e) => e.target.name)).toEqual([mine.target.name])
    expect(h.requester.names()).not.toContain(`ns/${other.target.name}`)
    expect(
      await h.count('switchboard_webhook_requests_total', { provider: c.provider, result: 'accepted' }),
    ).toBe(1)
  })

  const rejects: Array<[string, (h: Harness, url: string) => WebhookRequest, number, string]> = [
    ['a wrong signature', (_h, url) => c.build(url, c.wrongSecrets, 2), 401, 'bad_signature'],
    [
      'content changed by one byte',
      (_h, url) => (c.tamper ?? tamperBody)(c.build(url, c.secrets, 3)),
      401,
      'bad_signature',
    ],
    [
      'a missing signature header',
      (_h, url) => {
        const req = c.build(url, c.secrets, 4)
        const headers = { ...req.headers }
        delete headers[c.signatureHeader]
        return { ...req, headers }
      },
      401,
      'missing_signature',
    ],
  ]
  if (c.stale) {
    const stale = c.stale
    rejects.push(['an expired timestamp', (_h, url) => stale(url, c.secrets), 401, 'stale'])
  }
  for (const [what, make, status, reason] of rejects) {
    it(`refuses ${what} with ${status} and changes nothing`, async () => {
      const h = harness()
      const { url, target } = h.addTarget(c.provider, c.secrets, c.extra)
      const bad = make(h, url)
      const res = await h.send(bad)
      expect(res.statusCode, res.body).toBe(status)
      expect(JSON.parse(res.body)).toEqual({ error: reason })
      expect(accepted(h)).toBe(0)
      expect(h.dedupe.size).toBe(0)
      expect(await h.count('switchboard_webhook_requests_total', { provider: c.provider, reason })).toBe(1)
      expect(h.events.events).toEqual([
        expect.objectContaining({ name: `ns/${target.name}`, type: 'Warning', reason: 'WebhookRejected' }),
      ])
      // and a genuine delivery still goes through afterwards
      const good = await h.send(c.build(url, c.secrets, 5))
      expect(good.statusCode, good.body).toBe(c.acceptedStatus)
      expect(accepted(h)).toBe(1)
    })
  }

  it('answers a replayed delivery with the same 2xx and does nothing', async () => {
    const h = harness()
    const { url } = h.addTarget(c.provider, c.secrets, c.extra)
    const req = c.build(url, c.secrets, 6)
    const first = await h.send(req)
    const second = await h.send(req)
    expect(first.statusCode, first.body).toBe(c.acceptedStatus)
    expect(second.statusCode, second.body).toBe(c.acceptedStatus)
    expect(second.body).toBe(first.body)
    expect(accepted(h)).toBe(1)
    expect(await h.count('switchboard_webhook_dedupe_hits_total', { provider: c.provider })).toBe(1)
    expect(
      await h.count('switchboard_webhook_requests_total', { provider: c.provider, result: 'duplicate' }),
    ).toBe(1)
  })

  it('refuses a delivery for an unknown path with 404, and for a suspended or not-ready resource with 503', async () => {
    const h = harness()
    const { url } = h.addTarget(c.provider, c.secrets, c.extra)
    const unknown = url.replace(/[A-Za-z0-9_-]{43}$/, newWebhookToken())
    expect((await h.send(c.build(unknown, c.secrets, 7))).statusCode).toBe(404)
    const suspended = h.addTarget(c.provider, c.secrets, { ...c.extra, suspended: true })
    expect((await h.send(c.build(suspended.url, c.secrets, 8))).statusCode).toBe(503)
    const notReady = h.addTarget(c.provider, c.secrets, { ...c.extra, ready: false })
    expect((await h.send(c.build(notReady.url, c.secrets, 9))).statusCode).toBe(503)
    expect(accepted(h)).toBe(0)
  })

  it('answers 503 when the resource Secret lacks the webhook secret', async () => {
    const h = harness()
    const { url } = h.addTarget(c.provider, {}, c.extra)
    const res = await h.send(c.build(url, c.secrets, 10))
    expect(res.statusCode).toBe(503)
    expect(JSON.parse(res.body)).toEqual({ error: 'secret_unavailable' })
    expect(accepted(h)).toBe(0)
  })
}
