import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import twilio from 'twilio'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createTwilioClient } from '../../../connectors/index.ts'
import { EXTRACT_FILE, fullSpecPath } from '../../../hack/ship/extract-twilio-openapi.ts'
import { buildSandbox, type Sandbox } from '../index.ts'

const ACCOUNT = `AC${'a1'.repeat(16)}`
const TOKEN = 'sandbox-auth-token-0001'
const KEY = `SK${'b2'.repeat(16)}`
const KEY_SECRET = 'sandbox-api-key-secret'
const FROM = '+15005550006'

/**
 * Twilio's published OpenAPI description: the full one when it is at hand ($TWILIO_OPENAPI, or
 * ../shared/specs beside the repository), else the extract of its Messages part kept in the
 * repository (hack/ship/extract-twilio-openapi.ts; openapi.test.ts keeps the two equal).
 */
function loadSpec(): Record<string, unknown> {
  return JSON.parse(readFileSync(fullSpecPath() ?? EXTRACT_FILE, 'utf8')) as Record<string, unknown>
}

type Schema = {
  type?: string
  nullable?: boolean
  properties?: Record<string, Schema>
  $ref?: string
  enum?: unknown[]
}

describe('Twilio sandbox', () => {
  let sandbox: Sandbox
  // biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is walked by path, untyped
  let spec: { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, Schema> } }
  const received: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = []
  const hook = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => {
      body += c
    })
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body })
      res.end()
    })
  })
  let hookUrl = ''

  beforeAll(async () => {
    spec = loadSpec() as never
    sandbox = await buildSandbox({
      twilio: {
        accounts: [{ sid: ACCOUNT, authToken: TOKEN, apiKeys: [{ sid: KEY, secret: KEY_SECRET }] }],
        optedOut: ['+27820000002'],
        unreachable: ['+27820000003'],
        openSessions: ['+27820000004'],
        readers: ['+27820000004'],
        callbackDelayMs: 2,
      },
    })
    await sandbox.listen()
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
    const a = hook.address()
    hookUrl = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/hooks/twilio/x`
  })
  afterAll(async () => {
    await sandbox.close()
    hook.close()
  })
  beforeEach(() => {
    sandbox.reset()
    received.length = 0
  })

  const client = (opts: { key?: boolean; timeoutMs?: number } = {}) =>
    createTwilioClient({
      credentials: opts.key
        ? { accountSid: ACCOUNT, apiKeySid: KEY, apiKeySecret: KEY_SECRET }
        : { accountSid: ACCOUNT, authToken: TOKEN },
      endpoint: sandbox.twilioEndpoint,
      timeoutMs: opts.timeoutMs ?? 5_000,
    })

  it('answers messages.create in the shape of the OpenAPI description, and accepts only fields it lists', async () => {
    const path = spec.paths['/2010-04-01/Accounts/{AccountSid}/Messages.json'] ?? {}
    const formFields = Object.keys(
      path.post.requestBody.content['application/x-www-form-urlencoded'].schema.properties,
    )
    const messageSchema = spec.components.schemas['api.v2010.account.message'] as Schema
    const out = await client().send({
      to: '+27820000001',
      from: FROM,
      body: 'Hi',
      mediaUrls: ['https://example.com/a.png'],
      statusCallback: hookUrl,
    })
    expect(out.outcome).toBe('accepted')
    const m = sandbox.twilio.messages[0]
    expect(m?.to).toBe('+27820000001')
    // the fields the SDK sent are all in the description
    const form = new URLSearchParams({
      To: m?.to ?? '',
      From: FROM,
      Body: 'Hi',
      MediaUrl: 'x',
      StatusCallback: hookUrl,
    })
    for (const k of form.keys()) expect(formFields).toContain(k)
    // the response has every property of the description's message, each of its type
    const res = await fetch(`${sandbox.twilioEndpoint}/2010-04-01/Accounts/${ACCOUNT}/Messages.json`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ To: '+27820000001', From: FROM, Body: 'Hello' }).toString(),
    })
    expect(res.status).toBe(201)
    const body = (await res.json()) as Record<string, unknown>
    checkShape(body, messageSchema, spec.components.schemas)
  })

  it('lists messages as the description says: To, From and DateSent filters, pages by next_page_uri', async () => {
    const path = spec.paths['/2010-04-01/Accounts/{AccountSid}/Messages.json'] ?? {}
    const params = (path.get.parameters as Array<{ name: string }>).map((p) => p.name)
    for (const p of ['To', 'From', 'DateSent', 'DateSent<', 'DateSent>', 'PageSize', 'Page'])
      expect(params).toContain(p)
    const c = client()
    for (let i = 0; i < 7; i++) await c.send({ to: '+27820000001', from: FROM, body: `n${i}` })
    await c.send({ to: '+27820000009', from: FROM, body: 'other' })
    await new Promise((r) => setTimeout(r, 50))
    const since = new Date(Date.now() - 60_000)
    const found = await c.sentSince('+27820000001', since, { from: FROM })
    expect(found).toHaveLength(7)
    expect(found.every((m) => m.to === '+27820000001')).toBe(true)
    const listSchema = path.get.responses['200'].content['application/json'].schema as Schema
    const res = await fetch(
      `${sandbox.twilioEndpoint}/2010-04-01/Accounts/${ACCOUNT}/Messages.json?To=%2B27820000001&PageSize=3&DateSent%3E=${new Date().toISOString().slice(0, 10)}`,
      { headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}` } },
    )
    const page = (await res.json()) as Record<string, unknown>
    checkShape(page, listSchema, spec.components.schemas)
    expect((page.messages as unknown[]).length).toBe(3)
    expect(String(page.next_page_uri)).toContain('Page=1')
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)
    const none = await fetch(
      `${sandbox.twilioEndpoint}/2010-04-01/Accounts/${ACCOUNT}/Messages.json?DateSent%3E=${tomorrow}`,
      { headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}` } },
    )
    expect(((await none.json()) as { messages: unknown[] }).messages).toHaveLength(0)
  })

  it('reads one message as the description says; a lost callback leaves its status readable', async () => {
    const path = spec.paths['/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json'] ?? {}
    const ref = (path.get.responses['200'].content['application/json'].schema as Schema).$ref ?? ''
    expect(ref).toBe('#/components/schemas/api.v2010.account.message')
    const schema = spec.components.schemas['api.v2010.account.message'] as Schema
    sandbox.twilio.lostCallbacks.add('+27820000003')
    const c = client()
    const sent = await c.send({ to: '+27820000003', from: FROM, body: 'hi', statusCallback: hookUrl })
    if (sent.outcome !== 'accepted') throw new Error(`not accepted: ${sent.outcome}`)
    await new Promise((r) => setTimeout(r, 100))
    expect(received).toHaveLength(0)
    expect(sandbox.twilio.lost).toBe(2)
    expect(await c.messageStatus(sent.sid)).toEqual({ status: 'undelivered', errorCode: 30003 })
    const res = await fetch(
      `${sandbox.twilioEndpoint}/2010-04-01/Accounts/${ACCOUNT}/Messages/${sent.sid}.json`,
      {
        headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString('base64')}` },
      },
    )
    checkShape((await res.json()) as Record<string, unknown>, schema, spec.components.schemas)
    expect(await c.messageStatus(`SM${'0'.repeat(32)}`)).toBeUndefined()
    // another recipient's callbacks still go
    await c.send({ to: '+27820000001', from: FROM, body: 'hi', statusCallback: hookUrl })
    await new Promise((r) => setTimeout(r, 100))
    expect(received.length).toBeGreaterThanOrEqual(2)
  })

  it('refuses invalid and opted-out numbers with 21211 and 21610, and wrong credentials with 401', async () => {
    const c = client({ key: true })
    expect(await c.send({ to: '+123', from: FROM, body: 'x' })).toMatchObject({
      outcome: 'rejected',
      code: 21211,
    })
    expect(await c.send({ to: '+27820000002', from: FROM, body: 'x' })).toMatchObject({
      outcome: 'rejected',
      code: 21610,
    })
    expect(sandbox.twilio.messages).toHaveLength(0)
    const bad = createTwilioClient({
      credentials: { accountSid: ACCOUNT, authToken: 'wrong' },
      endpoint: sandbox.twilioEndpoint,
    })
    await expect(bad.accountStatus()).rejects.toMatchObject({ reason: 'Unauthorized' })
    expect(await c.accountStatus()).toBe('active')
  })

  it('signs status callbacks as Twilio does; WhatsApp freeform outside a session fails with 63016', async () => {
    const c = client()
    await c.send({
      to: 'whatsapp:+27820000004',
      from: 'whatsapp:+15005550006',
      body: 'in session',
      statusCallback: hookUrl,
    })
    await c.send({
      to: 'whatsapp:+27820000005',
      from: 'whatsapp:+15005550006',
      body: 'no session',
      statusCallback: hookUrl,
    })
    await c.send({ to: '+27820000003', from: FROM, body: 'unreachable', statusCallback: hookUrl })
    const deadline = Date.now() + 5_000
    while (received.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    const statuses = received.map((r) => Object.fromEntries(new URLSearchParams(r.body)))
    for (const r of received) {
      const params = Object.fromEntries(new URLSearchParams(r.body))
      expect(twilio.validateRequest(TOKEN, String(r.headers['x-twilio-signature']), hookUrl, params)).toBe(
        true,
      )
    }
    const byTo = (to: string) =>
      statuses
        .filter((s) => s.To === to)
        .map((s) => `${s.MessageStatus}${s.ErrorCode ? `:${s.ErrorCode}` : ''}`)
    expect(byTo('whatsapp:+27820000004')).toEqual(['sent', 'delivered', 'read'])
    expect(byTo('whatsapp:+27820000005')).toEqual(['failed:63016'])
    expect(byTo('+27820000003')).toEqual(['sent', 'undelivered:30003'])
  })

  it('faults: 429 with Retry-After and 5xx are uncertain; a lost response and a 5xx after accepting leave the message stored', async () => {
    const c = client({ timeoutMs: 300 })
    sandbox.faults.inject({ provider: 'twilio', status: 429, retryAfterSeconds: 2 })
    expect(await c.send({ to: '+27820000001', from: FROM, body: 'a' })).toMatchObject({
      outcome: 'uncertain',
      why: 'HTTP 429',
    })
    sandbox.faults.inject({ provider: 'twilio', status: 503 })
    expect(await c.send({ to: '+27820000001', from: FROM, body: 'b' })).toMatchObject({
      outcome: 'uncertain',
    })
    expect(sandbox.twilio.messages).toHaveLength(0)
    sandbox.twilio.loseResponses = 1
    expect(await c.send({ to: '+27820000001', from: FROM, body: 'c' })).toMatchObject({
      outcome: 'uncertain',
      why: 'no response',
    })
    sandbox.twilio.acceptThenFail = { times: 1, status: 502 }
    expect(await c.send({ to: '+27820000001', from: FROM, body: 'd' })).toMatchObject({
      outcome: 'uncertain',
      why: 'HTTP 502',
    })
    sandbox.faults.inject({ provider: 'twilio', delayMs: 1_000 })
    expect(await c.send({ to: '+27820000001', from: FROM, body: 'e' })).toMatchObject({
      outcome: 'uncertain',
      why: 'no response',
    })
    // c, d and e were accepted although the client could not know
    expect(sandbox.twilio.messages.map((m) => m.body)).toEqual(['c', 'd', 'e'])
    expect(
      (await c.sentSince('+27820000001', new Date(Date.now() - 60_000), { from: FROM }))
        .map((m) => m.sid)
        .sort(),
    ).toEqual(sandbox.twilio.messages.map((m) => m.sid).sort())
  })
})

/** Checks a JSON value against an OpenAPI schema: every property present, of its type, nothing extra. */
function checkShape(
  value: Record<string, unknown>,
  schema: Schema,
  all: Record<string, Schema>,
  at = '$',
): void {
  const props = schema.properties ?? {}
  expect(Object.keys(value).sort(), `${at}: properties`).toEqual(Object.keys(props).sort())
  for (const [k, raw] of Object.entries(props)) {
    const s = raw.$ref ? (all[raw.$ref.replace('#/components/schemas/', '')] as Schema) : raw
    const v = value[k]
    if (v === null) {
      expect(s.nullable, `${at}.${k} is null but not nullable`).toBe(true)
      continue
    }
    if (s.enum) expect(s.enum, `${at}.${k}`).toContain(v)
    const type = s.type ?? (s.enum ? 'string' : undefined)
    if (type === 'integer') expect(Number.isInteger(v), `${at}.${k} integer`).toBe(true)
    else if (type === 'array') expect(Array.isArray(v), `${at}.${k} array`).toBe(true)
    else if (type === 'object') expect(typeof v, `${at}.${k} object`).toBe('object')
    else if (type) expect(typeof v, `${at}.${k}`).toBe(type)
    if (type === 'array' && Array.isArray(v) && (raw as { items?: Schema }).items?.$ref) {
      const item = all[
        ((raw as { items: Schema }).items.$ref ?? '').replace('#/components/schemas/', '')
      ] as Schema
      for (const [i, el] of v.entries())
        checkShape(el as Record<string, unknown>, item, all, `${at}.${k}[${i}]`)
    }
  }
}
