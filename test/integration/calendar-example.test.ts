import { createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import YAML from 'yaml'
import { type CalendarSyncStatus, createOperator, type Operator } from '../../controller/index.ts'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import {
  type Clients,
  capturedLogger,
  clients,
  condition,
  createNamespace,
  GROUP,
  type Obj,
  VERSION,
  waitForCondition,
} from './helpers.ts'

const PLURAL = 'calendarsyncs'
const EXAMPLE = resolve(import.meta.dirname, '../../examples/30-calendars.yaml')

interface Doc {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace: string }
  stringData?: Record<string, string>
  spec?: Record<string, unknown>
}

// examples/30-calendars.yaml must work as it is against the sandbox, configured as `make demo`
// configures it: its calendars, the demo service account (its public half), the demo page.
describe('examples/30-calendars.yaml', () => {
  let c: Clients
  let operator: Operator
  let sandbox: Sandbox
  const logs = capturedLogger('info')

  beforeAll(async () => {
    c = clients()
    await installCrds(c.kc)
    sandbox = await buildSandbox()
    await sandbox.listen()
    operator = createOperator({
      endpoints: { allowLoopback: true },
      kubeConfig: c.kc,
      logger: logs.logger,
      providerHttp: { timeoutMs: 2_000 },
    })
    await operator.start()
  })

  afterAll(async () => {
    await operator?.stop({ timeoutMs: 5_000 })
    await sandbox?.close()
  })

  it('applies, and both CalendarSyncs turn Ready with what they promise', async () => {
    const ns = await createNamespace(c.core, 'cal-example')
    const host = new URL(sandbox.url).host
    const text = readFileSync(EXAMPLE, 'utf8').replaceAll('127.0.0.1:18600', host)
    const docs = YAML.parseAllDocuments(text).map((d) => d.toJSON() as Doc)
    const secrets = docs.filter((d) => d.kind === 'Secret')
    const syncs = docs.filter((d) => d.kind === 'CalendarSync')
    expect(syncs.map((d) => d.metadata.name)).toEqual(['venue', 'programme'])

    // the sandbox as the demo configures it
    const key = JSON.parse(
      secrets.find((s) => s.metadata.name === 'venue-google')?.stringData?.serviceAccountKey ?? '{}',
    )
    const publicKeyPem = createPublicKey(createPrivateKey(key.private_key)).export({
      type: 'spki',
      format: 'pem',
    })
    sandbox.googleCalendar.auth.addServiceAccount(key.client_email, String(publicKeyPem))
    for (const id of ['venue', 'venue-staff', 'venue-public', 'rooms']) {
      sandbox.googleCalendar.addCalendar({ id: `${id}@demo.switchboard.dev`, timeZone: 'Europe/London' })
    }
    const pageToken =
      secrets.find((s) => s.metadata.name === 'venue-facebook')?.stringData?.pageAccessToken ?? ''
    sandbox.facebook.addTarget({
      id: '100000000000001',
      name: 'The Venue (demo)',
      kind: 'page',
      accessToken: pageToken,
    })

    for (const s of secrets) {
      await c.core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: s.metadata.name, namespace: ns }, stringData: s.stringData ?? {} },
      })
    }
    for (const d of syncs) {
      await c.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        body: { ...d, metadata: { ...d.metadata, namespace: ns } },
      })
    }

    const venue = await waitForCondition(c, PLURAL, ns, 'venue', 'Ready', 'True', undefined, 30_000)
    const vs = venue.status as CalendarSyncStatus
    expect(vs.source).toMatchObject({ kind: 'googleCalendar', syncTokenState: 'Valid' })
    expect(vs.freeBusy?.busy).toEqual([])
    expect(condition(venue, 'WebhookReady')).toMatchObject({ status: 'False', reason: 'NoPublicUrl' })

    const programme: Obj = await waitForCondition(
      c,
      PLURAL,
      ns,
      'programme',
      'Announced',
      'True',
      undefined,
      30_000,
    )
    expect(condition(programme, 'Ready')?.status).toBe('True')
    const ps = programme.status as CalendarSyncStatus
    const publicCopies = sandbox.googleCalendar
      .events('venue-public@demo.switchboard.dev')
      .map((e) => e.summary)
      .sort()
    expect(publicCopies).toEqual(['The Quiet Loud', 'Tribute night: The Beatles', 'Vinyl only'])
    expect(ps.publicFeed?.events.map((e) => e.title)).toEqual([
      'Tribute night: The Beatles',
      'Vinyl only',
      'The Quiet Loud',
    ])
    expect(ps.publicFeed?.events[0]).toMatchObject({ date: '2031-03-14', time: '20:00' })
    const posts = sandbox.facebook.posts('100000000000001')
    expect(posts).toHaveLength(3)
    expect(posts.some((p) => p.message?.includes('Staff training'))).toBe(false)
    const tribute = posts.find((p) => p.message?.includes('The Beatles'))
    expect(tribute?.message).toMatch(/^🎤 Tribute night: The Beatles\n📅 Fri, 14 Mar 2031, doors 20:00\n/)
    expect(logs.text()).not.toContain(pageToken)
  })
})
