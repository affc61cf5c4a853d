/**
 * The sidecar layout end to end: `switchboard controller --webhook-bridge-socket` and
 * `switchboard webhooks --controller-socket` as two processes, the webhook one with no kubeconfig
 * and no token. Twilio's status callbacks reach the campaign's progress through the bridge, and a
 * flood of forged deliveries becomes a bounded number of Events, also when the flood is sent to
 * the bridge itself (what a compromised webhook container could do).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import twilio from 'twilio'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { installCrds } from '../../crds/index.ts'
import { bridgeCall, REJECT_REASONS } from '../../webhooks/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  clients,
  createNamespace,
  createResource,
  createSecret,
  eventsFor,
  getObj,
  type Obj,
  sleep,
  waitFor,
} from './helpers.ts'
import { type ControllerProcess, spawnController } from './process.ts'

const ACCOUNT = `AC${'b7'.repeat(16)}`
const AUTH_TOKEN = 'bridge-sinks-auth-token-PLANTED-0003'
const N = 40
const phone = (i: number) => `+2776${String(i).padStart(7, '0')}`
/** These end `undelivered` (30003). */
const UNREACHABLE = [3, 17, 29]

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

const rejectedCount = (events: Awaited<ReturnType<typeof eventsFor>>) =>
  events.filter((e) => e.reason === 'WebhookRejected').reduce((n, e) => n + (e.count ?? 1), 0)

describe('the sidecar layout: refusals and callbacks through the webhook bridge', () => {
  let c: Clients
  let sandbox: Sandbox
  let controller: ControllerProcess
  let webhooks: ChildProcess
  let webhookErr = ''
  let dir: string
  let socket: string
  let hooksUrl: string

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      twilio: {
        accounts: [{ sid: ACCOUNT, authToken: AUTH_TOKEN }],
        unreachable: UNREACHABLE.map(phone),
        callbackDelayMs: 5,
      },
    })
    await sandbox.listen()
    dir = mkdtempSync(join(tmpdir(), 'sb-bridge-sinks-'))
    socket = join(dir, 'bridge.sock')
    const port = await freePort()
    hooksUrl = `http://127.0.0.1:${port}`
    controller = spawnController(
      [
        '--kubeconfig',
        inject('kubeconfigPath'),
        '--metrics-bind-address',
        '0',
        '--webhook-bridge-socket',
        socket,
        '--public-url',
        hooksUrl,
      ],
      { LOG_LEVEL: 'info' },
    )
    await controller.waitForLog((l) => l.msg === 'answering the webhook server on the bridge socket', 60_000)
    // the webhook container: no kubeconfig, no in-cluster token, only the socket
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir }
    delete env.KUBECONFIG
    delete env.KUBERNETES_SERVICE_HOST
    webhooks = spawn(
      process.execPath,
      [
        resolve(import.meta.dirname, '../../bin/switchboard.ts'),
        'webhooks',
        '--controller-socket',
        socket,
        '--bind-address',
        `127.0.0.1:${port}`,
        '--public-url',
        hooksUrl,
        '--rate-limit',
        '0',
        '--log-level',
        'info',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    webhooks.stdout?.on('data', (d: Buffer) => {
      webhookErr += d.toString('utf8')
    })
    webhooks.stderr?.on('data', (d: Buffer) => {
      webhookErr += d.toString('utf8')
    })
    await waitFor(
      'the webhook process to be ready',
      async () => ((await fetch(`${hooksUrl}/readyz`).catch(() => undefined))?.ok ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 200 },
    )
  })

  afterAll(async () => {
    webhooks?.kill('SIGTERM')
    controller?.kill('SIGTERM')
    await controller?.exited
    await sandbox?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  let ns: string
  let campaign: Obj

  it('Twilio status callbacks reach the campaign through the bridge: delivered and undelivered follow them', async () => {
    ns = await createNamespace(c.core, 'bridge-sinks')
    await createSecret(c.core, ns, 'twilio', { accountSid: ACCOUNT, authToken: AUTH_TOKEN })
    const lines = ['phone,name']
    for (let i = 0; i < N; i++) lines.push(`${phone(i)},P${i}`)
    await createSecret(c.core, ns, 'players', { 'players.csv': lines.join('\n') })
    await createResource(c, 'MessageCampaign', ns, 'reminders', {
      channel: 'sms',
      from: '+15005550006',
      credentialsSecretRef: { name: 'twilio' },
      endpoint: sandbox.twilioEndpoint,
      template: { body: 'Hi {{name}}' },
      recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
      rate: 100,
    })
    campaign = await waitFor(
      'every delivery status counted from the callbacks',
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, 'reminders')
        const t = o.status?.totals as Record<string, number> | undefined
        return o.status?.phase === 'Completed' &&
          t?.delivered === N - UNREACHABLE.length &&
          t.undelivered === UNREACHABLE.length
          ? o
          : undefined
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    )
    expect(sandbox.twilio.messages).toHaveLength(N)
    // every callback was answered as accepted by the webhook server (none refused or lost)
    const answered = sandbox.twilio.callbacks.filter((cb) => cb.url.startsWith(hooksUrl))
    expect(answered).toHaveLength(2 * N)
    expect(answered.filter((cb) => cb.status !== 200)).toEqual([])
    const sandboxDelivered = sandbox.twilio.messages.filter((m) => m.status === 'delivered').length
    expect(campaign.status?.totals).toMatchObject({
      recipients: N,
      sent: N,
      delivered: sandboxDelivered,
      undelivered: UNREACHABLE.length,
      pending: 0,
    })
    // the inbox the webhook side filled through the controller was drained
    await waitFor('the inbox drained', async () => {
      const o = await getObj(c.custom, 'messagecampaigns', ns, 'reminders')
      return Object.keys((o.status?.deliveryInbox as object | undefined) ?? {}).length === 0 ? o : undefined
    })
    process.stderr.write(
      `[bridge-sinks] ${answered.length} callbacks through the bridge, delivered ${sandboxDelivered}, undelivered ${UNREACHABLE.length}\n`,
    )
  })

  it('a late `sent` redelivered after `delivered` does not move a recipient backwards', async () => {
    const delivered = sandbox.twilio.callbacks.find(
      (cb) => cb.url.startsWith(hooksUrl) && cb.params.MessageStatus === 'delivered',
    )
    expect(delivered).toBeDefined()
    if (!delivered) return
    // a `sent` for the same message, signed as Twilio signs it, arriving late
    const params = { ...delivered.params, MessageStatus: 'sent', SmsStatus: 'sent' }
    const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, delivered.url, params)
    const res = await fetch(delivered.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams(params).toString(),
    })
    expect(res.status).toBe(200)
    await sleep(3_000)
    const o = await getObj(c.custom, 'messagecampaigns', ns, 'reminders')
    expect((o.status?.totals as Record<string, number> | undefined)?.delivered).toBe(N - UNREACHABLE.length)
  })

  it('a flood of forged callbacks records one Event per reason; a flood sent to the bridge itself stays bounded', async () => {
    const hook = campaign.status?.webhook as { path: string; url: string }
    const before = rejectedCount(await eventsFor(c.core, ns, 'reminders'))
    expect(before).toBe(0)
    const body = new URLSearchParams({
      AccountSid: ACCOUNT,
      MessageSid: `SM${'0'.repeat(32)}`,
      MessageStatus: 'delivered',
    }).toString()
    const statuses = new Map<number, number>()
    const FORGED = 600
    for (let i = 0; i < FORGED; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          fetch(`${hooksUrl}${hook.path}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              // a third without a signature, the rest with a wrong one
              ...((i + j) % 3 === 0 ? {} : { 'x-twilio-signature': `forged${i + j}` }),
            },
            body,
          }).then((r) => r.status),
        ),
      )
      for (const s of batch) statuses.set(s, (statuses.get(s) ?? 0) + 1)
    }
    expect(Object.fromEntries(statuses)).toEqual({ 401: FORGED })
    const events = await waitFor('the Events of the refusals', async () => {
      const list = (await eventsFor(c.core, ns, 'reminders')).filter((e) => e.reason === 'WebhookRejected')
      return list.length >= 2 ? list : undefined
    })
    await sleep(2_000)
    const after = (await eventsFor(c.core, ns, 'reminders')).filter((e) => e.reason === 'WebhookRejected')
    // one per reason: bad_signature and missing_signature
    expect(rejectedCount(after)).toBe(2)
    expect(events.length).toBeGreaterThanOrEqual(2)
    expect(after.some((e) => e.message?.includes('(bad_signature)'))).toBe(true)
    expect(after.some((e) => e.message?.includes('(missing_signature)'))).toBe(true)
    // the controller writes them, on behalf of the webhook server
    expect(after.every((e) => e.source?.component === 'switchboard-webhooks')).toBe(true)

    // what a compromised webhook container could send the bridge: every reason, many times over,
    // for this object, for objects it does not route to, with made-up reasons and providers
    const item = (reason: string, over: Record<string, string> = {}) => ({
      kind: 'MessageCampaign',
      namespace: ns,
      name: 'reminders',
      provider: 'twilio',
      reason,
      ...over,
    })
    let taken = 0
    let refused = 0
    for (let round = 0; round < 10; round++) {
      const items = [
        ...REJECT_REASONS.flatMap((r) => [item(r), item(r)]),
        item('bad_signature', { name: 'nobody' }),
        item('bad_signature', { provider: 'patreon' }),
        item('made_up'),
      ]
      const res = await bridgeCall(socket, 'POST', '/v1/rejects', { items: items.slice(0, 100) })
      expect(res.status).toBe(200)
      const j = res.json as { taken: number; refused: number }
      taken += j.taken
      refused += j.refused
    }
    expect(refused).toBe(30)
    expect(taken).toBe(10 * 2 * REJECT_REASONS.length)
    // more than 100 items, or a shape it does not know, is refused whole
    const tooMany = Array.from({ length: 101 }, () => item('bad_signature'))
    expect((await bridgeCall(socket, 'POST', '/v1/rejects', { items: tooMany })).status).toBe(400)
    expect(
      (await bridgeCall(socket, 'POST', '/v1/rejects', { items: [{ ...item('stale'), message: 'x' }] }))
        .status,
    ).toBe(400)
    await sleep(3_000)
    const flooded = rejectedCount(await eventsFor(c.core, ns, 'reminders'))
    // at most one per reason a minute: the two already recorded stay one each
    expect(flooded).toBeLessThanOrEqual(REJECT_REASONS.length)
    expect(flooded).toBeGreaterThan(2)
    // callbacks for a message of this campaign from another provider, or for an object not
    // routed, are refused; a forged inbox entry through the bridge is not even possible for a
    // kind without a callback field
    const cb = (over: Record<string, unknown>) => ({
      kind: 'MessageCampaign',
      namespace: ns,
      name: 'reminders',
      event: {
        provider: 'twilio',
        type: 'message-status',
        key: `SM${'1'.repeat(32)}`,
        deliveryId: 'x',
        occurredAt: new Date().toISOString(),
        data: { status: 'delivered', errorCode: null },
        rank: 6,
        ...over,
      },
    })
    const res = await bridgeCall(socket, 'POST', '/v1/callbacks', {
      items: [cb({ provider: 'patreon' }), { ...cb({}), name: 'nobody' }],
    })
    expect(res).toEqual({ status: 200, json: { taken: 0, refused: 2 } })
    expect((await bridgeCall(socket, 'POST', '/v1/callbacks', { items: [cb({ key: 'a b' })] })).status).toBe(
      400,
    )
    process.stderr.write(
      `[bridge-sinks] ${FORGED} forged deliveries -> ${rejectedCount(after)} Events; ${taken} refusals sent to the bridge directly -> ${flooded} Events in all\n`,
    )
    // nothing secret in either process's output
    const output = controller.output() + webhookErr
    expect(output).not.toContain(AUTH_TOKEN)
    for (let i = 0; i < N; i += 7) expect(output).not.toContain(phone(i).slice(1))
  })
})
