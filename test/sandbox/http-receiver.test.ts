import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { signPayload } from '../../connectors/signed-http/index.ts'
import { buildSandbox, type Sandbox } from './index.ts'

const SECRET = 'receiver-secret-0123456789'
const now = () => Math.floor(Date.now() / 1000)

function batchBody(batchId: string, ids: string[]): string {
  return JSON.stringify({
    batchId,
    records: ids.map((id) => ({
      messageId: id,
      type: 'track',
      userId: 'u',
      event: 'e',
      properties: {},
      timestamp: '2026-01-01T00:00:00Z',
    })),
  })
}

describe('signed HTTP receiver sandbox', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await buildSandbox({
      http: {
        receivers: {
          shop: { signingSecret: SECRET },
          custom: { signingSecret: SECRET, signatureHeader: 'X-Custom-Sig', toleranceSeconds: 10 },
        },
        maxStoredRecords: 3,
      },
    })
  })
  afterAll(() => sb.close())
  beforeEach(() => sb.reset())

  const post = (receiver: string, body: string | Buffer, headers: Record<string, string>) =>
    sb.app.inject({
      method: 'POST',
      url: `/http/${receiver}`,
      headers: { 'content-type': 'application/json', ...headers },
      payload: body,
    })
  const signed = (body: string, secret = SECRET, t = now()) => ({
    'x-switchboard-signature': signPayload(secret, t, body),
  })

  it('accepts a signed batch and records it', async () => {
    const body = batchBody('b-1', ['m-1', 'm-2'])
    const res = await post('shop', body, { ...signed(body), 'x-switchboard-delivery': 'b-1' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true, batchId: 'b-1', records: 2, duplicate: false })
    expect(sb.http.received('shop')).toBe(2)
    expect([...sb.http.messageIds('shop')]).toEqual(['m-1', 'm-2'])
    expect(sb.http.batches('shop')).toBe(1)
    expect(sb.http.records('shop')[0]).toMatchObject({ messageId: 'm-1', type: 'track' })
  })

  it('dedupes by batchId and by messageId', async () => {
    const one = batchBody('b-1', ['m-1', 'm-2'])
    const two = batchBody('b-2', ['m-2', 'm-3'])
    await post('shop', one, signed(one))
    const again = await post('shop', one, signed(one))
    expect(again.json()).toMatchObject({ duplicate: true })
    await post('shop', two, signed(two))
    expect(sb.http.batches('shop')).toBe(2)
    expect(sb.http.duplicateBatches('shop')).toBe(1)
    expect(sb.http.uniqueMessageIds('shop')).toBe(3)
    expect(sb.http.duplicates('shop')).toBe(3)
    expect(sb.http.received('shop')).toBe(6)
  })

  it('verifies the bytes that arrived: one changed byte is refused', async () => {
    const body = batchBody('b-1', ['m-1'])
    const headers = signed(body)
    const changed = Buffer.from(body)
    changed[10] = (changed[10] as number) ^ 1
    const res = await post('shop', changed, headers)
    expect(res.statusCode).toBe(401)
    expect(res.json()).toEqual({ error: 'invalid signature', reason: 'mismatch' })
    // whitespace a JSON re-serialisation would remove still counts
    const spaced = body.replace('{', '{ ')
    expect((await post('shop', spaced, signed(spaced))).statusCode).toBe(200)
    expect(sb.http.received('shop')).toBe(1)
  })

  it('refuses a wrong secret, a stale timestamp, a missing or malformed header', async () => {
    const body = batchBody('b-1', ['m-1'])
    expect((await post('shop', body, signed(body, 'wrong-secret'))).statusCode).toBe(401)
    expect((await post('shop', body, signed(body, SECRET, now() - 301))).statusCode).toBe(401)
    expect((await post('shop', body, {})).statusCode).toBe(401)
    expect((await post('shop', body, { 'x-switchboard-signature': 't=1,v1=zz' })).statusCode).toBe(401)
    expect(sb.http.rejected('shop')).toEqual({ mismatch: 1, stale: 1, missing: 1, malformed: 1 })
    expect(sb.http.received('shop')).toBe(0)
  })

  it('uses the receiver’s own header and tolerance', async () => {
    const body = batchBody('b-1', ['m-1'])
    expect((await post('custom', body, signed(body))).statusCode).toBe(401)
    expect(
      (await post('custom', body, { 'x-custom-sig': signPayload(SECRET, now() - 20, body) })).statusCode,
    ).toBe(401)
    expect(
      (await post('custom', body, { 'x-custom-sig': signPayload(SECRET, now(), body) })).statusCode,
    ).toBe(200)
  })

  it('answers 404 for an unknown receiver and 400 for a malformed batch', async () => {
    const body = batchBody('b-1', ['m-1'])
    expect((await post('nobody', body, signed(body))).statusCode).toBe(404)
    const notJson = '{"batchId": "b-1", '
    expect((await post('shop', notJson, signed(notJson))).statusCode).toBe(400)
    const noId = JSON.stringify({ records: [] })
    expect((await post('shop', noId, signed(noId))).statusCode).toBe(400)
    const noRecords = JSON.stringify({ batchId: 'x' })
    expect((await post('shop', noRecords, signed(noRecords))).statusCode).toBe(400)
    const mismatch = await post('shop', body, { ...signed(body), 'x-switchboard-delivery': 'other' })
    expect(mismatch.statusCode).toBe(400)
  })

  it('keeps record bodies up to the cap but counts every id', async () => {
    const body = batchBody('b-1', ['a', 'b', 'c', 'd', 'e'])
    await post('shop', body, signed(body))
    expect(sb.http.records('shop')).toHaveLength(3)
    expect(sb.http.uniqueMessageIds('shop')).toBe(5)
  })

  it('adds receivers at run time, over HTTP too', async () => {
    const res = await sb.app.inject({
      method: 'POST',
      url: '/_sandbox/http/receivers',
      payload: { name: 'late', signingSecret: 'late-secret' },
    })
    expect(res.statusCode).toBe(204)
    const body = batchBody('b-1', ['m-1'])
    expect((await post('late', body, signed(body, 'late-secret'))).statusCode).toBe(200)
    const view = await sb.app.inject({ method: 'GET', url: '/_sandbox/http/late/records' })
    expect(view.json()).toMatchObject({ received: 1, batches: 1, records: [{ messageId: 'm-1' }] })
    expect((await sb.app.inject({ method: 'GET', url: '/_sandbox/http/nobody/records' })).statusCode).toBe(
      404,
    )
  })
})
