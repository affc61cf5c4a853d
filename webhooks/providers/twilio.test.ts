import { createHash } from 'node:crypto'
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks.js'
import { describe, expect, it } from 'vitest'
import { twilioRequest, twilioStatusCallback } from '../../test/sandbox/webhooks/index.ts'
import { harness, PUBLIC_URL, providerContract } from '../../test/webhooks/index.ts'

const secrets = { authToken: 'twilio-auth-token-0001' }

describe('twilio', () => {
  providerContract({
    provider: 'twilio',
    secrets,
    wrongSecrets: { authToken: 'twilio-auth-token-9999' },
    signatureHeader: 'x-twilio-signature',
    acceptedStatus: 200,
    reconciles: false,
    build: (url, s, n) =>
      twilioStatusCallback({
        url,
        authToken: s.authToken ?? '',
        messageSid: `SM${String(n).padStart(32, '0')}`,
        status: 'delivered',
      }),
  })

  it('verifies against the public URL, not the URL the server saw', async () => {
    const h = harness()
    const { url, path } = h.addTarget('twilio', secrets)
    expect(url.startsWith(PUBLIC_URL)).toBe(true)
    // the SDK itself accepts the vector for the public URL...
    const req = twilioStatusCallback({ url, authToken: secrets.authToken, messageSid: 'SM1', status: 'sent' })
    const params = Object.fromEntries(new URLSearchParams(req.body))
    expect(validateRequest(secrets.authToken, req.headers['x-twilio-signature'] ?? '', url, params)).toBe(
      true,
    )
    expect((await h.send(req)).statusCode).toBe(200)
    // ...and a signature over the URL inject() uses (http://localhost/...) is refused
    const local = twilioStatusCallback({
      url: `http://localhost:80${path}`,
      authToken: secrets.authToken,
      messageSid: 'SM2',
      status: 'sent',
    })
    expect((await h.send(local)).statusCode).toBe(401)
  })

  it('keeps the query string in the signed URL and accepts repeated parameters', async () => {
    const h = harness()
    const { url } = h.addTarget('twilio', secrets)
    const withQuery = `${url}?campaign=spring&x=1`
    const params = {
      MessageSid: 'SM77',
      Body: 'Hello world',
      MediaUrl: ['https://a.example/1', 'https://a.example/2'],
    }
    const req = twilioRequest({ url: withQuery, authToken: secrets.authToken, params })
    expect(req.headers['x-twilio-signature']).toBe(
      getExpectedTwilioSignature(secrets.authToken, withQuery, params),
    )
    const res = await h.send(req)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/xml/)
    expect(res.body).toContain('<Response></Response>')
    // an incoming message (no MessageStatus) asks for a reconcile
    expect(h.requester.requests).toHaveLength(1)
    expect(h.callbacks.events).toHaveLength(0)
    // the same signature for another query string is refused
    const moved = { ...req, url: `${url}?campaign=autumn&x=1` }
    expect((await h.send(moved)).statusCode).toBe(401)
  })

  it('hands status callbacks to the callback sink keyed by MessageSid, without personal data', async () => {
    const h = harness()
    const { url, target } = h.addTarget('twilio', secrets)
    const res = await h.send(
      twilioStatusCallback({
        url,
        authToken: secrets.authToken,
        messageSid: 'SMabc',
        status: 'failed',
        errorCode: '30007',
      }),
    )
    expect(res.statusCode).toBe(200)
    expect(h.requester.requests).toHaveLength(0)
    expect(h.callbacks.events).toHaveLength(1)
    const [{ target: t, event }] = h.callbacks.events as [(typeof h.callbacks.events)[number]]
    expect(t.name).toBe(target.name)
    expect(event).toMatchObject({ provider: 'twilio', type: 'message-status', key: 'SMabc' })
    expect(event.data).toEqual({ status: 'failed', errorCode: 30007 })
    expect(JSON.stringify(event)).not.toContain('+1500')
  })

  it('deduplicates by MessageSid and status when Twilio sends no idempotency token', async () => {
    const h = harness()
    const { url } = h.addTarget('twilio', secrets)
    const make = (status: string) =>
      twilioStatusCallback({
        url,
        authToken: secrets.authToken,
        messageSid: 'SMd',
        status,
        idempotencyToken: null,
      })
    for (const r of [make('sent'), make('sent'), make('delivered')])
      expect((await h.send(r)).statusCode).toBe(200)
    expect(h.callbacks.events.map((e) => e.event.data.status)).toEqual(['sent', 'delivered'])
  })

  it('refuses other content types with 415', async () => {
    const h = harness()
    const { url } = h.addTarget('twilio', secrets)
    const req = twilioStatusCallback({ url, authToken: secrets.authToken, messageSid: 'SMx', status: 'sent' })
    const res = await h.send({ ...req, headers: { ...req.headers, 'content-type': 'text/plain' } })
    expect(res.statusCode).toBe(415)
  })

  it('checks a JSON callback against the hash of the bytes that arrived, not of their decoded text', async () => {
    const h = harness()
    const { url } = h.addTarget('twilio', secrets)
    // two bodies that differ only in an invalid UTF-8 byte: as text both read {"a":"\uFFFD"}
    const sent = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff]), Buffer.from('"}')])
    const other = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xfe]), Buffer.from('"}')])
    const signedUrl = `${url}?bodySHA256=${createHash('sha256').update(sent).digest('hex')}`
    const signature = getExpectedTwilioSignature(secrets.authToken, signedUrl, {})
    const post = (payload: Buffer) =>
      h.app.inject({
        method: 'POST',
        url: signedUrl.slice(PUBLIC_URL.length),
        headers: { 'content-type': 'application/json', 'x-twilio-signature': signature },
        payload,
      })
    expect((await post(other)).statusCode).toBe(401)
    expect((await post(sent)).statusCode).toBe(200)
    expect(h.requester.requests).toHaveLength(1)
  })

  it('dedupes on signed fields: a replay with a new idempotency token or header case does nothing', async () => {
    const h = harness()
    const { url } = h.addTarget('twilio', secrets)
    const req = twilioStatusCallback({
      url,
      authToken: secrets.authToken,
      messageSid: 'SMr',
      status: 'delivered',
    })
    expect((await h.send(req)).statusCode).toBe(200)
    for (const token of ['replay-1', 'replay-2']) {
      const headers = { ...req.headers, 'i-twilio-idempotency-token': token }
      expect((await h.send({ ...req, headers })).statusCode).toBe(200)
    }
    const upper: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) upper[k.toUpperCase()] = v
    expect((await h.send({ ...req, headers: upper })).statusCode).toBe(200)
    expect(h.callbacks.events).toHaveLength(1)
    expect(await h.count('switchboard_webhook_dedupe_hits_total', { provider: 'twilio' })).toBe(3)
  })
})
