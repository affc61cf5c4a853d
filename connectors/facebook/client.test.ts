import { Writable } from 'node:stream'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  FacebookSandbox,
  type FacebookTargetConfig,
  facebookPlugin,
} from '../../test/sandbox/facebook/index.ts'
import { type StandalonePlugin, startStandalone } from '../../test/sandbox/google-calendar/standalone.ts'
import { Reason, StallingError, TransientError, WaitingError } from '../errors.ts'
import { BudgetRegistry } from '../http/index.ts'
import { createLogger } from '../log.ts'
import {
  announcementMarker,
  announceOnce,
  createFacebookClient,
  type FacebookClientOptions,
  graphErrorFor,
  hasMarker,
  parseFacebookCredentials,
} from './index.ts'

let sb: FacebookSandbox
let srv: StandalonePlugin
let page: FacebookTargetConfig
let guarded: FacebookTargetConfig
const lines: string[] = []
const logger = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk))
      cb()
    },
  }),
})

function client(target: FacebookTargetConfig = page, extra: Partial<FacebookClientOptions> = {}) {
  const data: Record<string, string> = { pageAccessToken: target.accessToken }
  if (target.appSecret) data.appSecret = target.appSecret
  return createFacebookClient({
    credentials: parseFacebookCredentials(data),
    baseUrl: `${srv.url}/facebook`,
    logger,
    budgets: new BudgetRegistry(),
    retry: { limit: 2, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false },
    ...extra,
  })
}

beforeAll(async () => {
  srv = await startStandalone((inst) => {
    sb = new FacebookSandbox({}, inst.requests)
    return facebookPlugin(sb, inst)
  })
  page = sb.createPage('Club Page')
  guarded = sb.createPage('Guarded Page', { appSecret: true })
})
afterAll(() => srv.close())
beforeEach(() => {
  sb.reset()
  srv.faults.reset()
  srv.requests.clear()
})

describe('Facebook client against the sandbox', () => {
  it('reads the page (health) and posts to its feed', async () => {
    const c = client()
    expect(await c.getPage(page.id)).toEqual({ id: page.id, name: 'Club Page' })
    const { id } = await c.publish(page.id, { message: 'Hello', link: 'https://club.example/events/1' })
    expect(id.startsWith(`${page.id}_`)).toBe(true)
    expect(sb.posts(page.id)).toMatchObject([{ id, message: 'Hello', link: 'https://club.example/events/1' }])
  })

  it('sends appsecret_proof when the Secret has the app secret', async () => {
    await expect(client(guarded).publish(guarded.id, { message: 'proof' })).resolves.toMatchObject({})
    const without = createFacebookClient({
      credentials: { pageAccessToken: guarded.accessToken },
      baseUrl: `${srv.url}/facebook`,
      budgets: new BudgetRegistry(),
    })
    const err = await without.publish(guarded.id, { message: 'no proof' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StallingError)
    expect((err as Error).message).toContain('appsecret_proof')
    expect(sb.postCount(guarded.id)).toBe(1)
  })

  it('pages the feed, newest first', async () => {
    for (let i = 0; i < 5; i++) sb.postByHand(page.id, `post ${i}`)
    const pages = []
    for await (const p of client().listFeed(page.id, { limit: 2 })) pages.push(p)
    expect(pages.map((p) => p.items.map((x) => x.message))).toEqual([
      ['post 4', 'post 3'],
      ['post 2', 'post 1'],
      ['post 0'],
    ])
    expect(pages.at(-1)?.after).toBeUndefined()
  })

  it('announces once: a repeat after a lost answer finds the existing post', async () => {
    sb.postByHand(page.id, 'someone else')
    const key = 'events/club/evt-42'
    const c = client()
    const first = await announceOnce(c, page.id, { key, message: 'Tribute night on Saturday' })
    expect(first.created).toBe(true)
    const again = await announceOnce(c, page.id, { key, message: 'Tribute night on Saturday' })
    expect(again).toEqual({ id: first.id, created: false })
    expect(sb.postCount(page.id)).toBe(1)
    expect(hasMarker(sb.posts(page.id)[0]?.message, key)).toBe(true)
    expect(sb.posts(page.id)[0]?.message?.endsWith(announcementMarker(key))).toBe(true)

    // another event: a new post
    const other = await announceOnce(c, page.id, { key: 'events/club/evt-43', message: 'DJ set on Sunday' })
    expect(other.created).toBe(true)
    expect(sb.postCount(page.id)).toBe(2)
  })

  it('finds an announcement beyond the first page of the feed', async () => {
    const key = 'events/club/evt-7'
    const c = client()
    await announceOnce(c, page.id, { key, message: 'Live music' })
    for (let i = 0; i < 30; i++) sb.postByHand(page.id, `chatter ${i}`)
    const again = await announceOnce(c, page.id, { key, message: 'Live music', searchDepth: 50 })
    expect(again.created).toBe(false)
    expect(sb.postCount(page.id)).toBe(1)
  })

  it('maps Graph errors by code: 190 → Unauthorized, 4/17/32/613 → RateLimited, others → ProviderRejected', async () => {
    const bad = createFacebookClient({
      credentials: { pageAccessToken: 'EAAnot-a-real-token' },
      baseUrl: `${srv.url}/facebook`,
      budgets: new BudgetRegistry(),
    })
    const e190 = await bad.publish(page.id, { message: 'x' }).catch((e: unknown) => e)
    expect(e190).toBeInstanceOf(StallingError)
    expect((e190 as StallingError).reason).toBe(Reason.Unauthorized)

    for (const code of [4, 17, 32, 613]) {
      srv.faults.inject({ provider: 'facebook', status: 403, body: { code } })
      const err = await client()
        .publish(page.id, { message: `rate ${code}` })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WaitingError)
      expect((err as WaitingError).reason).toBe(Reason.RateLimited)
    }

    srv.faults.inject({
      provider: 'facebook',
      status: 400,
      body: { code: 100, message: '(#100) Invalid parameter' },
    })
    const e100 = await client()
      .publish(page.id, { message: 'x' })
      .catch((e: unknown) => e)
    expect(e100).toBeInstanceOf(StallingError)
    expect((e100 as StallingError).reason).toBe(Reason.ProviderRejected)

    const wrongPage = await client(guarded)
      .publish(page.id, { message: 'x' })
      .catch((e: unknown) => e)
    expect((wrongPage as StallingError).reason).toBe(Reason.Unauthorized)
    expect(sb.postCount(page.id)).toBe(0)
  })

  it('waits 5 minutes on a rate limit without usage headers, else as the headers say', async () => {
    srv.faults.inject({ provider: 'facebook', status: 400, body: { code: 32 } })
    const err = await client()
      .getPage(page.id)
      .catch((e: unknown) => e)
    expect((err as WaitingError).retryAfterMs).toBe(5 * 60_000)
    const usage = JSON.stringify({
      [page.id]: [{ type: 'pages', call_count: 100, estimated_time_to_regain_access: 7 }],
    })
    const mapped = graphErrorFor(
      400,
      { error: { code: 80001, message: 'x' } },
      new Headers({ 'x-business-use-case-usage': usage }),
      'w',
      [],
    )
    expect(mapped).toBeInstanceOf(WaitingError)
    expect(mapped.retryAfterMs).toBe(7 * 60_000)
    const retryAfter = graphErrorFor(
      400,
      { error: { code: 4, message: 'x' } },
      new Headers({ 'retry-after': '30' }),
      'w',
      [],
    )
    expect(retryAfter.retryAfterMs).toBe(30_000)
  })

  it('retries transient errors on reads, never a post', async () => {
    const metrics = new Registry()
    srv.faults.inject({ provider: 'facebook', status: 500, times: 2 })
    await expect(client(page, { metrics }).getPage(page.id)).resolves.toMatchObject({ id: page.id })
    srv.faults.inject({ provider: 'facebook', status: 503 })
    const err = await client(page, { metrics })
      .publish(page.id, { message: 'once' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    const counter = await metrics.getSingleMetric('switchboard_provider_requests_total')?.get()
    const byOp = Object.fromEntries(
      (counter?.values ?? []).map((v) => [`${v.labels.operation}:${v.labels.code}`, v.value]),
    )
    expect(byOp).toEqual({ 'page.get:500': 2, 'page.get:200': 1, 'feed.publish:503': 1 })
  })

  it('resolves a duplicate refusal (506) to the announcement already in the feed', async () => {
    const key = 'events/club/evt-9'
    const c = client()
    const first = await announceOnce(c, page.id, { key, message: 'Gig' })
    sb.postByHand(page.id, 'chatter')
    // the search misses it (depth 1 sees only the chatter): Facebook refuses the repeat with 506
    const again = await announceOnce(c, page.id, { key, message: 'Gig', searchDepth: 1 })
    expect(again).toEqual({ id: first.id, created: false })
    expect(sb.postCount(page.id)).toBe(1)
    expect(
      srv.requests
        .list()
        .filter((r) => r.method === 'POST')
        .map((r) => r.status),
    ).toEqual([200, 400])
  })

  it('never logs the page token or the app secret', async () => {
    lines.length = 0
    await client(guarded).publish(guarded.id, { message: 'log check' })
    srv.faults.inject({ provider: 'facebook', status: 400, body: { code: 190 } })
    const err = (await client(guarded)
      .getPage(guarded.id)
      .catch((e: unknown) => e)) as Error
    const text = lines.join('') + err.message
    expect(text).toContain('feed.publish')
    expect(text).not.toContain(guarded.accessToken)
    expect(text).not.toContain(guarded.appSecret as string)
  })
})
