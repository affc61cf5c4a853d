import { createHash } from 'node:crypto'
import { getExpectedTwilioSignature, validateRequest } from 'twilio/lib/webhooks/webhooks.js'
import { describe, expect, it } from 'vitest'
import { twilioRequest, twilioStatusCallback } from '../../test/sandbox/webhooks/index.ts'
import { FUZZ_SEED, prng } from '../../test/seeded/index.ts'
import { harness, PUBLIC_URL, providerContract } from '../../test/webhooks/index.ts'
import { twilioSignatureMatches } from './twilio.ts'

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

const SEED = FUZZ_SEED

/** What the SDK alone answers, a throw being a refusal (as the route treats it). */
function sdkAnswer(token: string, signature: string, url: string, params: Record<string, string | string[]>) {
  try {
    return validateRequest(token, signature, url, params)
  } catch {
    return false
  }
}

function fastAnswer(
  token: string,
  signature: string,
  url: string,
  params: Record<string, string | string[]>,
) {
  try {
    return twilioSignatureMatches(token, signature, url, params)
  } catch {
    return false
  }
}

describe('twilio signature check', () => {
  it("accepts exactly what the SDK's validateRequest accepts (seeded fuzz)", () => {
    const r = prng(SEED)
    // printed on every run, so that a failure can be replayed with FUZZ_SEED
    process.stderr.write(`[twilio signature fuzz] seed ${SEED} (replay: FUZZ_SEED=${SEED})\n`)
    const schemes = ['https://', 'http://', 'HTTPS://', 'Http://', '']
    const hosts = [
      'hooks.example.com',
      'HOOKS.example.com',
      '[::1]',
      '127.0.0.1',
      'user:pw@hooks.example.com',
      '',
    ]
    const ports = ['', ':443', ':80', ':8443', ':', ':0443']
    const pathChars = [
      'a',
      'Z',
      '9',
      '-',
      '_',
      '.',
      '~',
      "'",
      '%27',
      '%2F',
      ' ',
      '%20',
      'é',
      '!',
      '*',
      '(',
      ')',
    ]
    const queries = [
      '',
      '?',
      '?a=1',
      "?q=it's",
      '?q=%27x%27',
      '?a=1&a=2',
      '?x=a+b',
      '?x=a%20b',
      '?bodySHA256=00',
      '#frag',
    ]
    const keys = ['MessageSid', 'MessageStatus', 'Body', 'From', 'To', 'MediaUrl', 'a', 'A', 'ä', '']
    const values = ['SM1', 'delivered', 'Hello world', '+15005550006', '', "it's", 'a&b=c', '✓', '%20']
    let accepted = 0
    let compared = 0
    for (let n = 0; n < 3000; n++) {
      const path = Array.from({ length: r.int(12) }, () => r.pick(pathChars)).join('')
      const url = `${r.pick(schemes)}${r.pick(hosts)}${r.pick(ports)}/hooks/twilio/${path}${r.pick(queries)}`
      const params: Record<string, string | string[]> = {}
      for (let i = r.int(5); i > 0; i--) {
        const k = r.pick(keys)
        params[k] = r.chance(0.2) ? [r.pick(values), r.pick(values)] : r.pick(values)
      }
      // signed over this URL, over another spelling of it (port, case, encoding), with another
      // token, tampered, or not a signature at all
      const signedUrl = r.chance(0.5)
        ? url
        : r.pick([
            url.replace(/:443\//, '/').replace(/:80\//, '/'),
            url.replace('hooks.example.com/', 'hooks.example.com:443/'),
            url.replace('https://', 'HTTPS://'),
            url.replace(/'/g, '%27'),
            url.replace(/%27/g, "'"),
            url.replace(/ /g, '%20'),
          ])
      const token = r.chance(0.9) ? 'twilio-auth-token-0001' : 'twilio-auth-token-9999'
      const good = getExpectedTwilioSignature(token, signedUrl, params)
      const signature = r.pick([
        good,
        good,
        good,
        `${good.slice(0, -2)}A=`,
        good.toLowerCase(),
        `${good} `,
        '',
        'x',
        '\u00e9'.repeat(28),
      ])
      const sdk = sdkAnswer('twilio-auth-token-0001', signature, url, params)
      expect(
        fastAnswer('twilio-auth-token-0001', signature, url, params),
        `seed ${SEED}, case ${n}: ${url}`,
      ).toBe(sdk)
      compared++
      if (sdk) accepted++
    }
    // both outcomes were exercised, so the comparison could fail either way
    expect(compared).toBe(3000)
    expect(accepted, `seed ${SEED}`).toBeGreaterThan(300)
    expect(compared - accepted, `seed ${SEED}`).toBeGreaterThan(300)
  })

  it('accepts a signature over another spelling of the URL only through the SDK, as before', () => {
    const token = 'twilio-auth-token-0001'
    const params = { MessageSid: 'SM1', MessageStatus: 'sent' }
    // Twilio signed the URL with its default port; the public URL has none
    const signed = getExpectedTwilioSignature(token, 'https://hooks.example.com:443/hooks/twilio/t', params)
    expect(twilioSignatureMatches(token, signed, 'https://hooks.example.com/hooks/twilio/t', params)).toBe(
      true,
    )
    expect(validateRequest(token, signed, 'https://hooks.example.com/hooks/twilio/t', params)).toBe(true)
    // and another token's signature over the same URL is refused by both
    const other = getExpectedTwilioSignature(
      'twilio-auth-token-9999',
      'https://hooks.example.com/hooks/twilio/t',
      params,
    )
    expect(twilioSignatureMatches(token, other, 'https://hooks.example.com/hooks/twilio/t', params)).toBe(
      false,
    )
  })
})
