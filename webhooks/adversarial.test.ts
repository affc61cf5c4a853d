/**
 * Requests no client library would send, on a real port (Node's HTTP parser, not inject()):
 * oversized and duplicated headers, header names in any case, bodies at and over the limit.
 * Each must get the right status and change nothing.
 */
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { casinoRequest, type WebhookRequest } from '../test/sandbox/webhooks/index.ts'
import { type Harness, harness } from '../test/webhooks/index.ts'

const secrets = { signingSecret: 'casino-signing-secret-01' }
let open: Harness | undefined

afterEach(async () => {
  await open?.app.close()
  open = undefined
})

async function listen(opts: Parameters<typeof harness>[0] = {}) {
  const h = harness(opts)
  open = h
  await h.app.listen({ host: '127.0.0.1', port: 0 })
  const addr = h.app.server.address()
  if (!addr || typeof addr !== 'object') throw new Error('no port')
  return { h, port: addr.port }
}

/** Sends raw HTTP/1.1 (header lines exactly as given) and resolves with the status code. */
function raw(port: number, path: string, headerLines: string[], body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data)
      if (m) {
        resolve(Number(m[1]))
        socket.destroy()
      }
    })
    socket.on('error', reject)
    socket.on('close', () => {
      if (!/^HTTP\/1\.1 \d{3}/.test(data))
        reject(new Error(`no response: ${JSON.stringify(data.slice(0, 80))}`))
    })
    const head = [
      `POST ${path} HTTP/1.1`,
      'Host: hooks.example.com',
      'Connection: close',
      `Content-Length: ${Buffer.byteLength(body)}`,
      ...headerLines,
    ].join('\r\n')
    socket.write(`${head}\r\n\r\n${body}`)
  })
}

function lines(
  req: WebhookRequest,
  change: (name: string, value: string) => string[] = (n, v) => [`${n}: ${v}`],
) {
  return Object.entries(req.headers).flatMap(([n, v]) => change(n, v))
}

describe('adversarial requests on a real port', () => {
  it('accepts header names in any case (they are case-insensitive)', async () => {
    const { h, port } = await listen()
    const { url, path } = h.addTarget('softswiss', secrets)
    const req = casinoRequest({ url, secret: secrets.signingSecret, body: { event: 'x' } })
    const mixed = lines(req, (n, v) => [
      `${n.replace(/(^|-)([a-z])/g, (_m, d, c) => `${d}${c.toUpperCase()}`).replace(/e/g, 'E')}: ${v}`,
    ])
    // every name differs from its lower-case form
    expect(
      mixed.every((l) => {
        const name = l.slice(0, l.indexOf(':'))
        return name !== name.toLowerCase()
      }),
    ).toBe(true)
    expect(await raw(port, path, mixed, req.body ?? '')).toBe(204)
    expect(h.requester.requests).toHaveLength(1)
  })

  it('refuses duplicated signature, id and timestamp headers, even when each copy is right', async () => {
    const { h, port } = await listen()
    const { url, path } = h.addTarget('softswiss', secrets)
    const req = casinoRequest({
      url,
      secret: secrets.signingSecret,
      body: { event: 'x' },
      deliveryId: 'dup-1',
    })
    for (const name of ['x-request-sign', 'x-delivery-id', 'x-request-timestamp']) {
      const twice = lines(req, (n, v) => (n === name ? [`${n}: ${v}`, `${n}: ${v}`] : [`${n}: ${v}`]))
      const status = await raw(port, path, twice, req.body ?? '')
      expect([400, 401], name).toContain(status)
    }
    expect(h.requester.requests).toHaveLength(0)
    expect(h.dedupe.size).toBe(0)
    // Node keeps the first of two Content-Types (and joins other repeated headers with ", "): the
    // delivery is judged by that one, and its signed bytes are what they are
    const twoTypes = lines(req, (n, v) =>
      n === 'content-type' ? [`${n}: ${v}`, `${n}: text/plain`] : [`${n}: ${v}`],
    )
    expect(await raw(port, path, twoTypes, req.body ?? '')).toBe(204)
    // the genuine one again: a duplicate, nothing more
    expect(await raw(port, path, lines(req), req.body ?? '')).toBe(204)
    expect(h.requester.requests).toHaveLength(1)
  })

  it('answers 431 for headers over the parser limit, before any work', async () => {
    const { h, port } = await listen()
    const { url, path } = h.addTarget('softswiss', secrets)
    const req = casinoRequest({ url, secret: secrets.signingSecret, body: { event: 'x' } })
    const huge = [...lines(req), `X-Pad: ${'a'.repeat(20 * 1024)}`]
    expect(await raw(port, path, huge, req.body ?? '')).toBe(431)
    const many = [...lines(req), ...Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'b'.repeat(8)}`)]
    expect(await raw(port, path, many, req.body ?? '')).toBe(431)
    expect(h.requester.requests).toHaveLength(0)
  })

  it('takes a body of exactly the limit and refuses one byte more with 413', async () => {
    const limit = 2048
    const { h, port } = await listen({ bodyLimit: limit })
    const { url, path } = h.addTarget('softswiss', secrets)
    const sized = (n: number, id: string) => {
      const base = JSON.stringify({ stream: 'transactions', pad: '' })
      const body = JSON.stringify({ stream: 'transactions', pad: 'x'.repeat(n - base.length) })
      return casinoRequest({ url, secret: secrets.signingSecret, body, deliveryId: id })
    }
    const atLimit = sized(limit, 'at')
    expect(Buffer.byteLength(atLimit.body ?? '')).toBe(limit)
    expect(await raw(port, path, lines(atLimit), atLimit.body ?? '')).toBe(204)
    const over = sized(limit + 1, 'over')
    expect(await raw(port, path, lines(over), over.body ?? '')).toBe(413)
    expect(h.requester.requests).toHaveLength(1)
  })
})
