import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createOperator, type Operator } from '../../controller/index.ts'
import { mergePatch } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
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

const ACCOUNT = `AC${'c3'.repeat(16)}`
const AUTH_TOKEN = 'campaign-auth-token-PLANTED-0001'
const FROM = '+15005550006'
const WA_FROM = 'whatsapp:+15005550006'

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

/** `+27 83 xxx xxxx`-style numbers, distinct per index. */
const phone = (i: number, prefix = '2783') => `+${prefix}${String(i).padStart(7, '0')}`

type Totals = {
  recipients: number
  pending: number
  sent: number
  delivered: number
  undelivered: number
  failed: number
  read: number
  skipped: number
  skippedByReason: Record<string, number>
}
const totalsOf = (o: Obj) => o.status?.totals as Totals | undefined

describe('MessageCampaign against the Twilio sandbox', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  let webhooks: ChildProcess
  let hooksUrl: string
  const logs = capturedLogger('debug')
  let clock = new Date()

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      twilio: {
        accounts: [{ sid: ACCOUNT, authToken: AUTH_TOKEN }],
        optedOut: [phone(2, '2782')],
        invalidNumbers: [phone(3, '2782')],
        unreachable: [phone(4, '2782')],
        callbackDelayMs: 5,
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
    operator = createOperator({
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl: hooksUrl,
      providerHttp: { timeoutMs: 1_000 },
      campaign: { settleMs: 1_500, recheckAfterMs: 15_000, now: () => clock },
    })
    await operator.start()
  })

  afterAll(async () => {
    webhooks?.kill('SIGTERM')
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  const setup = async (prefix: string, csv: string) => {
    const ns = await createNamespace(c.core, prefix)
    await createSecret(c.core, ns, 'twilio', { accountSid: ACCOUNT, authToken: AUTH_TOKEN })
    await createSecret(c.core, ns, 'players', { 'players.csv': csv })
    return ns
  }
  const campaign = (spec: Record<string, unknown> = {}) => ({
    channel: 'sms',
    from: FROM,
    credentialsSecretRef: { name: 'twilio' },
    endpoint: sandbox.twilioEndpoint,
    template: { body: 'Hey {{name}}, your course starts soon: {{link}}' },
    recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
    rate: 1000,
    ...spec,
  })
  const waitPhase = (ns: string, name: string, phase: string, timeoutMs = 60_000) =>
    waitFor(
      `${ns}/${name} phase ${phase}`,
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, name)
        return o.status?.phase === phase && o.status.observedGeneration === o.metadata.generation
          ? o
          : undefined
      },
      { timeoutMs, intervalMs: 200 },
    )

  it('10,000 recipients: exactly one message each, counts equal the sandbox, deliveries follow the callbacks', async () => {
    clock = new Date()
    const N = 10_000
    const lines = ['phone,name,link']
    for (let i = 0; i < N; i++) lines.push(`${phone(i)},Ada${i},https://learn.example/c/${i}`)
    const ns = await setup('campaign-10k', lines.join('\n'))
    await createResource(c, 'MessageCampaign', ns, 'course', campaign())
    const started = Date.now()
    const done = await waitPhase(ns, 'course', 'Completed', 480_000)
    process.stderr.write(`[campaign] 10,000 messages sent in ${Date.now() - started} ms\n`)
    const counts = sandbox.twilio.countsByRecipient()
    let mine = 0
    for (let i = 0; i < N; i++) {
      expect(counts.get(phone(i))).toBe(1)
      mine++
    }
    expect(mine).toBe(N)
    expect(totalsOf(done)).toMatchObject({ recipients: N, pending: 0, sent: N, skipped: 0 })
    const m = sandbox.twilio.messagesTo(phone(17))[0]
    expect(m?.body).toBe('Hey Ada17, your course starts soon: https://learn.example/c/17')
    expect(m?.statusCallback).toBe((done.status?.webhook as { url?: string } | undefined)?.url)
    // every delivered callback reaches the campaign's totals
    let seen: Totals | undefined
    const delivered = await waitFor(
      'the delivered callbacks to be counted',
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, 'course')
        if (JSON.stringify(totalsOf(o)) !== JSON.stringify(seen)) {
          seen = totalsOf(o)
          const refused = sandbox.twilio.callbacks.filter((x) => x.status !== 200).length
          const inbox = Object.keys((o.status?.deliveryInbox as object | undefined) ?? {}).length
          process.stderr.write(
            `[campaign] delivered ${seen?.delivered}, inbox ${inbox}, callbacks refused ${refused}\n`,
          )
        }
        return totalsOf(o)?.delivered === N ? o : undefined
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    )
    const sandboxDelivered = sandbox.twilio.messages.filter(
      (x) => x.to.startsWith('+2783') && x.status === 'delivered',
    )
    expect(totalsOf(delivered)?.delivered).toBe(sandboxDelivered.length)
    expect(condition(delivered, 'Completed')?.status).toBe('True')
    expect(condition(delivered, 'CredentialsValid')?.status).toBe('True')
    expect(JSON.stringify(delivered.status).length).toBeLessThan(16_000)
  }, 780_000)

  it('skips with a reason each recipient it cannot message, and goes on; numbers are masked, never shown', async () => {
    clock = new Date()
    const csv = [
      'phone,name,link',
      `${phone(1, '2782')},Bo,https://l/1`, // sent, delivered
      `${phone(2, '2782')},Cy,https://l/2`, // opted out: 21610
      `${phone(3, '2782')},Di,https://l/3`, // Twilio says invalid: 21211
      `${phone(4, '2782')},Ed,https://l/4`, // undelivered 30003
      `${phone(5, '2782')},,https://l/5`, // no name: missingVariable
      '0821234567,Fi,https://l/6', // malformed: line 7
      `${phone(1, '2782')},Bo,https://l/1`, // listed twice: messaged once
    ].join('\n')
    const ns = await setup('campaign-skips', csv)
    await createResource(c, 'MessageCampaign', ns, 'skips', campaign())
    const done = await waitPhase(ns, 'skips', 'Completed')
    expect(sandbox.twilio.messagesTo(phone(1, '2782'))).toHaveLength(1)
    expect(sandbox.twilio.messagesTo(phone(5, '2782'))).toHaveLength(0)
    const o = await waitFor('the undelivered callback', async () => {
      const x = await getObj(c.custom, 'messagecampaigns', ns, 'skips')
      return totalsOf(x)?.undelivered === 1 && totalsOf(x)?.delivered === 1 ? x : undefined
    })
    expect(totalsOf(o)?.skippedByReason).toMatchObject({
      malformedNumber: 1,
      optedOut: 1,
      invalidNumber: 1,
      missingVariable: 1,
    })
    expect(totalsOf(o)).toMatchObject({ recipients: 6, sent: 2, skipped: 4, pending: 0 })
    const rv = condition(done, 'RecipientsValid')
    expect(rv?.status).toBe('False')
    expect(rv?.message).toContain('line 7')
    expect(rv?.message).not.toContain('0821234567')
    const failures = o.status?.recentFailures as Array<{ recipient: string; reason: string; code?: number }>
    expect(failures.find((f) => f.code === 21610)?.recipient).toBe('+2782*****02')
    // the opted-out number is never tried again
    await sleep(1_500)
    expect(sandbox.twilio.messagesTo(phone(2, '2782'))).toHaveLength(0)
    const everything = JSON.stringify(o) + JSON.stringify(await eventsFor(c.core, ns, 'skips')) + logs.text()
    for (const i of [1, 2, 3, 4, 5]) {
      expect(everything).not.toContain(phone(i, '2782'))
      expect(everything).not.toContain(phone(i, '2782').slice(1))
    }
    expect(everything).not.toContain('821234567')
    expect(everything).not.toContain(AUTH_TOKEN)
    // every number whole, with and without its +: metric values are digits too, so a fragment such
    // as the prefix can appear in a CPU time or a byte count without any number having leaked
    const metrics = await operator.manager.metrics.registry.metrics()
    for (const i of [1, 2, 3, 4, 5]) expect(metrics).not.toContain(phone(i, '2782').slice(1))
    expect(metrics).not.toContain(AUTH_TOKEN)
  }, 120_000)

  it('WhatsApp: a freeform body outside the session window is skipped with 63016; a Content template goes out', async () => {
    clock = new Date()
    const csv = ['phone,name', `${phone(1, '2784')},Ada`, `${phone(2, '2784')},Bea`].join('\n')
    const ns = await setup('campaign-wa', csv)
    sandbox.twilio.openSessions.add(phone(2, '2784'))
    await createResource(
      c,
      'MessageCampaign',
      ns,
      'free',
      campaign({ channel: 'whatsapp', from: WA_FROM, template: { body: 'Hi {{name}}' } }),
    )
    await waitPhase(ns, 'free', 'Completed')
    const o = await waitFor('the 63016 callback', async () => {
      const x = await getObj(c.custom, 'messagecampaigns', ns, 'free')
      return totalsOf(x)?.skippedByReason.outsideSessionWindow === 1 && totalsOf(x)?.delivered === 1
        ? x
        : undefined
    })
    expect(totalsOf(o)?.failed).toBe(0)
    await createResource(
      c,
      'MessageCampaign',
      ns,
      'template',
      campaign({
        channel: 'whatsapp',
        from: WA_FROM,
        template: { contentSid: `HX${'ab'.repeat(16)}`, contentVariables: { '1': '{{name}}' } },
      }),
    )
    await waitPhase(ns, 'template', 'Completed')
    const sent = sandbox.twilio.messagesTo(`whatsapp:${phone(1, '2784')}`)
    expect(sent.map((m) => m.contentVariables)).toEqual([null, '{"1":"Ada"}'])
  }, 120_000)

  it('quiet hours and the rate hold at the sandbox, with a fixed clock', async () => {
    // 22:30 in Johannesburg: outside 08:00-20:00
    clock = new Date('2026-12-01T20:30:00Z')
    const N = 12
    const lines = ['phone,name,link']
    for (let i = 0; i < N; i++) lines.push(`${phone(i, '2785')},P${i},https://l/${i}`)
    const ns = await setup('campaign-quiet', lines.join('\n'))
    await createResource(
      c,
      'MessageCampaign',
      ns,
      'quiet',
      campaign({ rate: 4, window: { timeZone: 'Africa/Johannesburg', start: '08:00', end: '20:00' } }),
    )
    const scheduled = await waitPhase(ns, 'quiet', 'Scheduled')
    expect(scheduled.status?.nextSendTime).toBe('2026-12-02T06:00:00Z')
    await sleep(1_500)
    expect(sandbox.twilio.messages.filter((m) => m.to.startsWith('+2785'))).toHaveLength(0)
    clock = new Date('2026-12-02T06:00:00Z')
    // a spec change (or the requeue) wakes it; the requested-at annotation does it at once
    await c.custom.patchNamespacedCustomObject(
      {
        group: 'switchboard.dev',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'messagecampaigns',
        name: 'quiet',
        body: { metadata: { annotations: { 'switchboard.dev/requested-at': 'now' } } },
      },
      mergePatch,
    )
    await waitPhase(ns, 'quiet', 'Completed', 30_000)
    const times = sandbox.twilio.messages.filter((m) => m.to.startsWith('+2785')).map((m) => m.receivedAt)
    expect(times).toHaveLength(N)
    // at most 4 in any second
    // evenly spaced at 4/s: at most 4 in any second (one more for network jitter)
    for (const t of times) expect(times.filter((x) => x >= t && x < t + 1000).length).toBeLessThanOrEqual(5)
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(((N - 1) * 1000) / 4 - 300)
  }, 120_000)

  it('a message whose status callbacks are lost gets its status from Twilio; the counts converge', async () => {
    clock = new Date()
    const N = 6
    const lines = ['phone,name,link']
    for (let i = 0; i < N; i++) lines.push(`${phone(i, '2788')},L${i},https://l/${i}`)
    for (const i of [0, 1, 3]) sandbox.twilio.lostCallbacks.add(phone(i, '2788'))
    sandbox.twilio.unreachable.add(phone(3, '2788'))
    const lostBefore = sandbox.twilio.lost
    const ns = await setup('campaign-lost', lines.join('\n'))
    await createResource(c, 'MessageCampaign', ns, 'lost', campaign({ rate: 50 }))
    await waitPhase(ns, 'lost', 'Completed')
    const done = await waitFor(
      'the statuses of the messages without callbacks read from Twilio',
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, 'lost')
        const t = totalsOf(o)
        return t?.delivered === 5 && t.undelivered === 1 ? o : undefined
      },
      { timeoutMs: 90_000, intervalMs: 300 },
    )
    // their callbacks (sent, then delivered or undelivered) never went out
    expect(sandbox.twilio.lost - lostBefore).toBe(6)
    expect(totalsOf(done)).toMatchObject({ recipients: N, sent: N, pending: 0 })
    expect(done.status?.recentFailures).toEqual(
      expect.arrayContaining([expect.objectContaining({ reason: 'undelivered', code: 30003 })]),
    )
    const reads = logs
      .text()
      .split('\n')
      .filter((l) => l.includes('"name":"lost"') && l.includes('delivery statuses read from Twilio'))
    expect(reads.length).toBeGreaterThan(0)
    for (let i = 0; i < N; i++) expect(sandbox.twilio.messagesTo(phone(i, '2788'))).toHaveLength(1)
  }, 120_000)

  it('suspend pauses mid-campaign and resume continues; recipients added to the Secret are messaged once, removed ones not', async () => {
    clock = new Date()
    const N = 30
    const lines = ['phone,name,link']
    for (let i = 0; i < N; i++) lines.push(`${phone(i, '2786')},S${i},https://l/${i}`)
    const ns = await setup('campaign-suspend', lines.join('\n'))
    await createResource(c, 'MessageCampaign', ns, 'slow', campaign({ rate: 5 }))
    const sentSoFar = () => sandbox.twilio.messages.filter((m) => m.to.startsWith('+2786')).length
    await waitFor('some messages to go out', () => (sentSoFar() >= 5 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 50,
    })
    const patch = (body: unknown, plural = 'messagecampaigns', name = 'slow') =>
      c.custom.patchNamespacedCustomObject(
        { group: 'switchboard.dev', version: 'v1alpha1', namespace: ns, plural, name, body },
        mergePatch,
      )
    await patch({ spec: { suspend: true } })
    const paused = await waitPhase(ns, 'slow', 'Paused', 30_000)
    await sleep(1_500)
    const atPause = sentSoFar()
    await sleep(1_500)
    expect(sentSoFar()).toBe(atPause)
    expect(atPause).toBeLessThan(N)
    expect(paused.status?.phase).toBe('Paused')
    // edit the list while paused: drop the last five (not yet messaged), add two
    const kept = lines.slice(0, 1 + N - 5)
    kept.push(`${phone(100, '2786')},New1,https://l/n1`, `${phone(101, '2786')},New2,https://l/n2`)
    await c.core.replaceNamespacedSecret({
      namespace: ns,
      name: 'players',
      body: { metadata: { name: 'players', namespace: ns }, stringData: { 'players.csv': kept.join('\n') } },
    })
    await patch({ spec: { suspend: false } })
    const done = await waitPhase(ns, 'slow', 'Completed', 60_000)
    const counts = sandbox.twilio.countsByRecipient()
    for (let i = 0; i < N - 5; i++) expect(counts.get(phone(i, '2786'))).toBe(1)
    for (let i = N - 5; i < N; i++) expect(counts.get(phone(i, '2786'))).toBeUndefined()
    expect(counts.get(phone(100, '2786'))).toBe(1)
    expect(counts.get(phone(101, '2786'))).toBe(1)
    expect(totalsOf(done)).toMatchObject({ recipients: N - 5 + 2, sent: N - 5 + 2, pending: 0 })
  }, 120_000)

  it('429 with Retry-After, 5xx, timeouts and lost responses: nobody twice, nobody missed', async () => {
    clock = new Date()
    const N = 60
    const lines = ['phone,name,link']
    for (let i = 0; i < N; i++) lines.push(`${phone(i, '2787')},F${i},https://l/${i}`)
    const ns = await setup('campaign-faults', lines.join('\n'))
    sandbox.faults.inject({
      provider: 'twilio',
      status: 429,
      retryAfterSeconds: 1,
      times: 2,
      path: `/twilio/2010-04-01/Accounts/${ACCOUNT}/Messages.json`,
    })
    sandbox.faults.inject({
      provider: 'twilio',
      status: 503,
      times: 3,
      path: `/twilio/2010-04-01/Accounts/${ACCOUNT}/Messages.json`,
    })
    sandbox.faults.inject({
      provider: 'twilio',
      delayMs: 1_500,
      times: 3,
      path: `/twilio/2010-04-01/Accounts/${ACCOUNT}/Messages.json`,
    })
    sandbox.twilio.loseResponses = 4
    sandbox.twilio.acceptThenFail = { times: 3, status: 500 }
    await createResource(c, 'MessageCampaign', ns, 'faults', campaign({ rate: 50 }))
    const done = await waitPhase(ns, 'faults', 'Completed', 90_000)
    const counts = sandbox.twilio.countsByRecipient()
    for (let i = 0; i < N; i++) expect(counts.get(phone(i, '2787')), phone(i, '2787')).toBe(1)
    expect(totalsOf(done)).toMatchObject({ recipients: N, sent: N, pending: 0 })
  }, 120_000)
})
