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

const ACCOUNT = `AC${'d4'.repeat(16)}`
const AUTH_TOKEN = 'crash-auth-token-PLANTED-0002'
const N = 400
const KILLS = 22
const phone = (i: number) => `+2779${String(i).padStart(7, '0')}`

describe('a MessageCampaign whose controller is killed with SIGKILL again and again', () => {
  let c: Clients
  let sandbox: Sandbox
  const procs: ControllerProcess[] = []

  const start = () => {
    const p = spawnController(
      ['--kubeconfig', inject('kubeconfigPath'), '--metrics-bind-address', '0', '--provider-timeout', '1s'],
      { LOG_LEVEL: 'debug' },
    )
    procs.push(p)
    return p
  }

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({ twilio: { accounts: [{ sid: ACCOUNT, authToken: AUTH_TOKEN }] } })
    await sandbox.listen()
  })

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
    await sandbox?.close()
  })

  it(`${KILLS} kills (right after an accepted send, mid-batch, during lost responses): 0 messaged twice, 0 missed`, async () => {
    const ns = await createNamespace(c.core, 'campaign-crash')
    await createSecret(c.core, ns, 'twilio', { accountSid: ACCOUNT, authToken: AUTH_TOKEN })
    const lines = ['phone,name']
    for (let i = 0; i < N; i++) lines.push(`${phone(i)},P${i}`)
    await createSecret(c.core, ns, 'players', { 'players.csv': lines.join('\n') })
    await createResource(c, 'MessageCampaign', ns, 'crash', {
      channel: 'sms',
      from: '+15005550006',
      credentialsSecretRef: { name: 'twilio' },
      endpoint: sandbox.twilioEndpoint,
      template: { body: 'Hi {{name}}' },
      recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
      rate: 40,
    })
    const points: string[] = []
    for (let k = 0; k < KILLS; k++) {
      const before = sandbox.twilio.messages.length
      if (before >= N - 10) break
      const p = start()
      const kind = k % 3
      if (kind === 2) sandbox.twilio.loseResponses = 3
      const killed = new Promise<string>((resolveKill) => {
        if (kind === 0) {
          // inside the sandbox, after the message is stored and before its 201 goes out
          const target = before + 1 + ((k * 7) % 11)
          sandbox.twilio.onAccepted = () => {
            if (sandbox.twilio.messages.length >= target) {
              p.kill('SIGKILL')
              sandbox.twilio.onAccepted = undefined
              resolveKill(`after accepted send #${sandbox.twilio.messages.length}`)
            }
          }
        } else {
          // some time into the round's sending, wherever the controller is
          const poll = setInterval(() => {
            if (sandbox.twilio.messages.length > before) {
              clearInterval(poll)
              setTimeout(
                () => {
                  p.kill('SIGKILL')
                  resolveKill(
                    `${kind === 2 ? 'during lost responses, ' : ''}mid-batch at #${sandbox.twilio.messages.length}`,
                  )
                },
                50 + ((k * 137) % 400),
              )
            }
          }, 5)
        }
      })
      const point = await Promise.race([
        killed,
        new Promise<string>((r) => setTimeout(() => r('no send in 60 s'), 60_000)),
      ])
      p.kill('SIGKILL')
      await p.exited
      sandbox.twilio.onAccepted = undefined
      sandbox.twilio.loseResponses = 0
      points.push(point)
      const dupes = [...sandbox.twilio.countsByRecipient().values()].filter((n) => n > 1).length
      expect(dupes, `messaged twice after kill ${k} (${point})`).toBe(0)
    }
    const killedPoints = points.filter((x) => !x.startsWith('no send'))
    expect(killedPoints.length).toBeGreaterThanOrEqual(20)

    const last = start()
    await waitFor(
      'the campaign to complete after the kills',
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, 'crash')
        return o.status?.phase === 'Completed' ? o : undefined
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    )
    const counts = sandbox.twilio.countsByRecipient()
    const twice = [...counts.values()].filter((n) => n > 1).length
    let missed = 0
    for (let i = 0; i < N; i++) if (counts.get(phone(i)) !== 1) missed++
    expect(twice).toBe(0)
    expect(missed).toBe(0)
    expect(sandbox.twilio.messages).toHaveLength(N)
    const o = await getObj(c.custom, 'messagecampaigns', ns, 'crash')
    expect(o.status?.totals).toMatchObject({ recipients: N, sent: N, pending: 0 })
    const output = procs.map((p) => p.output()).join('') + JSON.stringify(o)
    for (let i = 0; i < N; i += 37) expect(output).not.toContain(phone(i).slice(1))
    expect(output).not.toContain(AUTH_TOKEN)
    last.kill('SIGTERM')
    process.stderr.write(`[campaign-crash] ${killedPoints.length} kills: ${killedPoints.join('; ')}\n`)
  }, 900_000)
})
