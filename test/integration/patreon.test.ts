/**
 * PatreonIntegration against the real API server, the Patreon sandbox and a Segment Destination
 * (the official @segment/analytics-node client against the Segment sandbox).
 */
import type { V1Secret } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOperator, type Operator, REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { WRITABLE_LABEL } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  annotate,
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createResource,
  createSecret,
  eventsFor,
  getObj,
  type Obj,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const PLURAL = 'patreonintegrations'
const BIG = '7001'
const SMALL = '7002'
const TIMED = '7003'
const CLIENT_SECRET = 'patreon-client-S3CRET-planted-0001'

type Counts = {
  total: number
  activePatron: number
  declinedPatron: number
  formerPatron: number
  none: number
}
type Traits = Record<string, unknown>
const traitsOf = (e: Record<string, unknown> | undefined) => e?.traits as Traits | undefined
const countsOf = (o: Obj) => o.status?.members as Counts | undefined
const deliveredOf = (o: Obj) => o.status?.membersDelivered as number | undefined

describe('PatreonIntegration against the real API server and the sandbox', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  const logs = capturedLogger('debug')
  /** Every token value that ever sat in a Secret of these tests (for the leak scan). */
  const planted = new Set<string>([CLIENT_SECRET])

  const startOperator = async () => {
    const op = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      statusFlushDelayMs: 200,
      providerHttp: { timeoutMs: 5_000, retry: { maxRetryAfterMs: 3_000, backoffBaseMs: 50 } },
    })
    await op.start()
    return op
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      patreon: {
        clients: [{ clientId: 'sb-client', clientSecret: CLIENT_SECRET }],
        campaigns: [
          {
            id: BIG,
            name: 'Venue Patrons',
            tiers: [
              { title: 'Listener', amountCents: 300 },
              { title: 'Regular', amountCents: 800 },
              { title: 'Backstage', amountCents: 2500 },
            ],
            members: 5000,
          },
          { id: SMALL, name: 'Small', tiers: [{ title: 'Only', amountCents: 500 }], members: 40 },
          { id: TIMED, name: 'Timed', tiers: [{ title: 'Only', amountCents: 500 }], members: 10 },
        ],
      },
    })
    await sandbox.listen()
    operator = await startOperator()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  async function setup(prefix: string, campaignId: string, spec: Record<string, unknown> = {}) {
    const ns = await createNamespace(c.core, prefix)
    const writeKey = `wk-${ns}`
    await createSecret(c.core, ns, 'cdp', { writeKey })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    const t = sandbox.patreon.issueTokens(campaignId, { clientId: 'sb-client' })
    planted.add(t.accessToken)
    planted.add(t.refreshToken)
    await c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'patreon', namespace: ns, labels: { [WRITABLE_LABEL]: 'true' } },
        stringData: {
          clientId: 'sb-client',
          clientSecret: CLIENT_SECRET,
          accessToken: t.accessToken,
          refreshToken: t.refreshToken,
        },
      },
    })
    await createResource(c, 'PatreonIntegration', ns, 'members', {
      credentialsSecretRef: { name: 'patreon' },
      endpoint: sandbox.patreonEndpoint,
      destinationRefs: [{ name: 'cdp' }],
      pageSize: 1000,
      ...spec,
    })
    return { ns, writeKey, tokens: t }
  }

  const obj = (ns: string) => getObj(c.custom, PLURAL, ns, 'members')
  const secret = async (ns: string): Promise<V1Secret> =>
    c.core.readNamespacedSecret({ namespace: ns, name: 'patreon' })
  const key = (s: V1Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8')
  const remember = async (ns: string) => {
    const s = await secret(ns)
    for (const k of ['accessToken', 'refreshToken']) if (key(s, k)) planted.add(key(s, k))
  }
  /** Asks for a sync, as the webhook server does for every verified webhook; waits for it. */
  async function requestSync(ns: string): Promise<Obj> {
    const at = new Date().toISOString() + Math.random().toString(36).slice(2, 6)
    await annotate(c, PLURAL, ns, 'members', { [REQUESTED_AT_ANNOTATION]: at })
    return waitFor(
      `sync ${at} of ${ns}`,
      async () => {
        const o = await obj(ns)
        return o.status?.lastHandledRequestAt === at && condition(o, 'Ready')?.status === 'True'
          ? o
          : undefined
      },
      { timeoutMs: 60_000 },
    )
  }

  it('5,000 members in 3 tiers: each reaches the Destination once; counts match; unchanged members are not re-sent', async () => {
    const { ns, writeKey } = await setup('patreon-big', BIG)
    const ready = await waitForCondition(c, PLURAL, ns, 'members', 'Ready', 'True', undefined, 90_000)
    const expected = sandbox.patreon.counts(BIG)
    expect(countsOf(ready)).toEqual({
      total: 5000,
      activePatron: expected.active_patron,
      declinedPatron: expected.declined_patron,
      formerPatron: expected.former_patron,
      none: expected.none,
    })
    expect(ready.status?.campaign).toMatchObject({
      id: BIG,
      name: 'Venue Patrons',
      patronCount: expected.active_patron,
    })
    const tiers = ready.status?.tiers as Array<{
      id: string
      title: string
      amountCents: number
      patronCount: number
      entitledMembers: number
    }>
    expect(tiers.map((t) => [t.title, t.amountCents])).toEqual([
      ['Listener', 300],
      ['Regular', 800],
      ['Backstage', 2500],
    ])
    for (const t of tiers) expect(t.entitledMembers).toBe(sandbox.patreon.tierPatronCount(BIG, t.id))
    expect(deliveredOf(ready)).toBe(5000)
    await waitFor(
      '5000 identifies at Segment',
      () => sandbox.segment.uniqueMessageIds(writeKey) >= 5000 || undefined,
      {
        timeoutMs: 30_000,
      },
    )
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(5000)
    expect(sandbox.segment.received(writeKey)).toBe(5000)
    const one = sandbox.segment.events(writeKey).find((e) => e.type === 'identify')
    expect(traitsOf(one)).toMatchObject({ patreonCampaignId: BIG })
    expect(['active_patron', 'declined_patron', 'former_patron', null]).toContain(traitsOf(one)?.patronStatus)
    // members are read in pages of 1000 following the cursor
    expect(
      sandbox.requests.list('patreon').filter((r) => r.path.endsWith(`/campaigns/${BIG}/members`)).length,
    ).toBe(5)

    // a second sync with nothing changed sends nothing
    const again = await requestSync(ns)
    expect(deliveredOf(again)).toBe(0)
    expect(sandbox.segment.received(writeKey)).toBe(5000)

    // a tier change, a cancellation and a new pledge: exactly those three are sent, with their new data
    const campaign = sandbox.patreon.campaign(BIG)
    const [listener, , backstage] = campaign.tiers
    const mover = campaign.members.find(
      (m) => m.patronStatus === 'active_patron' && m.tierIds[0] === listener?.id,
    )
    const leaver = campaign.members.find((m) => m.patronStatus === 'active_patron' && m !== mover)
    if (!mover || !leaver || !listener || !backstage) throw new Error('sandbox data unexpected')
    sandbox.patreon.changeTier(BIG, mover.id, backstage.id)
    sandbox.patreon.cancel(BIG, leaver.id)
    const joiner = sandbox.patreon.pledge(BIG, listener.id)
    const after = await requestSync(ns)
    expect(deliveredOf(after)).toBe(3)
    expect(countsOf(after)?.total).toBe(5001)
    expect(countsOf(after)?.formerPatron).toBe(expected.former_patron + 1)
    await waitFor('3 more at Segment', () => sandbox.segment.uniqueMessageIds(writeKey) >= 5003 || undefined)
    expect(sandbox.segment.received(writeKey)).toBe(5003)
    const latest = (memberId: string) =>
      sandbox.segment
        .events(writeKey)
        .filter((e) => traitsOf(e)?.patreonMemberId === memberId)
        .at(-1)
    expect(traitsOf(latest(mover.id))).toMatchObject({
      entitledTiers: ['Backstage'],
      currentlyEntitledAmountCents: 2500,
    })
    expect(traitsOf(latest(leaver.id))).toMatchObject({ patronStatus: 'former_patron', entitledTiers: [] })
    expect(traitsOf(latest(joiner.id))).toMatchObject({
      patronStatus: 'active_patron',
      entitledTiers: ['Listener'],
    })
    await remember(ns)
  })

  it('an access token expiring mid-sync is refreshed once, the sync goes on, the Secret holds the rotated token; a restart uses it', async () => {
    const { ns, writeKey, tokens } = await setup('patreon-expiry', SMALL, { pageSize: 10 })
    await waitForCondition(c, PLURAL, ns, 'members', 'Ready', 'True', undefined, 60_000)
    expect(sandbox.patreon.refreshTokenValid(tokens.refreshToken)).toBe(true) // no refresh needed yet
    // the next sync: the campaign list, the campaign and the first of 4 member pages are answered,
    // then the access token expires (mid-sync, at a known point)
    const refreshesBefore = sandbox.patreon.refreshes
    sandbox.patreon.cancel(SMALL, sandbox.patreon.campaign(SMALL).members[39]?.id as string)
    sandbox.patreon.expireAccessTokensAfter(SMALL, 3)
    const at = new Date().toISOString()
    await annotate(c, PLURAL, ns, 'members', { [REQUESTED_AT_ANNOTATION]: at })
    const done = await waitFor(
      'the sync after expiry',
      async () => {
        const o = await obj(ns)
        return o.status?.lastHandledRequestAt === at && condition(o, 'Ready')?.status === 'True'
          ? o
          : undefined
      },
      { timeoutMs: 30_000 },
    )
    const members = sandbox.requests
      .list('patreon')
      .filter((r) => r.path.endsWith(`/campaigns/${SMALL}/members`))
    // the first page was answered, the second refused (401) and repeated after the refresh
    const refused = members.findIndex((r) => r.status === 401)
    expect(members.slice(refused - 1, refused + 4).map((r) => r.status)).toEqual([200, 401, 200, 200, 200])
    expect(members.filter((r) => r.status === 401)).toHaveLength(1)
    expect(sandbox.patreon.refreshes - refreshesBefore).toBe(1)
    expect(deliveredOf(done)).toBe(1)
    expect(countsOf(done)?.total).toBe(40)
    const s = await secret(ns)
    expect(key(s, 'refreshToken')).not.toBe(tokens.refreshToken)
    expect(sandbox.patreon.refreshTokenValid(key(s, 'refreshToken'))).toBe(true)
    expect(sandbox.patreon.refreshTokenValid(tokens.refreshToken)).toBe(false)
    expect(Date.parse(key(s, 'accessTokenExpiresAt'))).toBeGreaterThan(Date.now())
    expect(done.status?.accessTokenExpiresAt).toBe(key(s, 'accessTokenExpiresAt'))
    await remember(ns)

    // a restart: the new process reads the rotated tokens from the Secret and refreshes nothing
    await operator.stop({ timeoutMs: 5_000 })
    operator = await startOperator()
    const before = sandbox.patreon.refreshes
    const unique = sandbox.segment.uniqueMessageIds(writeKey)
    const restarted = await requestSync(ns)
    expect(sandbox.patreon.refreshes).toBe(before)
    expect(condition(restarted, 'CredentialsValid')?.status).toBe('True')
    // the new process remembers no digests: it sends everyone again, with the same message ids
    expect(deliveredOf(restarted)).toBe(40)
    await waitFor(
      're-sent members at Segment',
      () => sandbox.segment.received(writeKey) >= 40 + 40 + 1 || undefined,
    )
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(unique)
  })

  it('without webhooks, a new pledge and a cancellation arrive at the next interval, with no sync asked for', async () => {
    const { ns, writeKey } = await setup('patreon-interval', TIMED, { interval: '3s', manageWebhook: false })
    await waitFor('the first sync', () => sandbox.segment.uniqueMessageIds(writeKey) >= 10 || undefined, {
      timeoutMs: 60_000,
    })
    const campaign = sandbox.patreon.campaign(TIMED)
    const leaver = campaign.members.find((m) => m.patronStatus === 'active_patron')
    const tier = campaign.tiers[0]
    if (!leaver || !tier) throw new Error('sandbox data unexpected')
    sandbox.patreon.cancel(TIMED, leaver.id)
    const joiner = sandbox.patreon.pledge(TIMED, tier.id)
    const latest = (memberId: string) =>
      sandbox.segment
        .events(writeKey)
        .filter((e) => traitsOf(e)?.patreonMemberId === memberId)
        .at(-1)
    await waitFor(
      'the pledge and the cancellation at Segment',
      () =>
        (traitsOf(latest(joiner.id))?.patronStatus === 'active_patron' &&
          traitsOf(latest(leaver.id))?.patronStatus === 'former_patron') ||
        undefined,
      { timeoutMs: 30_000 },
    )
    // nothing asked for these syncs: no requested-at was ever handled
    expect((await obj(ns)).status?.lastHandledRequestAt).toBeUndefined()
    expect(sandbox.segment.uniqueMessageIds(writeKey)).toBe(12)
    await remember(ns)
  })

  it("honours Patreon's retry_after_seconds during a sync and still delivers every member", async () => {
    const { ns, writeKey } = await setup('patreon-429', SMALL, { pageSize: 10 })
    sandbox.faults.inject({
      provider: 'patreon',
      path: `/patreon/api/oauth2/v2/campaigns/${SMALL}/members`,
      status: 429,
      retryAfterSeconds: 1,
    })
    const ready = await waitForCondition(c, PLURAL, ns, 'members', 'Ready', 'True', undefined, 60_000)
    expect(countsOf(ready)?.total).toBe(40)
    await waitFor('40 at Segment', () => sandbox.segment.uniqueMessageIds(writeKey) >= 40 || undefined)
    const log = sandbox.requests.list('patreon').filter((r) => r.path.endsWith(`/campaigns/${SMALL}/members`))
    const throttled = log.findIndex((r) => r.status === 429)
    expect(throttled).toBeGreaterThanOrEqual(0)
    expect((log[throttled + 1]?.at ?? 0) - (log[throttled]?.at ?? 0)).toBeGreaterThanOrEqual(990)
    await remember(ns)
  })

  it('a revoked grant stalls with TokenRevoked and an Event that says what to do', async () => {
    const { ns } = await setup('patreon-revoked', SMALL)
    await waitForCondition(c, PLURAL, ns, 'members', 'Ready', 'True', undefined, 60_000)
    await remember(ns)
    sandbox.patreon.revoke(SMALL)
    // the access token stops working too: the next call is refused, the refresh is invalid_grant
    await annotate(c, PLURAL, ns, 'members', { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
    const stalled = await waitForCondition(
      c,
      PLURAL,
      ns,
      'members',
      'Stalled',
      'True',
      'TokenRevoked',
      30_000,
    )
    expect(condition(stalled, 'Ready')).toMatchObject({ status: 'False', reason: 'TokenRevoked' })
    expect(condition(stalled, 'CredentialsValid')).toMatchObject({ status: 'False', reason: 'TokenRevoked' })
    const events = await waitFor('a TokenRevoked event', async () => {
      const list = await eventsFor(c.core, ns, 'members')
      return list.some((e) => e.reason === 'TokenRevoked') ? list : undefined
    })
    const ev = events.find((e) => e.reason === 'TokenRevoked')
    expect(ev?.type).toBe('Warning')
    expect(ev?.message).toMatch(/authorise Switchboard again/)
  })

  it('no token or client secret in logs, events, status or metrics', async () => {
    expect(planted.size).toBeGreaterThan(6)
    const text = logs.text()
    const metrics = await operator.manager.metrics.registry.metrics()
    const namespaces = (await c.core.listNamespace()).items
      .map((n) => n.metadata?.name ?? '')
      .filter((n) => n.startsWith('patreon-'))
    const dumps: string[] = [text, metrics]
    for (const ns of namespaces) {
      const list = (await c.custom.listNamespacedCustomObject({
        group: 'switchboard.dev',
        version: 'v1alpha1',
        namespace: ns,
        plural: PLURAL,
      })) as { items: unknown[] }
      dumps.push(JSON.stringify(list.items))
      dumps.push(JSON.stringify((await c.core.listNamespacedEvent({ namespace: ns })).items))
    }
    expect(text).toContain('access token refreshed')
    for (const value of planted) {
      for (const d of dumps) expect(d.includes(value), `a planted value leaked`).toBe(false)
    }
  })
})
