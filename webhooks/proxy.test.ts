/**
 * Twilio signs the URL it called. Behind a TLS-terminating Ingress that URL
 * (`https://hooks.example.com/...`) is not the one the server sees (`http://127.0.0.1:PORT/...`):
 * here a real port, with a small node:http reverse proxy in front, shows that SDK-made
 * signatures verify against the configured public URL.
 */
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { send, twilioStatusCallback } from '../test/sandbox/webhooks/index.ts'
import { type Harness, harness, PUBLIC_URL } from '../test/webhooks/index.ts'

const authToken = 'twilio-auth-token-proxy'
const servers: Array<{ close(): unknown }> = []

afterAll(async () => {
  for (const s of servers) await s.close()
})

async function listen(h: Harness): Promise<number> {
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  servers.push(h.app)
  return (h.app.server.address() as AddressInfo).port
}

/** A reverse proxy like an Ingress: terminates "TLS" for hooks.example.com and forwards over HTTP. */
async function proxyTo(port: number): Promise<string> {
  const proxy: Server = createServer((req, res) => {
    const upstream = request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers: {
          ...req.headers,
          host: `127.0.0.1:${port}`,
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'hooks.example.com',
        },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('error', () => {
      res.writeHead(502)
      res.end()
    })
    req.pipe(upstream)
  })
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
  servers.push({ close: () => new Promise((r) => proxy.close(r)) })
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
}

describe('twilio behind a TLS-terminating proxy', () => {
  it('verifies SDK signatures made for the public URL', async () => {
    const h = harness({ publicUrl: PUBLIC_URL })
    const { url, target } = h.addTarget('twilio', { authToken })
    const proxy = await proxyTo(await listen(h))
    expect(url).toMatch(/^https:\/\/hooks\.example\.com\/hooks\/twilio\//)
    const req = twilioStatusCallback({ url, authToken, messageSid: 'SMproxy1', status: 'delivered' })
    const res = await send(req, { baseUrl: proxy })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('<Response>')
    expect(h.callbacks.events.map((e) => [e.target.name, e.event.key])).toEqual([[target.name, 'SMproxy1']])
    // the query string is part of what Twilio signed
    const withQuery = twilioStatusCallback({
      url: `${url}?attempt=2`,
      authToken,
      messageSid: 'SMproxy2',
      status: 'sent',
    })
    expect((await send(withQuery, { baseUrl: proxy })).status).toBe(200)
  })

  it('also verifies with the URL published in status when no public URL is configured', async () => {
    const h = harness({ publicUrl: undefined })
    const path = '/hooks/twilio/'.concat('t'.repeat(43))
    h.addTarget('twilio', { authToken }, { path, url: `${PUBLIC_URL}${path}` })
    const proxy = await proxyTo(await listen(h))
    const req = twilioStatusCallback({
      url: `${PUBLIC_URL}${path}`,
      authToken,
      messageSid: 'SMproxy3',
      status: 'sent',
    })
    expect((await send(req, { baseUrl: proxy })).status).toBe(200)
  })

  it('refuses the same delivery when the server only knows the URL it saw', async () => {
    const h = harness({ publicUrl: undefined })
    const { url } = h.addTarget('twilio', { authToken })
    const proxy = await proxyTo(await listen(h))
    const req = twilioStatusCallback({ url, authToken, messageSid: 'SMproxy4', status: 'sent' })
    const res = await send(req, { baseUrl: proxy })
    expect(res.status).toBe(401)
    expect(h.callbacks.events).toHaveLength(0)
  })
})
