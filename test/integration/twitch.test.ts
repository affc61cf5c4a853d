import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { defaultBudgets } from '../../connectors/index.ts'
import { createOperator, type Operator } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox, twitchNotification, twitchTimestamp } from '../sandbox/index.ts'
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
  sleep,
  waitFor,
} from './helpers.ts'

const CLIENT_ID = 'sbtwitchclient000000000000001'
const CLIENT_SECRET = 'PLANTED-twitch-secret-5e1f0a'
const EVENTSUB_SECRET = 'PLANTED-eventsub-secret-b7c3d2'
const PLURAL = 'twitchintegrations'
const MANY = Array.from({ length: 250 }, (_, i) => `many_${i}`)

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))))
    })
  })
}

type Channel = {
  login: string
  userId: string
  live: boolean
  title?: string
  lastEvent?: { type: string; at: string; messageId?: string }
}
type Sub = { id: string; type: string; login: string; status: string; message?: string }
const channelsOf = (o: Obj) => (o.status?.channels ?? []) as Channel[]
const subsOf = (o: Obj) => (o.status?.subscriptions ?? []) as Sub[]
const channel = (o: Obj, login: string) => channelsOf(o).find((c) => c.login === login)

describe('TwitchIntegration against the Twitch sandbox, with the webhook server', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  let webhooks: ChildProcess
  let hooksUrl: string
  const logs = capturedLogger('debug')
  const startOperator = async (publicUrl = hooksUrl) => {
    operator = createOperator({
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl,
      endpoints: { allowLoopback: true },
      providerHttp: { timeoutMs: 2_000, retry: { maxRetryAfterMs: 3_000 } },
      twitch: { helixLagMs: 1_000 },
    })
    await operator.start()
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    // the tests create hundreds of subscriptions; Twitch's own budget (10/s) would take minutes
    defaultBudgets.setLimits('twitch', { ratePerSecond: 500, burst: 500 })
    sandbox = await buildSandbox({
      segment: { writeKeys: [] },
      twitch: {
        clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
        users: [
          { login: 'alpha', displayName: 'Alpha' },
          { login: 'bravo' },
          { login: 'charlie' },
          { login: 'delta' },
          { login: 'echo' },
          { login: 'foxtrot' },
          { login: 'golf' },
          ...MANY.map((login) => ({ login })),
        ],
        rateLimitPoints: 100_000,
      },
    })
    await sandbox.listen()
    const port = await freePort()
    hooksUrl = `http://127.0.0.1:${port}`
    webhooks = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, '../../bin/switchboard.ts'),
        'webhooks',
        '--kubeconfig',
        inject('kubeconfigPath'),
        '--bind-address',
        `127.0.0.1:${port}`,
        '--public-url',
        hooksUrl,
        '--rate-limit',
        '0',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    await waitFor(
      'the webhook server',
      async () => ((await fetch(`${hooksUrl}/readyz`)).ok ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 200,
      },
    )
    await startOperator()
  })

  afterAll(async () => {
    webhooks?.kill('SIGTERM')
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  const setup = async (prefix: string, spec: Record<string, unknown>, secret?: Record<string, string>) => {
    const ns = await createNamespace(c.core, prefix)
    const writeKey = `wk-${ns}`
    sandbox.segment.addWriteKey(writeKey)
    await createSecret(c.core, ns, 'cdp', { writeKey })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await createSecret(
      c.core,
      ns,
      'twitch',
      secret ?? { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, eventsubSecret: EVENTSUB_SECRET },
    )
    await createResource(c, 'TwitchIntegration', ns, 'tw', {
      credentialsSecretRef: { name: 'twitch' },
      endpoints: { api: sandbox.twitchEndpoint, auth: sandbox.twitchEndpoint },
      destinationRefs: [{ name: 'cdp' }],
      ...spec,
    })
    return { ns, writeKey }
  }
  const get = (ns: string) => getObj(c.custom, PLURAL, ns, 'tw')
  // generous: the machine may be shared, and a restart lists every kind again
  const waitObj = (ns: string, what: string, ok: (o: Obj) => boolean, timeoutMs = 60_000) =>
    waitFor(
      `${ns}/tw ${what}`,
      async () => {
        const o = await get(ns)
        return ok(o) ? o : undefined
      },
      { timeoutMs, intervalMs: 100 },
    )
  const isTrue = (o: Obj, type: string) =>
    condition(o, type)?.status === 'True' && o.status?.observedGeneration === o.metadata.generation
  const callbacks = new Map<string, string>()
  const callbackOf = (ns: string) => callbacks.get(ns)
  /** The sandbox's subscriptions on the resource's callback URL. */
  const subsAt = (ns: string) =>
    [...sandbox.twitch.subscriptions.values()].filter((s) => s.callback === callbackOf(ns))
  const ready = async (ns: string) => {
    const o = await waitObj(
      ns,
      'Ready with EventSub enabled',
      (x) => isTrue(x, 'Ready') && isTrue(x, 'EventSubReady'),
    )
    callbacks.set(ns, (o.status?.webhook as { url?: string } | undefined)?.url ?? '')
    return o
  }

  it('goes live within seconds through EventSub, once at the Destination, with the EventSub message id', async () => {
    await sandbox.twitch.goLive('bravo', {
      title: 'already on',
      gameName: 'Chess',
      viewerCount: 42,
      notify: false,
    })
    const { ns, writeKey } = await setup('twitch-live', { channels: ['Alpha', 'bravo', 'charlie'] })
    const o = await ready(ns)
    expect(condition(o, 'ChannelsResolved')).toMatchObject({ status: 'True', reason: 'Resolved' })
    expect(channel(o, 'bravo')).toMatchObject({
      live: true,
      title: 'already on',
      gameName: 'Chess',
      viewerCount: 42,
    })
    // offline is not an error
    expect(channel(o, 'alpha')).toMatchObject({ live: false, userId: sandbox.twitch.userByLogin('alpha').id })
    expect(o.status?.live).toBe(1)
    expect(subsOf(o)).toHaveLength(6)
    expect(subsOf(o).every((s) => s.status === 'enabled')).toBe(true)
    expect(subsAt(ns)).toHaveLength(6)

    const started = Date.now()
    const [delivery] = await sandbox.twitch.goLive('alpha', { title: 'speedrun' })
    expect(delivery?.status).toBe(204)
    const live = await waitObj(
      ns,
      'alpha live through the notification',
      (x) =>
        channel(x, 'alpha')?.live === true &&
        channel(x, 'alpha')?.lastEvent?.messageId === delivery?.messageId,
      30_000,
    )
    const tookMs = Date.now() - started
    expect(channel(live, 'alpha')?.lastEvent).toMatchObject({
      type: 'stream.online',
      messageId: delivery?.messageId,
    })
    console.log(`twitch: stream.online reached status in ${tookMs} ms`)
    await waitFor('the event at Segment', () => sandbox.segment.uniqueMessageIds(writeKey) >= 1 || undefined)
    const events = sandbox.segment.events(writeKey)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      type: 'track',
      event: 'Twitch Stream Online',
      messageId: delivery?.messageId,
    })

    // Twitch redelivers the same message: one event
    const again = await sandbox.twitch.redeliver(delivery?.messageId ?? '')
    expect(again.status).toBe(204)
    await annotate(c, PLURAL, ns, 'tw', { 'switchboard.dev/requested-at': new Date().toISOString() })
    await waitObj(ns, 'request handled', (x) => x.status?.lastHandledRequestAt !== undefined)
    await sleep(2_500)
    expect(sandbox.segment.received(writeKey)).toBe(1)
    expect((await get(ns)).status?.eventInbox).toBeUndefined()
  })

  it('applies out-of-order notifications by time (as instants, whatever the precision)', async () => {
    const { ns, writeKey } = await setup('twitch-order', { channels: ['delta'] })
    await ready(ns)
    const user = sandbox.twitch.userByLogin('delta')
    const sub = (type: string) =>
      [...sandbox.twitch.subscriptions.values()].find((s) => s.type === type && s.callback === callbackOf(ns))
    const on = sub('stream.online')
    const off = sub('stream.offline')
    if (!on || !off) throw new Error('subscriptions missing')
    const t0 = new Date(Date.now() - 5_000)
    // online at t0 + 0.000000500 s (nanoseconds), offline at t0 + 1 s (whole seconds): offline is
    // later, but is delivered first
    const onlineAt = twitchTimestamp(t0).replace(/\d{6}Z$/, '000500Z')
    const offlineAt = `${new Date(t0.getTime() + 1_000).toISOString().slice(0, 19)}Z`
    const offMsg = twitchNotification({
      url: off.callback,
      secret: EVENTSUB_SECRET,
      subscription: { id: off.id, type: off.type, callback: off.callback, condition: off.condition },
      event: { broadcaster_user_id: user.id, broadcaster_user_login: 'delta' },
      timestamp: offlineAt,
    })
    const onMsg = twitchNotification({
      url: on.callback,
      secret: EVENTSUB_SECRET,
      subscription: { id: on.id, type: on.type, callback: on.callback, condition: on.condition },
      event: { id: '9', broadcaster_user_id: user.id, type: 'live', started_at: onlineAt },
    })
    for (const m of [offMsg, onMsg]) {
      const res = await fetch(m.url, { method: 'POST', headers: m.headers, body: m.body ?? null })
      expect(res.status).toBe(204)
    }
    await waitFor('both at Segment', () => sandbox.segment.uniqueMessageIds(writeKey) >= 2 || undefined, {
      timeoutMs: 15_000,
    })
    // both were taken from the inbox (the Destination hears of them before the status is written)
    const o = await waitObj(
      ns,
      'the inbox drained',
      (x) => x.status?.eventInbox === undefined && channel(x, 'delta')?.lastEvent !== undefined,
    )
    expect(channel(o, 'delta')).toMatchObject({
      live: false,
      lastEvent: { type: 'stream.offline', messageId: offMsg.headers['twitch-eventsub-message-id'] },
    })
  })

  it('a lost notification is corrected by the next Helix read, within one interval', async () => {
    const { ns } = await setup('twitch-lost', { channels: ['echo'], interval: '3s' })
    await ready(ns)
    await sandbox.twitch.goLive('echo', { title: 'nobody told you', notify: false })
    const started = Date.now()
    const o = await waitObj(ns, 'echo live by the sync', (x) => channel(x, 'echo')?.live === true, 10_000)
    expect(channel(o, 'echo')).toMatchObject({ title: 'nobody told you' })
    expect(channel(o, 'echo')?.lastEvent).toBeUndefined()
    console.log(`twitch: a lost stream.online corrected by the sync after ${Date.now() - started} ms`)
  })

  it('250 channels: 3 users requests once, then 3 streams requests per sync', async () => {
    const before = {
      users: sandbox.twitch.batchSizes.users.length,
      streams: sandbox.twitch.batchSizes.streams.length,
    }
    const { ns } = await setup('twitch-many', { channels: MANY, events: ['stream.online'] })
    const o = await ready(ns)
    expect(channelsOf(o)).toHaveLength(250)
    expect(subsOf(o)).toHaveLength(250)
    const users = sandbox.twitch.batchSizes.users.slice(before.users)
    expect(users.filter((n) => n > 1).sort()).toEqual([100, 100, 50])
    const mark = sandbox.twitch.batchSizes.streams.length
    const usersMark = sandbox.twitch.batchSizes.users.length
    const synced = o.status?.lastHandledRequestAt
    await annotate(c, PLURAL, ns, 'tw', { 'switchboard.dev/requested-at': `many-${Date.now()}` })
    await waitObj(ns, 'the requested sync', (x) => x.status?.lastHandledRequestAt !== synced)
    await sleep(500)
    // (other resources of this file sync meanwhile, with 3 channels at most)
    const perSync = sandbox.twitch.batchSizes.streams.slice(mark).filter((n) => n > 3)
    // the requested sync: one request per 100 channels (a look at the inbox may follow it)
    expect(perSync.slice(0, 3)).toEqual([100, 100, 50])
    // the logins are resolved once
    expect(sandbox.twitch.batchSizes.users.slice(usersMark).filter((n) => n > 1)).toEqual([])
  })

  it('finds its subscriptions again after a restart: no duplicates, nothing created', async () => {
    const { ns } = await setup('twitch-restart', { channels: ['foxtrot'] })
    const o = await ready(ns)
    const ids = subsOf(o)
      .map((s) => s.id)
      .sort()
    const created = sandbox.twitch.counts.get('subscriptions.create') ?? 0
    await operator.stop({ timeoutMs: 5_000 })
    await startOperator()
    await annotate(c, PLURAL, ns, 'tw', { 'switchboard.dev/requested-at': `restart-${Date.now()}` })
    const after = await waitObj(ns, 'reconciled after the restart', (x) =>
      (x.status?.lastHandledRequestAt ?? '').startsWith('restart-'),
    )
    expect(
      subsOf(after)
        .map((s) => s.id)
        .sort(),
    ).toEqual(ids)
    expect(subsAt(ns)).toHaveLength(2)
    expect(sandbox.twitch.counts.get('subscriptions.create') ?? 0).toBe(created)
  })

  it('moves its subscriptions when the public URL changes: the old ones are deleted', async () => {
    const { ns } = await setup('twitch-moved', { channels: ['foxtrot'], events: ['stream.online'] })
    const o = await ready(ns)
    const oldUrl = callbackOf(ns) ?? ''
    const oldIds = subsOf(o).map((x) => x.id)
    await operator.stop({ timeoutMs: 5_000 })
    // the same webhook server, under another name
    const moved = hooksUrl.replace('127.0.0.1', 'localhost')
    try {
      await startOperator(moved)
      const after = await waitObj(
        ns,
        'subscriptions on the new URL',
        (x) =>
          (x.status?.webhook as { url?: string } | undefined)?.url?.startsWith(moved) === true &&
          isTrue(x, 'EventSubReady') &&
          subsOf(x).every((y) => !oldIds.includes(y.id)),
      )
      const newUrl = (after.status?.webhook as { url?: string } | undefined)?.url ?? ''
      const all = [...sandbox.twitch.subscriptions.values()]
      expect(all.filter((x) => x.callback === oldUrl)).toHaveLength(0)
      expect(all.filter((x) => x.callback === newUrl).map((x) => x.status)).toEqual(['enabled'])
    } finally {
      await operator.stop({ timeoutMs: 5_000 })
      await startOperator()
    }
  })

  it('makes a subscription again after notification_failures_exceeded, reports authorization_revoked', async () => {
    const { ns } = await setup('twitch-revoke', { channels: ['golf'] })
    const o = await ready(ns)
    const online = subsOf(o).find((s) => s.type === 'stream.online')
    const offline = subsOf(o).find((s) => s.type === 'stream.offline')
    await sandbox.twitch.revoke(online?.id ?? '', 'notification_failures_exceeded')
    const again = await waitObj(ns, 'stream.online made again', (x) => {
      const s = subsOf(x).find((y) => y.type === 'stream.online')
      return s !== undefined && s.id !== online?.id && s.status === 'enabled'
    })
    expect(isTrue(again, 'EventSubReady')).toBe(true)
    expect((await eventsFor(c.core, ns, 'tw')).some((e) => e.reason === 'SubscriptionRecreated')).toBe(true)

    await sandbox.twitch.revoke(offline?.id ?? '', 'authorization_revoked')
    const reported = await waitObj(
      ns,
      'the revocation reported',
      (x) => condition(x, 'EventSubReady')?.reason === 'SubscriptionRevoked',
    )
    expect(subsOf(reported).find((s) => s.type === 'stream.offline')).toMatchObject({
      status: 'authorization_revoked',
    })
    expect(condition(reported, 'EventSubReady')?.message).toContain(
      'stream.offline for golf: authorization_revoked',
    )
    // reported, not made again
    await sleep(1_000)
    expect(
      subsAt(ns)
        .filter((s) => s.type === 'stream.offline')
        .map((s) => s.status),
    ).toEqual(['authorization_revoked'])
  })

  it('an expired token is renewed without an error condition', async () => {
    const { ns } = await setup('twitch-token', { channels: ['alpha'] })
    await ready(ns)
    const tokens = sandbox.twitch.counts.get('token') ?? 0
    sandbox.twitch.expireTokens()
    await annotate(c, PLURAL, ns, 'tw', { 'switchboard.dev/requested-at': `token-${Date.now()}` })
    const o = await waitObj(ns, 'synced after the expiry', (x) =>
      (x.status?.lastHandledRequestAt ?? '').startsWith('token-'),
    )
    expect(isTrue(o, 'Ready')).toBe(true)
    expect(isTrue(o, 'CredentialsValid')).toBe(true)
    expect(sandbox.twitch.counts.get('token') ?? 0).toBeGreaterThan(tokens)
  })

  it('a refused client secret stalls with Unauthorized, naming no secret', async () => {
    const wrong = 'PLANTED-wrong-twitch-secret-00'
    const { ns } = await setup(
      'twitch-unauth',
      { channels: ['alpha'] },
      {
        clientId: CLIENT_ID,
        clientSecret: wrong,
        eventsubSecret: EVENTSUB_SECRET,
      },
    )
    const o = await waitObj(ns, 'stalled', (x) => condition(x, 'Stalled')?.status === 'True')
    expect(condition(o, 'Ready')).toMatchObject({ status: 'False', reason: 'Unauthorized' })
    expect(condition(o, 'CredentialsValid')).toMatchObject({ status: 'False', reason: 'Unauthorized' })
    expect(JSON.stringify(o)).not.toContain('PLANTED')
  })

  it('an unknown login is named in ChannelsResolved; the others are tracked', async () => {
    const { ns } = await setup('twitch-unknown', { channels: ['alpha', 'no_such_login'] })
    const o = await waitObj(
      ns,
      'the unknown login reported',
      (x) => condition(x, 'ChannelsResolved')?.status === 'False',
    )
    expect(condition(o, 'ChannelsResolved')).toMatchObject({ reason: 'ChannelNotFound' })
    expect(condition(o, 'ChannelsResolved')?.message).toContain('no_such_login')
    expect(o.status?.unresolvedChannels).toEqual(['no_such_login'])
    expect(channel(o, 'alpha')).toBeDefined()
    expect(condition(o, 'Ready')?.status).toBe('False')
  })

  it('deletionPolicy Delete removes the subscriptions; Orphan keeps them and needs no finalizer', async () => {
    const del = await setup('twitch-delete', { channels: ['charlie'] })
    await ready(del.ns)
    const orphan = await setup('twitch-orphan', { channels: ['charlie'], deletionPolicy: 'Orphan' })
    const o = await ready(orphan.ns)
    expect(o.metadata.finalizers ?? []).toEqual([])
    expect((await get(del.ns)).metadata.finalizers).toEqual(['switchboard.dev/finalizer'])
    expect(subsAt(del.ns)).toHaveLength(2)
    expect(subsAt(orphan.ns)).toHaveLength(2)
    for (const { ns } of [del, orphan]) {
      await c.custom.deleteNamespacedCustomObject({
        group: 'switchboard.dev',
        version: 'v1alpha1',
        plural: PLURAL,
        namespace: ns,
        name: 'tw',
      })
    }
    await waitFor('both gone', async () => {
      for (const { ns } of [del, orphan]) {
        try {
          await get(ns)
          return undefined
        } catch {
          // gone
        }
      }
      return true
    })
    expect(subsAt(del.ns)).toHaveLength(0)
    expect(subsAt(orphan.ns)).toHaveLength(2)

    // the Secret gone first (a namespace being deleted): the resource still goes, with an Event
    const gone = await setup('twitch-nosecret', { channels: ['charlie'] })
    await ready(gone.ns)
    await c.core.deleteNamespacedSecret({ namespace: gone.ns, name: 'twitch' })
    await c.custom.deleteNamespacedCustomObject({
      group: 'switchboard.dev',
      version: 'v1alpha1',
      plural: PLURAL,
      namespace: gone.ns,
      name: 'tw',
    })
    await waitFor(
      'the resource without its Secret gone',
      async () => {
        try {
          await get(gone.ns)
          return undefined
        } catch {
          return true
        }
      },
      { timeoutMs: 30_000 },
    )
    expect((await eventsFor(c.core, gone.ns, 'tw')).some((e) => e.reason === 'CleanupIncomplete')).toBe(true)
  })

  it('no planted credential in logs, events, status or metrics, plain or base64, even when Twitch echoes one', async () => {
    // a provider error whose text carries the client secret and the EventSub secret
    sandbox.faults.inject({
      provider: 'twitch',
      path: '/twitch/helix/streams',
      status: 400,
      times: 3,
      body: { status: 400, message: `invalid request for ${CLIENT_SECRET} with ${EVENTSUB_SECRET}` },
    })
    const echo = await setup('twitch-echo', { channels: ['golf'] })
    const echoed = await waitObj(
      echo.ns,
      'the echoed error',
      (x) => condition(x, 'Ready')?.reason === 'ProviderRejected',
    )
    expect(condition(echoed, 'Ready')?.message).toContain('invalid request for')
    const planted = [CLIENT_SECRET, EVENTSUB_SECRET, 'PLANTED-wrong-twitch-secret-00']
    const forms = planted.flatMap((p) => [p, Buffer.from(p).toString('base64'), encodeURIComponent(p)])
    const text = logs.text()
    expect(text).toContain('twitchintegration')
    for (const s of forms) expect(text).not.toContain(s)
    for (const t of [...sandbox.twitch.subscriptions.values()].map((s) => s.secret))
      expect(text).not.toContain(t)
    const list = (await c.custom.listClusterCustomObject({
      group: 'switchboard.dev',
      version: 'v1alpha1',
      plural: PLURAL,
    })) as { items: unknown[] }
    expect(list.items.length).toBeGreaterThan(3)
    const metrics = `${await operator.manager.metrics.registry.metrics()}\n${await (await fetch(`${hooksUrl}/metrics`)).text()}`
    expect(metrics).toContain('switchboard_provider_requests_total{provider="twitch"')
    const events = await c.core.listEventForAllNamespaces({})
    const twitchEvents = JSON.stringify(
      events.items.filter((e) => e.involvedObject.kind === 'TwitchIntegration'),
    )
    expect(twitchEvents).toContain('invalid request for')
    for (const s of forms) {
      expect(JSON.stringify(list)).not.toContain(s)
      expect(metrics).not.toContain(s)
      expect(twitchEvents).not.toContain(s)
    }
  })

  it('kubectl explain teaches every spec field, and the API server refuses a malformed spec', async () => {
    const run = promisify(execFile)
    const kubectl = (...args: string[]) =>
      run('kubectl', [...args, '--kubeconfig', inject('kubeconfigPath')], { timeout: 30_000 })
    const fields = [
      'credentialsSecretRef',
      'credentialsSecretRef.name',
      'channels',
      'events',
      'destinationRefs',
      'destinationRefs.name',
      'interval',
      'deletionPolicy',
      'endpoints',
      'endpoints.api',
      'endpoints.auth',
      'suspend',
    ]
    for (const f of fields) {
      const { stdout } = await kubectl('explain', `twitchintegrations.spec.${f}`)
      const description = /DESCRIPTION:\n([\s\S]*?)(\n\S|$)/.exec(stdout)?.[1]?.trim() ?? ''
      expect(description.length, `spec.${f}`).toBeGreaterThan(20)
    }
    expect((await kubectl('explain', 'twitchintegrations.spec.credentialsSecretRef')).stdout).toContain(
      'eventsubSecret',
    )
    expect((await kubectl('explain', 'twitchintegrations.status.channels')).stdout).toContain(
      'Offline is not an error',
    )
    const ns = await createNamespace(c.core, 'twitch-schema')
    const bad: Array<Record<string, unknown>> = [
      { credentialsSecretRef: { name: 'x' }, channels: ['not a login!'] },
      { credentialsSecretRef: { name: 'x' }, channels: [] },
      { credentialsSecretRef: { name: 'x' }, channels: ['a'], events: ['channel.raid'] },
      { credentialsSecretRef: { name: 'x' }, channels: ['a'], deletionPolicy: 'Keep' },
      { credentialsSecretRef: { name: 'x' }, channels: ['a', 'a'] },
      { credentialsSecretRef: { name: 'x' }, channels: Array.from({ length: 501 }, (_, i) => `c${i}`) },
      { channels: ['a'] },
    ]
    for (const spec of bad) {
      const err = await createResource(c, 'TwitchIntegration', ns, 'bad', spec).catch((e: unknown) => e)
      expect((err as { code?: number }).code, JSON.stringify(spec).slice(0, 80)).toBe(422)
    }
  })
})
