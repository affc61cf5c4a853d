/**
 * Leader failover mid-campaign: controller processes with leader election, the leader killed with
 * SIGKILL twice while it sends (once right after Twilio accepted a message and before its
 * progress was written), a standby taking over each time. Each recipient is messaged exactly
 * once, by Twilio's (the sandbox's) own message list.
 */
import { CoordinationV1Api } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  clients,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  waitFor,
} from './helpers.ts'
import { type ControllerProcess, spawnController } from './process.ts'

const ACCOUNT = `AC${'f6'.repeat(16)}`
const AUTH_TOKEN = 'failover-auth-token-PLANTED-0005'
const N = 300
const LEASE = 'switchboard-controller'
const phone = (i: number) => `+2774${String(i).padStart(7, '0')}`

describe('a MessageCampaign across leader failovers', () => {
  let c: Clients
  let coordination: CoordinationV1Api
  let sandbox: Sandbox
  let leaseNs: string
  const procs = new Map<string, ControllerProcess>()

  const start = (name: string) => {
    const p = spawnController(
      [
        '--kubeconfig',
        inject('kubeconfigPath'),
        '--leader-elect',
        '--leader-election-namespace',
        leaseNs,
        '--metrics-bind-address',
        '0',
        '--provider-timeout',
        '1s',
      ],
      { POD_NAME: name, LOG_LEVEL: 'info' },
    )
    procs.set(name, p)
    return p
  }
  const holder = async () =>
    (await coordination.readNamespacedLease({ name: LEASE, namespace: leaseNs }).catch(() => undefined))?.spec
      ?.holderIdentity ?? ''
  const leaderName = async (not?: string) =>
    waitFor(
      'a (new) lease holder',
      async () => {
        const h = await holder()
        const name = [...procs.keys()].find((n) => h.startsWith(`${n}_`))
        return name && name !== not ? name : undefined
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    )

  beforeAll(async () => {
    c = clients()
    coordination = c.kc.makeApiClient(CoordinationV1Api)
    await installCrds(c.kc)
    sandbox = await buildSandbox({ twilio: { accounts: [{ sid: ACCOUNT, authToken: AUTH_TOKEN }] } })
    await sandbox.listen()
    leaseNs = await createNamespace(c.core, 'campaign-failover-lease')
  })

  afterAll(async () => {
    for (const p of procs.values()) p.kill('SIGKILL')
    await Promise.all([...procs.values()].map((p) => p.exited))
    await sandbox?.close()
  })

  it('the leader killed twice mid-campaign (once right after an accepted send): every recipient messaged exactly once', async () => {
    const ns = await createNamespace(c.core, 'campaign-failover')
    await createSecret(c.core, ns, 'twilio', { accountSid: ACCOUNT, authToken: AUTH_TOKEN })
    const lines = ['phone,name']
    for (let i = 0; i < N; i++) lines.push(`${phone(i)},P${i}`)
    await createSecret(c.core, ns, 'players', { 'players.csv': lines.join('\n') })
    start('replica-a')
    start('replica-b')
    const mine = () => sandbox.twilio.messages.filter((m) => m.accountSid === ACCOUNT).length
    await createResource(c, 'MessageCampaign', ns, 'failover', {
      channel: 'sms',
      from: '+15005550006',
      credentialsSecretRef: { name: 'twilio' },
      endpoint: sandbox.twilioEndpoint,
      template: { body: 'Hi {{name}}' },
      recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
      rate: 25,
    })
    const points: string[] = []

    // 1. the leader dies inside Twilio's accept: the message is stored, its 201 never arrives
    const first = await leaderName()
    const killedAt = await new Promise<number>((resolveKill) => {
      sandbox.twilio.onAccepted = () => {
        if (mine() >= 60) {
          sandbox.twilio.onAccepted = undefined
          procs.get(first)?.kill('SIGKILL')
          resolveKill(mine())
        }
      }
    })
    await procs.get(first)?.exited
    points.push(`${first} killed after accepted send #${killedAt}`)
    start('replica-c')
    const second = await leaderName(first)
    const tookOver = Date.now()
    await waitFor(
      'sending to go on under the new leader',
      () => (mine() > killedAt + 20 ? true : undefined),
      {
        timeoutMs: 90_000,
        intervalMs: 100,
      },
    )
    points.push(`${second} took over, sending again ${Date.now() - tookOver} ms after it held the lease`)
    expect([...sandbox.twilio.countsByRecipient().values()].filter((n) => n > 1)).toEqual([])

    // 2. the new leader dies mid-batch
    const before = mine()
    await waitFor('a few more sends', () => (mine() > before + 15 ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 50,
    })
    procs.get(second)?.kill('SIGKILL')
    await procs.get(second)?.exited
    points.push(`${second} killed mid-batch at #${mine()}`)
    const third = await leaderName(second)
    points.push(`${third} took over`)

    const done = await waitFor(
      'the campaign to complete',
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, 'failover')
        return o.status?.phase === 'Completed' ? o : undefined
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    )
    const counts = sandbox.twilio.countsByRecipient()
    let twice = 0
    let missed = 0
    for (let i = 0; i < N; i++) {
      const n = counts.get(phone(i)) ?? 0
      if (n > 1) twice++
      if (n === 0) missed++
    }
    expect({ twice, missed }).toEqual({ twice: 0, missed: 0 })
    expect(mine()).toBe(N)
    expect(done.status?.totals).toMatchObject({ recipients: N, sent: N, pending: 0, skipped: 0 })
    const output = [...procs.values()].map((p) => p.output()).join('')
    expect(output).not.toContain(AUTH_TOKEN)
    for (let i = 0; i < N; i += 29) expect(output).not.toContain(phone(i).slice(1))
    process.stderr.write(
      `[campaign-failover] ${points.join('; ')}; ${N} messaged once each, 0 twice, 0 missed\n`,
    )
  }, 600_000)
})
