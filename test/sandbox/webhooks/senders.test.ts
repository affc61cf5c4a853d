import { createHmac } from 'node:crypto'
import { validateRequest } from 'twilio/lib/webhooks/webhooks.js'
import { describe, expect, it } from 'vitest'
import {
  calendlyRequest,
  casinoRequest,
  deliveryUrl,
  googleNotification,
  patreonRequest,
  toInject,
  twilioStatusCallback,
  twitchRequest,
  twitchTimestamp,
} from './senders.ts'

const url = 'https://hooks.example.com/hooks/x/token'
const hex = (alg: string, key: string, data: string) => createHmac(alg, key).update(data).digest('hex')

describe('webhook senders sign the way the providers document', () => {
  it('twilio: the SDK accepts the signature over the URL and the form parameters', () => {
    const req = twilioStatusCallback({ url, authToken: 'tok', messageSid: 'SM1', status: 'sent' })
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded')
    const params = Object.fromEntries(new URLSearchParams(req.body))
    expect(validateRequest('tok', req.headers['x-twilio-signature'] ?? '', url, params)).toBe(true)
    expect(validateRequest('other', req.headers['x-twilio-signature'] ?? '', url, params)).toBe(false)
  })

  it('patreon and the casino contract: HMACs of the exact body', () => {
    const p = patreonRequest({ url, secret: 's', event: 'members:create', body: { a: 1 } })
    expect(p.body).toBe('{"a":1}')
    expect(p.headers['x-patreon-signature']).toBe(hex('md5', 's', '{"a":1}'))
    const c = casinoRequest({ url, secret: 's', body: '{}', deliveryId: 'd1', timestampSeconds: 1700000000 })
    expect(c.headers).toMatchObject({
      'x-request-sign': hex('sha256', 's', 'd1.1700000000.{}'),
      'x-delivery-id': 'd1',
      'x-request-timestamp': '1700000000',
    })
    expect(casinoRequest({ url, secret: 's', body: { a: 1 } }).body).toBe('{"stream":"transactions","a":1}')
  })

  it('calendly: t=<seconds>,v1=<HMAC of "t.body">', () => {
    const req = calendlyRequest({ url, signingKey: 'k', body: '{}', timestampSeconds: 1700000000 })
    expect(req.headers['calendly-webhook-signature']).toBe(
      `t=1700000000,v1=${hex('sha256', 'k', '1700000000.{}')}`,
    )
  })

  it('twitch: sha256= HMAC of id + timestamp + body, timestamps with nanoseconds', () => {
    const ts = twitchTimestamp(new Date('2030-01-02T03:04:05.678Z'))
    expect(ts).toBe('2030-01-02T03:04:05.678000000Z')
    const req = twitchRequest({
      url,
      secret: 's',
      type: 'notification',
      body: '{}',
      messageId: 'm1',
      timestamp: ts,
    })
    expect(req.headers['twitch-eventsub-message-signature']).toBe(`sha256=${hex('sha256', 's', `m1${ts}{}`)}`)
    expect(Date.parse(ts)).toBe(Date.parse('2030-01-02T03:04:05.678Z'))
  })

  it('google notifications carry their data outside a body', () => {
    const g = googleNotification({ url, channelId: 'c', token: 't', resourceState: 'sync', messageNumber: 1 })
    expect(g.body).toBeUndefined()
    expect(g.headers).toMatchObject({
      'x-goog-channel-id': 'c',
      'x-goog-channel-token': 't',
      'x-goog-message-number': '1',
    })
  })

  it('sends to another base URL while keeping the signed path and query', () => {
    const req = casinoRequest({ url: `${url}?a=1`, secret: 's', body: {} })
    expect(deliveryUrl(req, 'http://127.0.0.1:9999/')).toBe('http://127.0.0.1:9999/hooks/x/token?a=1')
    expect(toInject(req).url).toBe('/hooks/x/token?a=1')
  })
})
