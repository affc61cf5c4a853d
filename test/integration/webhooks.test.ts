/**
 * The webhook server against a real API server. The kinds that receive webhooks are still being
 * written, so this file installs a test-only kind (`WebhookTarget.test.switchboard.dev`) with the
 * same `status.webhook.path` contract and a Secret reference, and hands it to the
 * Kubernetes-backed resolver as an extra kind-table entry.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { ApiextensionsV1Api, Watch } from '@kubernetes/client-node'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  ensureWebhookStatus,
  parseRequestedStreams,
  REQUESTED_STREAMS_ANNOTATION,
  WEBHOOK_KINDS,
  WEBHOOK_READY,
  type WebhookKind,
  type WebhookStatus,
  webhookSecretKeys,
} from '../../controller/api/index.ts'
import {
  type Condition,
  EventRecorder,
  mergePatch,
  REQUESTED_AT_ANNOTATION,
  setCondition,
} from '../../controller/runtime/index.ts'
import { toClientModel } from '../../crds/index.ts'
import {
  annotationPatcher,
  buildApp,
  CoalescingRequester,
  KubernetesTargetResolver,
  StatusCallbackSink,
  WebhookMetrics,
} from '../../webhooks/index.ts'
import { casinoRequest, send, twilioStatusCallback } from '../sandbox/webhooks/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  createNamespace,
  createSecret,
  eventsFor,
  sleep,
  testKubeConfig,
  waitFor,
} from './helpers.ts'

const GROUP = 'test.switchboard.dev'
const VERSION = 'v1alpha1'
const PLURAL = 'webhooktargets'
const KIND = 'WebhookTarget'
/** The request time a requested-streams annotation gives the transactions stream (NaN: none). */
const streamTime = (v: string | undefined) => parseRequestedStreams(v).get('transactions') ?? Number.NaN

const PUBLIC_URL = 'https://hooks.example.com'
const CASINO_SECRET = 'casino-webhook-secret-it'
const TWILIO_TOKEN = 'twilio-auth-token-it'

const testKind: WebhookKind = {
  group: GROUP,
  version: VERSION,
  kind: KIND,
  plural: PLURAL,
  providers: { softswiss: webhookSecretKeys('softswiss'), twilio: webhookSecretKeys('twilio') },
  providerField: 'spec.provider',
  callbackStatusField: 'callbacks',
}
/** A kind whose CRD is never installed: the resolver must skip it, not crash. */
const missingKind: WebhookKind = { ...testKind, kind: 'NeverInstalled', plural: 'neverinstalleds' }

const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }
const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${PLURAL}.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { kind: KIND, plural: PLURAL, singular: 'webhooktarget', listKind: `${KIND}List` },
    versions: [
      {
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                properties: {
                  provider: { type: 'string' },
                  suspend: { type: 'boolean' },
                  credentialsSecretRef: { type: 'object', properties: { name: { type: 'string' } } },
                },
              },
              status: {
                type: 'object',
                properties: {
                  webhook: {
                    type: 'object',
                    properties: {
                      path: { type: 'string' },
                      url: { type: 'string' },
                      channels: { type: 'array', items: open },
                    },
                  },
                  conditions: { type: 'array', items: open },
                  callbacks: open,
                },
              },
            },
          },
        },
      },
    ],
  },
}

async function installTestCrd(): Promise<void> {
  const ext = testKubeConfig().makeApiClient(ApiextensionsV1Api)
  try {
    await ext.createCustomResourceDefinition({ body: toClientModel(crd as never) })
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err
  }
  await waitFor('the test CRD to be established', async () => {
    const got = await ext.readCustomResourceDefinition({ name: crd.metadata.name })
    return got.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')
  })
}

interface Obj {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> }
  status?: { webhook?: WebhookStatus; callbacks?: Record<string, Record<string, unknown>> }
}

describe('webhook server against a real API server', () => {
  let c: Clients
  let ns: string
  let app: FastifyInstance
  let base: string
  let resolver: KubernetesTargetResolver
  let requester: CoalescingRequester
  let callbacks: StatusCallbackSink
  const paths: Record<string, string> = {}
  const logs = capturedLogger('info')
  const metrics = new WebhookMetrics({ defaultMetrics: false })

  const getTarget = async (name: string) =>
    (await c.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name,
    })) as Obj

  async function createTarget(name: string, provider: string): Promise<string> {
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: KIND,
        metadata: { name, namespace: ns },
        spec: { provider, credentialsSecretRef: { name: 'creds' } },
      },
    })
    // what the controller's webhook step does: publish the path, then say WebhookReady
    const status: { webhook?: WebhookStatus; conditions: Condition[] } = { conditions: [] }
    const webhook = ensureWebhookStatus(status, { provider: provider as never, publicUrl: PUBLIC_URL })
    setCondition(status.conditions, {
      type: WEBHOOK_READY,
      status: 'True',
      reason: 'WebhookPublished',
      message: 'Receiving webhooks',
    })
    await c.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, name, body: { status } },
      mergePatch,
    )
    return webhook.path
  }

  beforeAll(async () => {
    c = clients()
    await installTestCrd()
    ns = await createNamespace(c.core, 'webhooks')
    await createSecret(c.core, ns, 'creds', { webhookSecret: CASINO_SECRET, authToken: TWILIO_TOKEN })
    paths.a = await createTarget('a', 'softswiss')
    paths.b = await createTarget('b', 'softswiss')
    paths.c = await createTarget('c', 'twilio')

    resolver = new KubernetesTargetResolver({
      kubeConfig: c.kc,
      logger: logs.logger,
      extraKinds: [testKind, missingKind],
      recheckIntervalMs: 0,
    })
    requester = new CoalescingRequester({
      patch: annotationPatcher(c.custom),
      logger: logs.logger,
      onPatch: (result) => metrics.reconcilePatches.inc({ result }),
    })
    callbacks = new StatusCallbackSink({
      custom: c.custom,
      fields: { [KIND]: 'callbacks' },
      logger: logs.logger,
    })
    app = buildApp({
      resolver,
      requester,
      callbacks,
      events: new EventRecorder({
        core: c.core,
        component: 'switchboard-webhooks',
        instance: 'it',
        logger: logs.logger,
      }),
      metrics,
      logger: logs.logger,
      publicUrl: PUBLIC_URL,
      rateLimit: { max: 10_000, timeWindowMs: 1000 },
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
    await resolver.start()
    await waitFor('the resolver to index the three paths', () =>
      Object.values(paths).every((p) => resolver.resolve(p)?.ready === true),
    )
  })

  afterAll(async () => {
    await app?.close()
    await requester?.close({ timeoutMs: 5_000 })
    await callbacks?.close({ timeoutMs: 5_000 })
    await resolver?.stop()
  })

  it('watches the kinds that are installed and skips the others with a log line', async () => {
    expect(resolver.watching).toContain(`${KIND}.${GROUP}`)
    expect(resolver.skipped).toContain(`NeverInstalled.${GROUP}`)
    for (const k of WEBHOOK_KINDS) {
      const id = `${k.kind}.${k.group}`
      expect(resolver.watching.includes(id) || resolver.skipped.includes(id), id).toBe(true)
    }
    expect(logs.text()).toContain(`"kind":"NeverInstalled.${GROUP}"`)
    expect(logs.text()).toContain('kind not installed')
    expect((await fetch(`${base}/readyz`)).status).toBe(200)
  })

  it('turns a signed delivery on a real port into the annotation on the right object', async () => {
    const before = Date.now()
    const res = await send(
      casinoRequest({
        url: `${PUBLIC_URL}${paths.a}`,
        secret: CASINO_SECRET,
        body: { event: 'player.updated' },
      }),
      { baseUrl: base },
    )
    expect(res.status).toBe(204)
    const a = await waitFor('the requested-streams annotation on a', async () => {
      const obj = await getTarget('a')
      return obj.metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION] ? obj : undefined
    })
    const value = a.metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION] ?? ''
    // the delivery named its stream: only that one is asked for
    expect(value).toMatch(/^transactions=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    expect(streamTime(value)).toBeGreaterThanOrEqual(before - 1000)
    expect(a.metadata.annotations?.[REQUESTED_AT_ANNOTATION]).toBeUndefined()
    expect((await getTarget('b')).metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION]).toBeUndefined()
  })

  it('patches nothing for a bad delivery, and records a Warning event on the object', async () => {
    const b0 = await getTarget('b')
    const good = casinoRequest({
      url: `${PUBLIC_URL}${paths.b}`,
      secret: CASINO_SECRET,
      body: { event: 'x' },
    })
    const forged = casinoRequest({ url: `${PUBLIC_URL}${paths.b}`, secret: 'guessed', body: { event: 'x' } })
    const tampered = { ...good, body: good.body?.replace('x', 'y') }
    for (const req of [forged, tampered, forged])
      expect((await send(req, { baseUrl: base })).status).toBe(401)
    const events = await waitFor('a WebhookRejected event on b', async () => {
      const list = await eventsFor(c.core, ns, 'b')
      return list.some((e) => e.reason === 'WebhookRejected') ? list : undefined
    })
    const rejected = events.filter((e) => e.reason === 'WebhookRejected')
    expect(rejected).toHaveLength(1)
    expect(rejected[0]?.type).toBe('Warning')
    expect(rejected[0]?.message).toContain('bad_signature')
    expect(rejected[0]?.message).not.toContain(CASINO_SECRET)
    expect(logs.text()).not.toContain(CASINO_SECRET)
    expect(logs.text()).not.toContain(paths.b?.split('/').pop())
    await sleep(1500)
    const b1 = await getTarget('b')
    expect(b1.metadata.resourceVersion).toBe(b0.metadata.resourceVersion)
    expect(b1.metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION]).toBeUndefined()
  })

  it('coalesces a burst of 500 deliveries into a bounded number of patches, the last never lost', async () => {
    // let the interval after the first test's patch pass
    await sleep(1100)
    const start = await getTarget('a')
    const seen: string[] = []
    const watch = await new Watch(c.kc).watch(
      `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`,
      { fieldSelector: 'metadata.name=a', resourceVersion: start.metadata.resourceVersion },
      (type, obj: Obj) => {
        const v = obj.metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION]
        if (
          type === 'MODIFIED' &&
          v &&
          v !== (seen.at(-1) ?? start.metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION])
        ) {
          seen.push(v)
        }
      },
      () => {},
    )
    try {
      const t0 = Date.now()
      let next = 0
      const total = 500
      const worker = async () => {
        while (next < total - 1) {
          const i = next++
          const req = casinoRequest({
            url: `${PUBLIC_URL}${paths.a}`,
            secret: CASINO_SECRET,
            body: { event: 'transaction.created', i },
            deliveryId: `burst-${i}`,
          })
          const res = await send(req, { baseUrl: base })
          if (res.status !== 204) throw new Error(`delivery ${i}: ${res.status}`)
        }
      }
      await Promise.all(Array.from({ length: 20 }, worker))
      // the last delivery, after every other one was answered
      const lastSentAt = Date.now()
      const last = await send(
        casinoRequest({
          url: `${PUBLIC_URL}${paths.a}`,
          secret: CASINO_SECRET,
          body: { event: 'transaction.created', i: total - 1 },
          deliveryId: `burst-${total - 1}`,
        }),
        { baseUrl: base },
      )
      expect(last.status).toBe(204)
      const burstSeconds = (Date.now() - t0) / 1000
      await waitFor('a patch that covers the last delivery', () =>
        seen.some((v) => streamTime(v) >= lastSentAt - 5) ? true : undefined,
      )
      await sleep(1500) // nothing else may trail behind
      const final = await getTarget('a')
      expect(streamTime(final.metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION])).toBeGreaterThanOrEqual(
        lastSentAt - 5,
      )
      // at most one patch per second (plus the immediate first and the trailing one)
      expect(seen.length).toBeGreaterThanOrEqual(1)
      expect(seen.length, `${seen.length} patches for a ${burstSeconds}s burst`).toBeLessThanOrEqual(
        Math.ceil(burstSeconds) + 2,
      )
      expect(seen.length).toBeLessThan(50)
    } finally {
      watch.abort()
    }
  })

  it('writes Twilio delivery status (callback-only data) into the status of the object', async () => {
    const req = twilioStatusCallback({
      url: `${PUBLIC_URL}${paths.c}`,
      authToken: TWILIO_TOKEN,
      messageSid: 'SMit0001',
      status: 'delivered',
    })
    expect((await send(req, { baseUrl: base })).status).toBe(200)
    const obj = await waitFor('the callback in status', async () => {
      const o = await getTarget('c')
      return o.status?.callbacks?.SMit0001 ? o : undefined
    })
    expect(obj.status?.callbacks?.SMit0001).toMatchObject({ type: 'message-status', status: 'delivered' })
    // a status callback is not a reason to sync
    expect(obj.metadata.annotations?.[REQUESTED_AT_ANNOTATION]).toBeUndefined()
  })

  it('routes nothing to an object once it is suspended', async () => {
    await c.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        name: 'b',
        body: { spec: { suspend: true } },
      },
      mergePatch,
    )
    await waitFor('the resolver to see the suspension', () => resolver.resolve(paths.b ?? '')?.suspended)
    const req = casinoRequest({ url: `${PUBLIC_URL}${paths.b}`, secret: CASINO_SECRET, body: { event: 'x' } })
    const res = await send(req, { baseUrl: base })
    expect(res.status).toBe(503)
    await sleep(1200)
    expect((await getTarget('b')).metadata.annotations?.[REQUESTED_STREAMS_ANNOTATION]).toBeUndefined()
  })

  it('does not route a path left over for another provider than spec.provider', async () => {
    // spec says softswiss, status still carries a twilio path (the provider was changed)
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: KIND,
        metadata: { name: 'changed', namespace: ns },
        spec: { provider: 'softswiss', credentialsSecretRef: { name: 'creds' } },
      },
    })
    const stale: { webhook?: WebhookStatus } = {}
    const stalePath = ensureWebhookStatus(stale, { provider: 'twilio' }).path
    const conditions: Condition[] = []
    setCondition(conditions, { type: WEBHOOK_READY, status: 'True', reason: 'WebhookPublished', message: '' })
    await c.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        name: 'changed',
        body: { status: { ...stale, conditions } },
      },
      mergePatch,
    )
    // events of one kind arrive in order: once a later object is indexed, this one was seen
    const sentinel = await createTarget('sentinel', 'softswiss')
    await waitFor('the sentinel to be indexed', () => resolver.resolve(sentinel)?.ready)
    expect(resolver.resolve(stalePath)).toBeUndefined()
    const res = await send(
      twilioStatusCallback({
        url: `${PUBLIC_URL}${stalePath}`,
        authToken: TWILIO_TOKEN,
        messageSid: 'SMx',
        status: 'sent',
      }),
      { baseUrl: base },
    )
    expect(res.status).toBe(404)
  })

  it('with namespaces listed, routes only to objects in those namespaces', async () => {
    const other = await createNamespace(c.core, 'webhooks-other')
    await createSecret(c.core, other, 'creds', { webhookSecret: CASINO_SECRET })
    const saved = ns
    ns = other
    const otherPath = await createTarget('z', 'softswiss')
    ns = saved
    const scoped = new KubernetesTargetResolver({
      kubeConfig: c.kc,
      logger: logs.logger,
      kinds: [testKind],
      namespaces: [ns],
      recheckIntervalMs: 0,
    })
    try {
      await scoped.start()
      await waitFor('the cluster-wide resolver to see z', () => resolver.resolve(otherPath)?.ready)
      expect(scoped.ready()).toBe(true)
      expect(scoped.resolve(paths.a ?? '')?.name).toBe('a')
      expect(scoped.resolve(otherPath)).toBeUndefined()
      expect(await scoped.resolve(paths.a ?? '')?.secrets()).toEqual({ signingSecret: CASINO_SECRET })
    } finally {
      await scoped.stop()
    }
  })

  it('runs as `runWebhooks`, becomes ready, and stops cleanly on SIGTERM', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { runWebhooks } from './webhooks/main.ts'; process.exitCode = await runWebhooks(process.argv.slice(1))",
        '--',
        '--kubeconfig',
        inject('kubeconfigPath'),
        '--bind-address',
        '127.0.0.1:0',
        '--public-url',
        PUBLIC_URL,
      ],
      { cwd: resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('utf8')
    })
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString('utf8')
    })
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    try {
      const port = await waitFor('the serving line', () => {
        const m = /"address":"127\.0\.0\.1:(\d+)"/.exec(out)
        return m ? Number(m[1]) : undefined
      })
      await waitFor('readyz', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200)
      const metricsText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(metricsText).toContain('switchboard_webhook_requests_total')
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(out).toContain('webhook server stopped')
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})
