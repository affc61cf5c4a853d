/**
 * A unique value planted in every Secret key the casino platforms and the Destinations read
 * (credentials, write keys, signing and webhook secrets), every resource driven through success
 * and failure (a sync, wrong credentials, a provider error that echoes the secret back, refused
 * and accepted webhooks), then logs, Events, status, both processes' metrics and the webhook
 * answers are scanned for any planted value, plain or base64.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CasinoProvider } from '../../connectors/index.ts'
import { createOperator, type Operator, REQUESTED_AT_ANNOTATION } from '../../controller/index.ts'
import { EventRecorder, makeClients } from '../../controller/runtime/index.ts'
import { installCrds } from '../../crds/index.ts'
import {
  annotationPatcher,
  buildApp,
  CoalescingRequester,
  KubernetesTargetResolver,
  WebhookMetrics,
} from '../../webhooks/index.ts'
import { buildSandbox, casinoRequest, type Sandbox } from '../sandbox/index.ts'
import {
  annotate,
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createResource,
  createSecret,
  getObj,
  waitFor,
  waitForCondition,
} from './helpers.ts'

const TAG = randomBytes(4).toString('hex')
const planted: string[] = []
/** A value nobody else could produce, remembered for the scan. */
function plant(what: string): string {
  const v = `pl4nt-${what}-${TAG}-${randomBytes(6).toString('hex')}`
  planted.push(v)
  return v
}

interface Account {
  provider: CasinoProvider
  credentials: Record<string, string>
  settingsField: string
  settings: Record<string, string>
  sandboxSettings: Record<string, string>
}

const PUBLIC_URL = 'https://hooks.leak-scan.example'

describe('no planted secret anywhere', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  const logs = capturedLogger('debug')
  const accounts: Account[] = [
    {
      provider: 'softswiss',
      credentials: { apiKey: plant('apiKey'), apiSecret: plant('apiSecret') },
      settingsField: 'softswiss',
      settings: { casinoId: 'leak-ss' },
      sandboxSettings: { casinoId: 'leak-ss' },
    },
    {
      provider: 'altenar',
      credentials: { username: plant('username'), password: plant('password') },
      settingsField: 'altenar',
      settings: { operatorId: 'op1', brandId: 'b1' },
      sandboxSettings: { operatorId: 'op1', brandId: 'b1' },
    },
    {
      provider: 'betsoftware',
      credentials: { apiKey: plant('bsApiKey'), hashKey: plant('hashKey') },
      settingsField: 'betsoftware',
      settings: { partnerId: 'p1', siteId: 's1' },
      sandboxSettings: { partnerId: 'p1', siteId: 's1' },
    },
    {
      provider: 'playtech-pam',
      credentials: {
        clientId: plant('clientId'),
        clientSecret: plant('clientSecret'),
        licenseKey: plant('licenseKey'),
      },
      settingsField: 'playtechPam',
      settings: { region: 'eu' },
      sandboxSettings: {},
    },
  ]
  const namespaces: string[] = []
  const answers: string[] = []

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      casino: {
        accounts: accounts.map((a) => ({
          provider: a.provider,
          credentials: a.credentials,
          settings: a.sandboxSettings,
          size: { players: 3, transactions: 5, games: 2 },
        })),
      },
    })
    await sandbox.listen()
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      publicUrl: PUBLIC_URL,
      statusFlushDelayMs: 200,
      providerHttp: { timeoutMs: 1_000, retry: { maxRetryAfterMs: 1_000 } },
    })
    await operator.start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  it('across Destinations and CasinoIntegrations, success and failure, controller and webhook server', async () => {
    const kube = makeClients(c.kc)
    const resolver = new KubernetesTargetResolver({
      kubeConfig: c.kc,
      logger: logs.logger,
      recheckIntervalMs: 0,
    })
    const metrics = new WebhookMetrics()
    const requester = new CoalescingRequester({ patch: annotationPatcher(kube.custom), logger: logs.logger })
    const app = buildApp({
      resolver,
      requester,
      events: new EventRecorder({
        core: kube.core,
        component: 'switchboard-webhooks',
        instance: 'leak',
        logger: logs.logger,
      }),
      metrics,
      logger: logs.logger,
      publicUrl: PUBLIC_URL,
    })
    await resolver.start()
    try {
      for (const a of accounts) {
        const ns = await createNamespace(c.core, `leak-${a.provider}`)
        namespaces.push(ns)
        const writeKey = plant('writeKey')
        const webhookSecret = plant('webhookSecret')
        await createSecret(c.core, ns, 'cdp', { writeKey })
        await createResource(c, 'Destination', ns, 'cdp', {
          credentialsSecretRef: { name: 'cdp' },
          segment: { host: sandbox.url },
        })
        await createSecret(c.core, ns, 'hook', { signingSecret: plant('signingSecret-0123456789abcdef') })
        await createResource(c, 'Destination', ns, 'hook', {
          credentialsSecretRef: { name: 'hook' },
          http: { url: `${sandbox.url}/http/nobody` },
        })
        await createSecret(c.core, ns, 'platform', { ...a.credentials, webhookSecret })
        const spec = {
          provider: a.provider,
          [a.settingsField]: a.settings,
          endpoint: sandbox.casinoEndpoint(a.provider),
          credentialsSecretRef: { name: 'platform' },
          streams: [{ name: 'players' }, { name: 'transactions' }],
          destinationRefs: [{ name: 'cdp' }],
        }
        await createResource(c, 'CasinoIntegration', ns, 'casino', spec)
        // success
        const ready = await waitForCondition(
          c,
          'casinointegrations',
          ns,
          'casino',
          'Ready',
          'True',
          undefined,
          60_000,
        )
        // wrong credentials: the platform refuses them
        const wrong = Object.fromEntries(Object.keys(a.credentials).map((k) => [k, plant(`wrong-${k}`)]))
        await createSecret(c.core, ns, 'wrong', wrong)
        await createResource(c, 'CasinoIntegration', ns, 'refused', {
          ...spec,
          credentialsSecretRef: { name: 'wrong' },
        })
        await waitForCondition(c, 'casinointegrations', ns, 'refused', 'Ready', 'False', undefined, 60_000)
        // a provider error and a destination error that echo the secrets back
        sandbox.faults.inject({
          provider: a.provider,
          status: 400,
          times: 3,
          body: { error: `bad signature for ${Object.values(a.credentials).join(' ')}` },
        })
        sandbox.faults.inject({
          provider: 'segment',
          status: 400,
          times: 3,
          body: { message: `write key ${writeKey}` },
        })
        sandbox.casino.append(a.provider, a.sandboxSettings.casinoId ?? casinoKeyOf(a), 'players', 2)
        await annotate(c, 'casinointegrations', ns, 'casino', {
          [REQUESTED_AT_ANNOTATION]: new Date().toISOString(),
        })
        await waitFor(
          'the failing sync to be reported',
          async () => {
            const o = await getObj(c.custom, 'casinointegrations', ns, 'casino')
            return JSON.stringify(o.status).includes('"status":"False"') ? o : undefined
          },
          { timeoutMs: 30_000 },
        )
        sandbox.faults.reset()
        // webhooks: one forged (signed with a planted non-secret), one genuine
        const hook = ready.status?.webhook as { path: string; url: string }
        await waitFor('the webhook server to route the path', () => resolver.resolve(hook.path))
        for (const secret of [plant('forged'), webhookSecret]) {
          const req = casinoRequest({ url: hook.url, secret, body: { stream: 'players' } })
          const res = await app.inject({
            method: 'POST',
            url: hook.path,
            headers: req.headers,
            payload: req.body,
          })
          answers.push(res.body, JSON.stringify(res.headers))
        }
      }
      await requester.close({ timeoutMs: 5_000 })
      await new Promise((r) => setTimeout(r, 1_500))

      const haystacks: Array<[string, string]> = [['logs', logs.text()]]
      for (const ns of namespaces) {
        const events = await c.core.listNamespacedEvent({ namespace: ns })
        haystacks.push([`events ${ns}`, JSON.stringify(events.items)])
        expect(events.items.some((e) => e.reason === 'WebhookRejected')).toBe(true)
        for (const plural of ['casinointegrations', 'destinations']) {
          const list = await c.custom.listNamespacedCustomObject({
            group: 'switchboard.dev',
            version: 'v1alpha1',
            namespace: ns,
            plural,
          })
          haystacks.push([`${plural} ${ns}`, JSON.stringify(list)])
        }
      }
      haystacks.push(['controller metrics', await operator.manager.metrics.registry.metrics()])
      haystacks.push(['webhook metrics', await metrics.registry.metrics()])
      haystacks.push(['webhook answers', answers.join('\n')])
      // the scan sees what it should: the logs did record the failures
      expect(logs.text()).toMatch(/refused|Unauthorized|failed/i)
      const scan = (places: Array<[string, string]>) => {
        const found: string[] = []
        for (const value of planted) {
          const forms = [value, Buffer.from(value).toString('base64')]
          for (const [where, text] of places) {
            if (forms.some((f) => text.includes(f))) found.push(`${value.split('-')[1]} in ${where}`)
          }
        }
        return found
      }
      // the scan finds a planted value where one is (a Secret, base64-encoded as the API returns it)
      const secret = await c.core.readNamespacedSecret({ namespace: namespaces[0] ?? '', name: 'platform' })
      expect(scan([['the Secret', JSON.stringify(secret.data)]]).length).toBeGreaterThan(0)
      const leaks = scan(haystacks)
      process.stderr.write(
        `[leak scan] ${planted.length} planted values, ${haystacks.length} places, ${Math.round(
          haystacks.reduce((n, [, t]) => n + t.length, 0) / 1024,
        )} KiB scanned\n`,
      )
      expect(leaks).toEqual([])
    } finally {
      await app.close()
      await resolver.stop()
    }
  })
})

function casinoKeyOf(a: Account): string {
  if (a.provider === 'altenar') return `${a.settings.operatorId}:${a.settings.brandId}`
  if (a.provider === 'betsoftware') return `${a.settings.partnerId}:${a.settings.siteId}`
  return a.credentials.clientId ?? ''
}
