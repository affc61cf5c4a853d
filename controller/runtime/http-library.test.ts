import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RequestContext } from '@kubernetes/client-node'
import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DispatcherHttpLibrary } from './http-library.ts'

interface Seen {
  method: string | undefined
  url: string | undefined
  headers: IncomingMessage['headers']
  body: string
}

describe('DispatcherHttpLibrary', () => {
  let server: Server
  let base: string
  const seen: Seen[] = []
  const agent = new Agent()
  const library = new DispatcherHttpLibrary()

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => {
        body += chunk
      })
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body })
        if (req.url?.startsWith('/slow')) return // never answers: the caller aborts
        res.setHeader('Set-Cookie', ['a=1', 'b=2'])
        res.setHeader('Content-Type', 'application/json')
        res.statusCode = req.url?.startsWith('/missing') ? 404 : 200
        res.end(JSON.stringify({ kind: 'Status', echo: body, path: req.url }))
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await agent.close()
  })

  const call = (path: string, method: 'GET' | 'PATCH', init: (ctx: RequestContext) => void = () => {}) => {
    const ctx = new RequestContext(`${base}${path}`, method)
    ctx.setDispatcher(agent)
    init(ctx)
    return library.send(ctx).toPromise()
  }

  it('sends the method, path, query, headers and body as given, and hands back status, headers and body', async () => {
    const res = await call('/apis/x/v1/namespaces/n/things/a/status?fieldManager=s%20b', 'PATCH', (ctx) => {
      ctx.setHeaderParam('Content-Type', 'application/merge-patch+json')
      ctx.setHeaderParam('Authorization', 'Bearer t0ken')
      ctx.setBody('{"status":{"ok":true}}')
    })
    const req = seen.at(-1) as Seen
    expect(req.method).toBe('PATCH')
    expect(req.url).toBe('/apis/x/v1/namespaces/n/things/a/status?fieldManager=s%20b')
    expect(req.headers['content-type']).toBe('application/merge-patch+json')
    expect(req.headers.authorization).toBe('Bearer t0ken')
    // no compression asked for: the API server does not gzip lists for a client on its network
    expect(req.headers['accept-encoding']).toBeUndefined()
    expect(req.body).toBe('{"status":{"ok":true}}')
    expect(res.httpStatusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/json')
    expect(res.headers['set-cookie']).toBe('a=1, b=2')
    expect(JSON.parse(await res.body.text())).toMatchObject({ echo: '{"status":{"ok":true}}' })
    // the body was read once; each reader gets all of it
    expect((await res.body.binary()).toString()).toBe(await res.body.text())
  })

  it('hands an error status to the client as a response, as fetch does', async () => {
    const res = await call('/missing', 'GET')
    expect(res.httpStatusCode).toBe(404)
    expect(JSON.parse(await res.body.text())).toMatchObject({ path: '/missing' })
  })

  it('aborts with the call signal', async () => {
    const abort = new AbortController()
    const pending = call('/slow', 'GET', (ctx) => ctx.setSignal(abort.signal))
    setTimeout(() => abort.abort(), 50)
    await expect(pending).rejects.toThrow(/abort/i)
  })

  it('leaves a request without a dispatcher to the client own library (fetch)', async () => {
    const ctx = new RequestContext(`${base}/plain`, 'GET')
    const res = await library.send(ctx).toPromise()
    expect(res.httpStatusCode).toBe(200)
    // fetch asks for compression; the dispatcher path does not (above)
    expect(seen.at(-1)?.headers['accept-encoding']).toMatch(/gzip/)
  })
})
