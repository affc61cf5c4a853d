/**
 * MessageCampaign `destinationRefs`: each recipient's outcome (sent, delivered, undelivered,
 * skipped with its reason) reaches a Segment Destination (the sandbox) as a track event with a
 * stable message id, identified by the list's userId or the recipient id, never by the number. A
 * new controller process does not send them again (the progress records say which Destinations
 * acknowledged them), and a campaign whose Destination is missing sends nothing.
 */
import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOperator, type Operator } from '../../controller/index.ts'
import { makeClients } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  annotationPatcher,
  buildApp,
  CoalescingRequester,
  KubernetesTargetResolver,
  StatusCallbackSink,
} from '../../webhooks/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  sleep,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const ACCOUNT = `AC${'e5'.repeat(16)}`
const AUTH_TOKEN = 'campaign-dest-auth-token-PLANTED-0004'
const WRITE_KEY = 'campaign-dest-write-key-0004'
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

const phone = (i: number) => `+2775${String(i).padStart(7, '0')}`

describe('MessageCampaign outcomes to Destinations', () => {
  let c: Clients
  let sandbox: Sandbox
  let operator: Operator
  let hooks: ReturnType<typeof buildApp>
  let resolver: KubernetesTargetResolver
  let callbacks: StatusCallbackSink
  let requester: CoalescingRequester
  let hooksUrl: string
  const logs = capturedLogger('info')

  const startOperator = async () => {
    const op = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl: hooksUrl,
      providerHttp: { timeoutMs: 1_000 },
      campaign: { settleMs: 1_500 },
    })
    await op.start()
    return op
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      twilio: {
        accounts: [{ sid: ACCOUNT, authToken: AUTH_TOKEN }],
        optedOut: [phone(2)],
        unreachable: [phone(3)],
        callbackDelayMs: 5,
      },
    })
    await sandbox.listen()
    // the webhook server on loopback, so the sandbox's status callbacks reach the campaign
    const kube = makeClients(c.kc)
    resolver = new KubernetesTargetResolver({ kubeConfig: c.kc, logger: logs.logger, recheckIntervalMs: 0 })
    callbacks = new StatusCallbackSink({
      custom: kube.custom,
      fields: { MessageCampaign: 'deliveryInbox' },
      logger: logs.logger,
      flushIntervalMs: 200,
    })
    requester = new CoalescingRequester({ patch: annotationPatcher(kube.custom), logger: logs.logger })
    const port = await freePort()
    hooksUrl = `http://127.0.0.1:${port}`
    // Twilio signs the URL it called: here the loopback one is the public URL
    hooks = buildApp({
      resolver,
      requester,
      callbacks,
      logger: logs.logger,
      rateLimit: false,
      publicUrl: hooksUrl,
    })
    await hooks.listen({ host: '127.0.0.1', port })
    await resolver.start()
    operator = await startOperator()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await hooks?.close()
    await requester?.close({ timeoutMs: 1_000 })
    await callbacks?.close({ timeoutMs: 1_000 })
    await resolver?.stop()
    await sandbox?.close()
  })

  it('each outcome is one track event, by userId or recipient id, never the number; a new controller does not send them again', async () => {
    const ns = await createNamespace(c.core, 'campaign-dest')
    await createSecret(c.core, ns, 'twilio', { accountSid: ACCOUNT, authToken: AUTH_TOKEN })
    await createSecret(c.core, ns, 'cdp', { writeKey: WRITE_KEY })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    const csv = [
      'phone,name,userId',
      `${phone(0)},Ada,user-0`,
      `${phone(1)},Bo,`, // no userId: identified by its recipient id
      `${phone(2)},Cy,user-2`, // opted out: skipped, 21610
      `${phone(3)},Di,user-3`, // unreachable: sent, then undelivered 30003
      `${phone(4)},,user-4`, // no name: skipped, missingVariable
      `${phone(5)},Ed,user-5`,
    ].join('\n')
    await createSecret(c.core, ns, 'players', { 'players.csv': csv })
    await createResource(c, 'MessageCampaign', ns, 'wellbeing', {
      channel: 'sms',
      from: '+15005550006',
      credentialsSecretRef: { name: 'twilio' },
      endpoint: sandbox.twilioEndpoint,
      template: { body: 'Hi {{name}}' },
      recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
      rate: 50,
      destinationRefs: [{ name: 'cdp' }],
    })
    await waitFor(
      'the campaign complete with every callback counted',
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, 'wellbeing')
        const t = o.status?.totals as Record<string, number> | undefined
        return o.status?.phase === 'Completed' && t?.delivered === 3 && t.undelivered === 1 ? o : undefined
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    )
    // 4 sent + 3 delivered + 1 undelivered + 2 skipped
    const EXPECTED = 10
    await waitFor('every outcome at Segment', () =>
      sandbox.segment.uniqueMessageIds(WRITE_KEY) >= EXPECTED ? true : undefined,
    )
    await sleep(1_500)
    expect(sandbox.segment.uniqueMessageIds(WRITE_KEY)).toBe(EXPECTED)
    const events = sandbox.segment.events(WRITE_KEY) as Array<{
      type: string
      event: string
      userId: string
      messageId: string
      properties: Record<string, unknown>
    }>
    expect(events.every((e) => e.type === 'track')).toBe(true)
    const byUser = new Map<string, string[]>()
    for (const e of events) byUser.set(e.userId, [...(byUser.get(e.userId) ?? []), e.event].sort())
    expect(byUser.get('user-0')).toEqual(['Message Delivered', 'Message Sent'])
    expect(byUser.get('user-5')).toEqual(['Message Delivered', 'Message Sent'])
    expect(byUser.get('user-3')).toEqual(['Message Sent', 'Message Undelivered'])
    expect(byUser.get('user-2')).toEqual(['Message Skipped'])
    expect(byUser.get('user-4')).toEqual(['Message Skipped'])
    // the one without a userId is named by its recipient id, the same on each of its events
    const anonymous = [...byUser.keys()].filter((u) => !u.startsWith('user-'))
    expect(anonymous).toHaveLength(1)
    expect(byUser.get(anonymous[0] ?? '')).toEqual(['Message Delivered', 'Message Sent'])
    for (const e of events) {
      expect(e.properties.campaign).toBe(`${ns}/wellbeing`)
      expect(e.properties.recipientId).toMatch(/^[A-Za-z0-9_-]{16}$/)
    }
    expect(events.find((e) => e.userId === anonymous[0])?.properties.recipientId).toBe(anonymous[0])
    const skipped = events.filter((e) => e.event === 'Message Skipped').map((e) => e.properties)
    expect(skipped).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'optedOut', errorCode: 21610 }),
        expect.objectContaining({ reason: 'missingVariable' }),
      ]),
    )
    expect(events.find((e) => e.event === 'Message Undelivered')?.properties).toMatchObject({
      errorCode: 30003,
    })
    expect(events.find((e) => e.event === 'Message Sent')?.properties.messageSid).toMatch(/^SM[0-9a-f]{32}$/)
    // never the number, in any form
    const text = JSON.stringify(events)
    for (let i = 0; i < 6; i++) {
      expect(text).not.toContain(phone(i).slice(1))
      expect(text).not.toContain(phone(i).slice(-7))
    }

    // a new controller process does not send them again: the progress records say which
    // Destinations had acknowledged their outcomes; a number added meanwhile gets its two
    const before = sandbox.segment.received(WRITE_KEY)
    await operator.stop({ timeoutMs: 5_000 })
    operator = await startOperator()
    await c.core.replaceNamespacedSecret({
      namespace: ns,
      name: 'players',
      body: {
        metadata: { name: 'players' },
        stringData: { 'players.csv': `${csv}\n${phone(6)},Flo,user-6` },
      },
    })
    await waitFor(
      "the added number's outcomes from the new controller",
      () => (sandbox.segment.uniqueMessageIds(WRITE_KEY) >= EXPECTED + 2 ? true : undefined),
      { timeoutMs: 60_000 },
    )
    await sleep(1_500)
    expect(sandbox.segment.uniqueMessageIds(WRITE_KEY)).toBe(EXPECTED + 2)
    expect(sandbox.segment.received(WRITE_KEY)).toBe(before + 2)
    expect(sandbox.segment.duplicates(WRITE_KEY)).toBe(0)
    // and nothing was messaged twice
    const counts = sandbox.twilio.countsByRecipient()
    for (const i of [0, 1, 3, 5, 6]) expect(counts.get(phone(i))).toBe(1)
    process.stderr.write(
      `[campaign-destinations] ${EXPECTED} outcomes, a restart, 2 more: ${sandbox.segment.received(WRITE_KEY)} received, ${sandbox.segment.uniqueMessageIds(WRITE_KEY)} unique\n`,
    )
  })

  it('a campaign whose Destination is missing sends nothing and says which', async () => {
    const ns = await createNamespace(c.core, 'campaign-dest-missing')
    await createSecret(c.core, ns, 'twilio', { accountSid: ACCOUNT, authToken: AUTH_TOKEN })
    await createSecret(c.core, ns, 'players', { 'players.csv': `phone,name\n${phone(100)},Fay` })
    await createResource(c, 'MessageCampaign', ns, 'held', {
      channel: 'sms',
      from: '+15005550006',
      credentialsSecretRef: { name: 'twilio' },
      endpoint: sandbox.twilioEndpoint,
      template: { body: 'Hi {{name}}' },
      recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
      destinationRefs: [{ name: 'nowhere' }],
    })
    const o = await waitForCondition(c, 'messagecampaigns', ns, 'held', 'Ready', 'False', undefined, 30_000)
    expect(condition(o, 'Ready')?.reason).toBe('DestinationNotFound')
    expect(condition(o, 'Ready')?.message).toContain('"nowhere"')
    await sleep(2_000)
    expect(sandbox.twilio.messagesTo(phone(100))).toHaveLength(0)
    // once it exists, the campaign goes on
    await createSecret(c.core, ns, 'cdp', { writeKey: `${WRITE_KEY}-2` })
    await createResource(c, 'Destination', ns, 'nowhere', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await waitFor(
      'the campaign to complete once its Destination is ready',
      async () => {
        const x = await getObj(c.custom, 'messagecampaigns', ns, 'held')
        return x.status?.phase === 'Completed' ? x : undefined
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    )
    expect(sandbox.twilio.messagesTo(phone(100))).toHaveLength(1)
    await waitFor('its outcome at Segment', () =>
      sandbox.segment.uniqueMessageIds(`${WRITE_KEY}-2`) >= 1 ? true : undefined,
    )
  })
})
