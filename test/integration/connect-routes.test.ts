/**
 * The webhook server's connect routes against a real bridge on a Unix socket, whose connect
 * handler records what it was asked: what reaches the controller, what the browser is shown, and
 * that malformed or oversized input never reaches the controller at all.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../connectors/index.ts'
import type { ConnectHandler } from '../../controller/api/index.ts'
import { buildWebhookBridge, listenWebhookBridge } from '../../controller/index.ts'
import { buildApp, connectPage, connectRoutes, MemoryTargetResolver } from '../../webhooks/index.ts'
import { FUZZ_SEED, prng } from '../seeded/index.ts'

const LINK = 'a'.repeat(43)
const SEED = FUZZ_SEED

describe('connect routes', () => {
  const asked: unknown[] = []
  const handler: ConnectHandler = {
    async open(provider, namespace, name, link) {
      asked.push({ open: { provider, namespace, name, link } })
      return link === LINK
        ? { outcome: 'redirect', location: 'https://www.patreon.com/oauth2/authorize?state=x' }
        : { outcome: 'unknown', status: 404, message: 'no such link <script>' }
    },
    async callback(provider, params) {
      asked.push({ callback: { provider, ...params } })
      return params.code === 'good'
        ? { outcome: 'connected', status: 200, message: 'Switchboard is connected.' }
        : { outcome: 'mismatch', status: 400, message: 'does not belong' }
    },
  }
  const logger = createLogger({ level: 'silent' })
  let dir: string
  let bridge: ReturnType<typeof buildWebhookBridge>
  let app: ReturnType<typeof buildApp>
  let noController: ReturnType<typeof buildApp>
  /** Behind one proxy (X-Forwarded-For), with a small rate limit: 3 a minute, 64 addresses kept. */
  let limited: ReturnType<typeof buildApp>
  /** The same limit, no proxy trusted: the peer's address counts, X-Forwarded-For is ignored. */
  let untrusted: ReturnType<typeof buildApp>
  const LIMIT = { max: 3, timeWindowMs: 60_000, cache: 64 }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-connect-routes-'))
    const socket = join(dir, 'bridge.sock')
    bridge = buildWebhookBridge({
      source: { objects: () => [], secretData: async () => undefined, annotate: async () => {} },
      connect: handler,
      logger,
    })
    await listenWebhookBridge(bridge, socket)
    const resolver = new MemoryTargetResolver([])
    const requester = { request: () => {} } as never
    // the tests below send more than a client's budget from one address
    app = buildApp({
      resolver,
      requester,
      logger,
      publicRoutes: [connectRoutes({ endpoint: socket, logger, rateLimit: false })],
    })
    limited = buildApp({
      resolver,
      requester,
      logger,
      trustProxy: (_address, hop) => hop < 1,
      publicRoutes: [connectRoutes({ endpoint: socket, logger, rateLimit: LIMIT })],
    })
    untrusted = buildApp({
      resolver,
      requester,
      logger,
      publicRoutes: [connectRoutes({ endpoint: socket, logger, rateLimit: LIMIT })],
    })
    noController = buildApp({
      resolver,
      requester,
      logger,
      publicRoutes: [connectRoutes({ endpoint: join(dir, 'nobody.sock'), logger })],
    })
  })
  afterAll(async () => {
    await app?.close()
    await noController?.close()
    await limited?.close()
    await untrusted?.close()
    await bridge?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('redirects an opened link where the controller says, without a referrer or a cache', async () => {
    const res = await app.inject(`/connect/patreon/ns1/members/${LINK}`)
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe('https://www.patreon.com/oauth2/authorize?state=x')
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(asked.at(-1)).toEqual({
      open: { provider: 'patreon', namespace: 'ns1', name: 'members', link: LINK },
    })
  })

  it('shows the controller refusal as a page with its status, the message escaped', async () => {
    const res = await app.inject(`/connect/patreon/ns1/members/${'b'.repeat(43)}`)
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toContain('text/html')
    expect(res.body).toContain('no such link &lt;script&gt;')
    expect(res.body).not.toContain('<script>')
  })

  it('never asks the controller about a malformed link, a provider without OAuth, or a repeated parameter', async () => {
    const before = asked.length
    for (const path of [
      '/connect/patreon/ns1/members/short',
      `/connect/patreon/ns1/members/${'a'.repeat(44)}`,
      `/connect/twilio/ns1/members/${LINK}`,
      `/connect/nope/ns1/members/${LINK}`,
      '/connect/twilio/callback?code=good&state=x',
    ]) {
      const res = await app.inject(path)
      expect(res.statusCode, path).toBe(404)
    }
    for (const path of [
      '/connect/patreon/callback?code=good&code=bad&state=s',
      '/connect/patreon/callback?state=a&state=b&code=good',
      `/connect/patreon/callback?code=${'c'.repeat(2049)}&state=s`,
      `/connect/patreon/callback?code=good&state=${'s'.repeat(513)}`,
    ]) {
      const res = await app.inject(path)
      expect(res.statusCode, path.slice(0, 60)).toBe(400)
    }
    expect(asked.length).toBe(before)
  })

  it('hands code, state and error to the controller and shows its outcome', async () => {
    const ok = await app.inject('/connect/patreon/callback?code=good&state=ns.n.x')
    expect(ok.statusCode).toBe(200)
    expect(ok.body).toContain('data-outcome="connected"')
    expect(asked.at(-1)).toEqual({ callback: { provider: 'patreon', code: 'good', state: 'ns.n.x' } })
    const denied = await app.inject('/connect/patreon/callback?error=access_denied&state=ns.n.x')
    expect(denied.statusCode).toBe(400)
    expect(asked.at(-1)).toEqual({
      callback: { provider: 'patreon', error: 'access_denied', state: 'ns.n.x' },
    })
  })

  it('answers 503 with a page when the controller cannot be reached', async () => {
    const res = await noController.inject(`/connect/patreon/ns1/members/${LINK}`)
    expect(res.statusCode).toBe(503)
    expect(res.body).toContain('data-outcome="unavailable"')
    const cb = await noController.inject('/connect/patreon/callback?code=good&state=s')
    expect(cb.statusCode).toBe(503)
  })

  it('the bridge refuses malformed connect bodies', async () => {
    for (const body of [
      {},
      { provider: 'patreon', namespace: 'n', name: 'm', link: 'x'.repeat(65) },
      { provider: 'patreon', extra: 1 },
    ]) {
      const res = await bridge.inject({ method: 'POST', url: '/v1/connect/open', payload: body })
      expect(res.statusCode).toBe(400)
    }
    const res = await bridge.inject({
      method: 'POST',
      url: '/v1/connect/callback',
      payload: { provider: 'patreon', code: 'c'.repeat(2049) },
    })
    expect(res.statusCode).toBe(400)
  })

  it('random and malformed connect requests: never a 5xx, and only bounded values reach the controller', async () => {
    process.stderr.write(`[connect fuzz] seed ${SEED} (replay: FUZZ_SEED=${SEED})\n`)
    const r = prng(SEED)
    const alphabet = [
      'a',
      'Z',
      '0',
      '-',
      '_',
      '.',
      '%',
      '%00',
      '%2F',
      '%ZZ',
      '&',
      '=',
      '+',
      ' ',
      'é',
      '<',
      '"',
      '/',
      '?',
      '#',
    ]
    const junk = (n: number) => Array.from({ length: r.int(n) }, () => r.pick(alphabet)).join('')
    const keys = ['code', 'state', 'error', 'code[]', 'state[x]', 'CODE', junk(5)]
    const before = asked.length
    const statuses = new Map<number, number>()
    for (let n = 0; n < 400; n++) {
      const query = Array.from(
        { length: r.int(5) },
        () => `${r.pick(keys)}=${junk(r.pick([5, 60, 600, 3000]))}`,
      ).join('&')
      const url =
        r.int(2) === 0
          ? `/connect/${r.pick(['patreon', 'twitch', junk(8)])}/callback?${query}`
          : `/connect/patreon/${junk(10)}/${junk(10)}/${r.pick([LINK, junk(50)])}?${query}`
      const res = await app.inject(url)
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      expect(res.statusCode, `seed ${SEED}, request ${n}: ${url.slice(0, 120)}`).toBeLessThan(500)
    }
    for (const a of asked.slice(before) as Array<Record<string, Record<string, string>>>) {
      const v = a.callback ?? a.open ?? {}
      expect((v.code ?? '').length).toBeLessThanOrEqual(2048)
      expect((v.state ?? '').length).toBeLessThanOrEqual(512)
      expect((v.error ?? '').length).toBeLessThanOrEqual(256)
      if (a.open) expect(v.link).toMatch(/^[A-Za-z0-9_-]{43}$/)
    }
    expect(statuses.size, `seed ${SEED}`).toBeGreaterThan(1)
  })

  /** A request through the proxy (peer 10.0.0.1) for `client`; `forwarded` is what the client wrote itself. */
  const via = (client: string, path = `/connect/patreon/ns1/members/${LINK}`, forwarded?: string) =>
    limited.inject({
      url: path,
      remoteAddress: '10.0.0.1',
      headers: { 'x-forwarded-for': forwarded ? `${forwarded}, ${client}` : client },
    })

  it('a burst over the limit from one client is answered 429 with Retry-After and a page, never reaching the controller; another client gets its page', async () => {
    const before = asked.length
    const burst = []
    for (let n = 0; n < LIMIT.max + 4; n++) burst.push(await via('203.0.113.7'))
    expect(burst.map((r) => r.statusCode)).toEqual([...Array(LIMIT.max).fill(302), ...Array(4).fill(429)])
    // only the requests within the limit were asked of the controller: a 429 spends no link
    expect(asked.length - before).toBe(LIMIT.max)
    for (const res of burst.slice(LIMIT.max)) {
      const seconds = Number(res.headers['retry-after'])
      expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, String(seconds)).toBe(true)
      expect(res.headers['content-type']).toContain('text/html')
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.headers['referrer-policy']).toBe('no-referrer')
      expect(res.headers['x-ratelimit-remaining']).toBeUndefined()
      expect(res.body).toContain('data-outcome="rate_limited"')
      expect(res.body).toContain(`Try the link again in ${seconds} seconds`)
      expect(res.body).toBe(connectPage('rate_limited', res.body.match(/<p>(.*)<\/p>/)?.[1] ?? ''))
    }
    // the callback shares the client's budget; an address the client writes itself changes nothing
    expect((await via('203.0.113.7', '/connect/patreon/callback?code=good&state=s')).statusCode).toBe(429)
    expect((await via('203.0.113.7', undefined, '198.51.100.77')).statusCode).toBe(429)
    // another client behind the same proxy still gets its page, and so does the callback
    expect((await via('203.0.113.8')).statusCode).toBe(302)
    expect((await via('2001:db8:1::5', '/connect/patreon/callback?code=good&state=s')).statusCode).toBe(200)
    expect(asked.length - before).toBe(LIMIT.max + 2)
    // the webhook routes keep their own limit: the connect client's 429 is not theirs
    const hook = await limited.inject({
      url: '/hooks/twilio/unknown-token',
      method: 'POST',
      remoteAddress: '10.0.0.1',
      headers: { 'x-forwarded-for': '203.0.113.7' },
    })
    expect(hook.statusCode).toBe(404)
  })

  it('without a trusted proxy the peer address counts, whatever X-Forwarded-For says', async () => {
    const codes = []
    for (let n = 0; n < LIMIT.max + 1; n++) {
      const res = await untrusted.inject({
        url: `/connect/patreon/ns1/members/${LINK}`,
        remoteAddress: '192.0.2.50',
        headers: { 'x-forwarded-for': `198.51.100.${n}` },
      })
      codes.push(res.statusCode)
    }
    expect(codes).toEqual([...Array(LIMIT.max).fill(302), 429])
    const other = await untrusted.inject({
      url: `/connect/patreon/ns1/members/${LINK}`,
      remoteAddress: '192.0.2.51',
    })
    expect(other.statusCode).toBe(302)
  })

  it('remembers at most `cache` addresses, the least recently seen forgotten first (seeded flood of distinct addresses)', async () => {
    process.stderr.write(`[connect rate-limit flood] seed ${SEED} (replay: FUZZ_SEED=${SEED})\n`)
    const r = prng(SEED)
    const seen = new Set<string>(['203.0.113.7', '203.0.113.8', '2001:db8:1::'])
    const fresh = () => {
      for (;;) {
        // IPv4 in 100.64.0.0/10 and IPv6 of distinct /64s (IPv6 is counted by its /64)
        const a =
          r.int(2) === 0
            ? `100.${64 + r.int(64)}.${r.int(256)}.${r.int(256)}`
            : `2001:db8:${r.int(65536).toString(16)}:${r.int(65536).toString(16)}::${r.int(65536).toString(16)}`
        const key = a.includes(':') ? a.split('::')[0] : a
        if (!seen.has(key as string)) {
          seen.add(key as string)
          return a
        }
      }
    }
    // a client at its limit
    const heavy = fresh()
    for (let n = 0; n < LIMIT.max; n++) await via(heavy)
    expect((await via(heavy)).statusCode).toBe(429)
    // cache - 1 other clients, one request each: the heavy one is still remembered
    for (let n = 0; n < LIMIT.cache - 1; n++) expect((await via(fresh())).statusCode).toBe(302)
    expect((await via(heavy)).statusCode, `seed ${SEED}`).toBe(429)
    // a flood of ten times as many distinct clients, each using its whole budget
    const flood = Array.from({ length: LIMIT.cache * 10 }, fresh)
    for (const a of flood) for (let n = 0; n < LIMIT.max; n++) await via(a)
    // the newest `cache` of them are remembered at their limit (newest first: no eviction)...
    for (const a of flood.slice(-LIMIT.cache).reverse()) {
      expect((await via(a)).statusCode, `seed ${SEED}: ${a}`).toBe(429)
    }
    // ...the heavy client and the older ones were forgotten
    expect((await via(heavy)).statusCode, `seed ${SEED}`).toBe(302)
    for (let n = 0; n < 20; n++) {
      const a = flood[r.int(flood.length - 2 * LIMIT.cache)] as string
      expect((await via(a)).statusCode, `seed ${SEED}: ${a}`).toBe(302)
    }
  })

  it('renders a page with the outcome and nothing of the input unescaped', () => {
    expect(connectPage('connected', 'ok')).toContain('<h1>Connected</h1>')
    expect(connectPage('refused', '"><img src=x>')).toContain('&quot;&gt;&lt;img src=x&gt;')
  })
})
