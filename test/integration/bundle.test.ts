/**
 * The production bundle (hack/ship/bundle.ts, what the image runs) built from the current sources
 * and run as the controller against the test API server: its caches sync, a Destination becomes
 * Ready, a MessageCampaign sends through the Twilio SDK (a lazily loaded chunk of the bundle) to
 * the sandbox, and SIGTERM ends it with 0. Both commands answer --help.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { installCrds } from '../../crds/index.ts'
import { bundle } from '../../hack/ship/bundle.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  clients,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  waitFor,
  waitForCondition,
} from './helpers.ts'
import { type ControllerProcess, spawnController } from './process.ts'

const run = promisify(execFile)
const ACCOUNT = `AC${'b7'.repeat(16)}`
const AUTH_TOKEN = 'bundle-auth-token-PLANTED-0001'

describe('the production bundle', () => {
  let c: Clients
  let dir: string
  let entry: string
  let sandbox: Sandbox
  let ns: string
  let controller: ControllerProcess | undefined

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    dir = mkdtempSync(join(tmpdir(), 'switchboard-bundle-'))
    entry = (await bundle(dir)).file
    sandbox = await buildSandbox({ twilio: { accounts: [{ sid: ACCOUNT, authToken: AUTH_TOKEN }] } })
    await sandbox.listen()
    ns = await createNamespace(c.core, 'bundle')
  }, 120_000)

  afterAll(async () => {
    controller?.kill('SIGKILL')
    await sandbox?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is one entry file and lazily loaded chunks, with no imports left to node_modules', async () => {
    expect(readdirSync(dir).sort()).toEqual(['chunks', 'switchboard.mjs'])
    // the bundle sits in a temp directory with no node_modules above it, so a bare import left in
    // it (or in a chunk, loaded below by the campaign) would fail
    expect(existsSync(join(dir, '..', 'node_modules'))).toBe(false)
    const help = await run(process.execPath, [entry, 'controller', '--help'], { cwd: tmpdir() })
    expect(help.stdout).toContain('--leader-elect')
    const hooks = await run(process.execPath, [entry, 'webhooks', '--help'], { cwd: tmpdir() })
    expect(hooks.stdout).toContain('--bind-address')
  })

  it('runs the controller: caches synced, a Destination Ready, Twilio messages sent, SIGTERM exits 0', async () => {
    controller = spawnController(
      ['--kubeconfig', inject('kubeconfigPath'), '--namespaces', ns, '--metrics-bind-address', '127.0.0.1:0'],
      {},
      entry,
    )
    const port = await controller.metricsPort()
    await controller.waitForLog((l) => l.msg === 'caches synced', 60_000)
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200)

    await createSecret(c.core, ns, 'cdp', { writeKey: 'wk-bundle' })
    await createResource(c, 'Destination', ns, 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await waitForCondition(c, 'destinations', ns, 'cdp', 'Ready', 'True', undefined, 30_000)

    const phones = ['+27830000001', '+27830000002', '+27830000003']
    await createSecret(c.core, ns, 'twilio', { accountSid: ACCOUNT, authToken: AUTH_TOKEN })
    await createSecret(c.core, ns, 'players', {
      'players.csv': ['phone,name', ...phones.map((p, i) => `${p},Ada${i}`)].join('\n'),
    })
    await createResource(c, 'MessageCampaign', ns, 'hello', {
      channel: 'sms',
      from: '+15005550006',
      credentialsSecretRef: { name: 'twilio' },
      endpoint: sandbox.twilioEndpoint,
      template: { body: 'Hello {{name}}' },
      recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
      rate: 100,
    })
    await waitFor('three messages at the Twilio sandbox', () => sandbox.twilio.messages.length >= 3, {
      timeoutMs: 60_000,
    })
    expect(sandbox.twilio.messages.map((m) => m.to).sort()).toEqual(phones)
    const campaign = await waitFor(
      'the campaign to count its three sent messages',
      async () => {
        const o = await getObj(c.custom, 'messagecampaigns', ns, 'hello')
        const totals = o.status?.totals as { sent?: number; delivered?: number } | undefined
        return (totals?.sent ?? 0) + (totals?.delivered ?? 0) >= 3 ? o : undefined
      },
      { timeoutMs: 30_000 },
    )
    expect(campaign.status?.totals).toMatchObject({ recipients: 3 })
    expect(controller.output()).not.toContain(AUTH_TOKEN)

    controller.kill('SIGTERM')
    expect(await controller.exited).toBe(0)
    controller = undefined
  })
})
