/**
 * A unique value planted in every Secret key the casino platforms, the Destinations, CalendarSync
 * (Google service account key, channel token, Calendly token and signing key) and MessageCampaign
 * (Twilio account and token, and the recipients' phone numbers and names: personal data) read,
 * every resource driven through success and failure (a sync, wrong credentials, a provider error
 * that echoes the secret or the number back, refused and accepted webhooks and callbacks), then
 * logs, Events, status, both processes' metrics and the webhook answers are scanned for any
 * planted value, plain or base64 (phone numbers also without their `+`).
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
  StatusCallbackSink,
  WebhookMetrics,
} from '../../webhooks/index.ts'
import {
  buildSandbox,
  calendlyInviteeBody,
  calendlyRequest,
  casinoRequest,
  type Sandbox,
  twilioStatusCallback,
} from '../sandbox/index.ts'
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
/** A planted value of a given shape (an account SID, a phone number). */
function plantAs(v: string): string {
  planted.push(v)
  return v
}
/** A planted E.164 number, 12 random digits after the country code. */
const plantPhone = () => plantAs(`+447${Array.from(randomBytes(9), (b) => String(b % 10)).join('')}`)

/** Where a planted value was found: its plain, base64 and (for numbers) digits-only forms. */
function scanFor(places: Array<[string, string]>): string[] {
  const found: string[] = []
  for (const value of planted) {
    const forms = [value, Buffer.from(value).toString('base64')]
    if (value.startsWith('+')) forms.push(value.slice(1))
    for (const [where, text] of places) {
      if (forms.some((f) => text.includes(f)))
        found.push(`${value.split('-')[1] ?? value.slice(0, 6)} in ${where}`)
    }
  }
  return found
}

const TWILIO_SID = plantAs(`AC${randomBytes(16).toString('hex')}`)
const TWILIO_TOKEN = plant('authToken')
const CALENDLY_PAT = plant('personalAccessToken')

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
  const refusedObjects: string[] = []

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox({
      twilio: { accounts: [{ sid: TWILIO_SID, authToken: TWILIO_TOKEN }] },
      calendly: { personalAccessTokens: [CALENDLY_PAT] },
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
        // Gone before the faults below: its retries would otherwise take a fault that echoes the
        // other resource's credentials, which the platform never sent it, into its own status.
        // What it showed of its refusal is scanned with the rest.
        refusedObjects.push(JSON.stringify(await getObj(c.custom, 'casinointegrations', ns, 'refused')))
        await c.custom.deleteNamespacedCustomObject({
          group: 'switchboard.dev',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'casinointegrations',
          name: 'refused',
        })
        await waitFor(
          'the refused integration to be gone',
          async () => {
            try {
              await getObj(c.custom, 'casinointegrations', ns, 'refused')
              return undefined
            } catch {
              return true
            }
          },
          { timeoutMs: 30_000 },
        )
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
      haystacks.push(['refused integrations', refusedObjects.join('\n')])
      // the scan sees what it should: the logs did record the failures
      expect(logs.text()).toMatch(/refused|Unauthorized|failed/i)
      const scan = scanFor
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

  it('across CalendarSyncs and MessageCampaigns: credentials, and phone numbers and names as personal data', async () => {
    const kube = makeClients(c.kc)
    const resolver = new KubernetesTargetResolver({
      kubeConfig: c.kc,
      logger: logs.logger,
      recheckIntervalMs: 0,
    })
    const metrics = new WebhookMetrics()
    const requester = new CoalescingRequester({ patch: annotationPatcher(kube.custom), logger: logs.logger })
    const callbacks = new StatusCallbackSink({
      custom: kube.custom,
      fields: { MessageCampaign: 'deliveryInbox' },
      logger: logs.logger,
      flushIntervalMs: 100,
    })
    const app = buildApp({
      resolver,
      requester,
      callbacks,
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
    const mine: string[] = []
    const answers2: string[] = []
    const hookOf = async (plural: string, ns: string, name: string) => {
      const o = await waitForCondition(c, plural, ns, name, 'WebhookReady', 'True', undefined, 60_000)
      const hook = o.status?.webhook as { path: string; url: string }
      await waitFor('the webhook server to route the path', () => resolver.resolve(hook.path))
      return hook
    }
    try {
      // --- CalendarSync: Google (service account key, channel token) and Calendly (token, signing key)
      const ns = await createNamespace(c.core, 'leak-calendar')
      mine.push(ns)
      const key = sandbox.googleCalendar.auth.createServiceAccount({ tokenUri: `${sandbox.url}/token` })
      // the private key itself, by a run of it no other text could hold, and its id
      plantAs(key.privateKeyPem.split('\n')[5] ?? '')
      plantAs(key.privateKeyId)
      const channelToken = plant('channelToken')
      await createSecret(c.core, ns, 'google', {
        serviceAccountKey: JSON.stringify(key.keyFile),
        channelToken,
      })
      const signingKey = plant('webhookSigningKey')
      await createSecret(c.core, ns, 'calendly', {
        personalAccessToken: CALENDLY_PAT,
        webhookSigningKey: signingKey,
      })
      const cal = (what: string) => `${ns}-${what}@group.calendar.google.com`
      for (const id of [cal('src'), cal('internal')]) sandbox.googleCalendar.addCalendar(id)
      const inFuture = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString()
      sandbox.calendly.book({
        name: 'Consultation',
        startTime: inFuture(24),
        endTime: inFuture(25),
        invitee: { email: `${plant('inviteeEmail')}@example.com`, name: plant('inviteeName') },
      })
      const calendarSync = (name: string, spec: Record<string, unknown>) =>
        createResource(c, 'CalendarSync', ns, name, spec)
      await calendarSync('venue', {
        source: { googleCalendar: { calendarId: cal('src') } },
        targets: [{ calendarId: cal('internal') }],
        credentialsSecretRef: { name: 'google' },
        endpoints: { googleCalendar: sandbox.url },
      })
      await calendarSync('bookings', {
        source: {
          calendly: {
            organization: sandbox.calendly.organizationUri(),
            credentialsSecretRef: { name: 'calendly' },
          },
        },
        targets: [{ calendarId: cal('internal') }],
        credentialsSecretRef: { name: 'google' },
        endpoints: { googleCalendar: sandbox.url, calendly: `${sandbox.url}/calendly` },
      })
      await waitForCondition(c, 'calendarsyncs', ns, 'venue', 'Ready', 'True', undefined, 60_000)
      await waitForCondition(c, 'calendarsyncs', ns, 'bookings', 'Ready', 'True', undefined, 60_000)
      // failures: a key Google does not know, a Calendly token it refuses, errors that echo them
      // a key whose account the sandbox does not know (its email changed)
      const unknownKey = sandbox.googleCalendar.auth.createServiceAccount({
        tokenUri: `${sandbox.url}/token`,
      })
      unknownKey.keyFile.client_email = `nobody-${TAG}@sandbox-project.iam.gserviceaccount.com`
      plantAs(unknownKey.privateKeyPem.split('\n')[5] ?? '')
      await createSecret(c.core, ns, 'google-unknown', {
        serviceAccountKey: JSON.stringify(unknownKey.keyFile),
        channelToken: plant('channelToken-unknown'),
      })
      await createSecret(c.core, ns, 'calendly-wrong', {
        personalAccessToken: plant('wrong-personalAccessToken'),
        webhookSigningKey: plant('wrong-webhookSigningKey'),
      })
      await calendarSync('unknown-key', {
        source: { googleCalendar: { calendarId: cal('src') } },
        targets: [{ calendarId: cal('internal') }],
        credentialsSecretRef: { name: 'google-unknown' },
        endpoints: { googleCalendar: sandbox.url },
      })
      await calendarSync('wrong-token', {
        source: {
          calendly: {
            organization: sandbox.calendly.organizationUri(),
            credentialsSecretRef: { name: 'calendly-wrong' },
          },
        },
        targets: [{ calendarId: cal('internal') }],
        credentialsSecretRef: { name: 'google' },
        endpoints: { googleCalendar: sandbox.url, calendly: `${sandbox.url}/calendly` },
      })
      await waitForCondition(c, 'calendarsyncs', ns, 'unknown-key', 'Ready', 'False', undefined, 60_000)
      await waitForCondition(c, 'calendarsyncs', ns, 'wrong-token', 'Ready', 'False', undefined, 60_000)
      sandbox.faults.inject({
        provider: 'google-calendar',
        status: 400,
        times: 3,
        body: { error: { code: 400, message: `bad channel ${channelToken} for ${key.privateKeyId}` } },
      })
      sandbox.faults.inject({
        provider: 'calendly',
        status: 400,
        times: 3,
        body: { title: 'Invalid', message: `token ${CALENDLY_PAT}` },
      })
      for (const name of ['venue', 'bookings']) {
        await annotate(c, 'calendarsyncs', ns, name, { [REQUESTED_AT_ANNOTATION]: new Date().toISOString() })
      }
      await waitFor(
        'the failing syncs to be reported',
        async () => {
          const o = await getObj(c.custom, 'calendarsyncs', ns, 'bookings')
          return JSON.stringify(o.status).includes('"status":"False"') ? o : undefined
        },
        { timeoutMs: 30_000 },
      )
      sandbox.faults.reset()
      // Calendly webhooks: one forged with a planted key, one genuine
      const calHook = await hookOf('calendarsyncs', ns, 'bookings')
      for (const k of [plant('forged-signingKey'), signingKey]) {
        const req = calendlyRequest({
          url: calHook.url,
          signingKey: k,
          body: calendlyInviteeBody(
            'invitee.created',
            'https://api.calendly.com/scheduled_events/X/invitees/Y',
          ),
        })
        const res = await app.inject({
          method: 'POST',
          url: calHook.path,
          headers: req.headers,
          payload: req.body,
        })
        answers2.push(res.body, JSON.stringify(res.headers))
      }

      // --- MessageCampaign: Twilio credentials, and each recipient's number and name
      const cns = await createNamespace(c.core, 'leak-campaign')
      mine.push(cns)
      const good = Array.from({ length: 5 }, () => ({ phone: plantPhone(), name: plant('name') }))
      const invalid = plantPhone()
      const optedOut = plantPhone()
      sandbox.twilio.invalidNumbers.add(invalid)
      sandbox.twilio.optedOut.add(optedOut)
      const malformed = plantAs(`+99${randomBytes(3).toString('hex')}x${TAG}`)
      const csv = [
        'phone,name',
        ...good.map((r) => `${r.phone},${r.name}`),
        `${invalid},${plant('name-invalid')}`,
        `${optedOut},${plant('name-optedout')}`,
        `${malformed},${plant('name-malformed')}`,
        // a missing variable: never sent with {{name}} left in
        `${plantPhone()},`,
      ].join('\n')
      await createSecret(c.core, cns, 'twilio', { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN })
      await createSecret(c.core, cns, 'players', { 'players.csv': csv })
      const campaignSpec = (secret: string, extra: Record<string, unknown> = {}) => ({
        channel: 'sms',
        from: '+15005550006',
        credentialsSecretRef: { name: secret },
        endpoint: sandbox.twilioEndpoint,
        template: { body: 'Hi {{name}}' },
        recipients: [{ secretRef: { name: 'players' }, key: 'players.csv' }],
        rate: 50,
        ...extra,
      })
      // a provider error that echoes the token and a number back, before the campaign starts
      sandbox.faults.inject({
        provider: 'twilio',
        status: 500,
        times: 2,
        body: { code: 20500, message: `token ${TWILIO_TOKEN} number ${good[0]?.phone}`, status: 500 },
      })
      await createResource(c, 'MessageCampaign', cns, 'wellbeing', campaignSpec('twilio'))
      const done = await waitFor(
        'the campaign to complete',
        async () => {
          const o = await getObj(c.custom, 'messagecampaigns', cns, 'wellbeing')
          return o.status?.phase === 'Completed' ? o : undefined
        },
        { timeoutMs: 90_000, intervalMs: 300 },
      )
      // every failure path ran: the echoing 500s, 21211, 21610, the malformed line, the missing variable
      expect(done.status?.totals).toMatchObject({ sent: good.length, skipped: 4, pending: 0 })
      expect(sandbox.faults.list().filter((f) => f.provider === 'twilio')).toEqual([])
      // callbacks: genuine ones for each message (with To and From, as Twilio sends them), and a forged one
      const hook = await hookOf('messagecampaigns', cns, 'wellbeing')
      const messages = sandbox.twilio.messages.filter((m) => good.some((g) => g.phone === m.to))
      expect(messages).toHaveLength(good.length)
      for (const m of messages) {
        const req = twilioStatusCallback({
          url: hook.url,
          authToken: TWILIO_TOKEN,
          accountSid: TWILIO_SID,
          messageSid: m.sid,
          status: m.to === good[1]?.phone ? 'undelivered' : 'delivered',
          to: m.to,
          ...(m.to === good[1]?.phone ? { errorCode: '30003' } : {}),
        })
        const res = await app.inject({
          method: 'POST',
          url: hook.path,
          headers: req.headers,
          payload: req.body,
        })
        answers2.push(res.body, JSON.stringify(res.headers))
      }
      const forged = twilioStatusCallback({
        url: hook.url,
        authToken: plant('forged-authToken'),
        accountSid: TWILIO_SID,
        messageSid: messages[0]?.sid ?? 'SMx',
        status: 'failed',
        to: good[0]?.phone,
      })
      const refused = await app.inject({
        method: 'POST',
        url: hook.path,
        headers: forged.headers,
        payload: forged.body,
      })
      expect(refused.statusCode).toBe(401)
      answers2.push(refused.body, JSON.stringify(refused.headers))
      await waitFor(
        'the callbacks counted',
        async () => {
          const o = await getObj(c.custom, 'messagecampaigns', cns, 'wellbeing')
          const t = o.status?.totals as { delivered?: number; undelivered?: number } | undefined
          return t?.delivered === good.length - 1 && t.undelivered === 1 ? o : undefined
        },
        { timeoutMs: 30_000 },
      )
      // wrong credentials
      await createSecret(c.core, cns, 'twilio-wrong', {
        accountSid: TWILIO_SID,
        authToken: plant('wrong-authToken'),
      })
      await createResource(c, 'MessageCampaign', cns, 'refused', campaignSpec('twilio-wrong'))
      await waitForCondition(
        c,
        'messagecampaigns',
        cns,
        'refused',
        'CredentialsValid',
        'False',
        undefined,
        60_000,
      )
      await requester.close({ timeoutMs: 5_000 })
      await callbacks.close({ timeoutMs: 5_000 })
      await new Promise((r) => setTimeout(r, 1_500))

      const haystacks: Array<[string, string]> = [['logs', logs.text()]]
      for (const n of mine) {
        const events = await c.core.listNamespacedEvent({ namespace: n })
        haystacks.push([`events ${n}`, JSON.stringify(events.items)])
        expect(
          events.items.some((e) => e.reason === 'WebhookRejected'),
          n,
        ).toBe(true)
        for (const plural of ['calendarsyncs', 'messagecampaigns']) {
          const list = await c.custom.listNamespacedCustomObject({
            group: 'switchboard.dev',
            version: 'v1alpha1',
            namespace: n,
            plural,
          })
          haystacks.push([`${plural} ${n}`, JSON.stringify(list)])
        }
      }
      haystacks.push(['controller metrics', await operator.manager.metrics.registry.metrics()])
      haystacks.push(['webhook metrics', await metrics.registry.metrics()])
      haystacks.push(['webhook answers', answers2.join('\n')])
      // the scan sees what it should: the failures were logged, and the numbers are where they belong
      expect(logs.text()).toMatch(/Unauthorized|refused|failed/i)
      const list = await c.core.readNamespacedSecret({ namespace: cns, name: 'players' })
      const csvText = Buffer.from(list.data?.['players.csv'] ?? '', 'base64').toString('utf8')
      expect(scanFor([['the list Secret', csvText]]).length).toBeGreaterThan(good.length)
      expect(
        scanFor([['the sandbox', JSON.stringify(sandbox.twilio.messages)]]).length,
      ).toBeGreaterThanOrEqual(good.length)
      // masked numbers are what status shows
      const shown = JSON.stringify(await getObj(c.custom, 'messagecampaigns', cns, 'wellbeing'))
      expect(shown).toMatch(/\+447\d\*+\d\d/)
      const leaks = scanFor(haystacks)
      process.stderr.write(
        `[leak scan] calendar and campaign: ${planted.length} planted values in all, ${haystacks.length} places, ${Math.round(
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
