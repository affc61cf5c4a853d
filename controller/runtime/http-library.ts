import {
  type HttpLibrary,
  IsomorphicFetchHttpLibrary,
  Observable,
  type RequestContext,
  ResponseContext,
} from '@kubernetes/client-node'
import type { Dispatcher } from 'undici'

/**
 * The HTTP layer of the API clients made by `SharedConnectionsKubeConfig`: each call goes straight
 * to the shared dispatcher (`Dispatcher.request`) instead of through the WHATWG `fetch` the client
 * uses by default. `fetch` builds a `Request`, a `Headers` list, a web stream for the body and its
 * reader for every call, which is most of a call's CPU in a controller that makes one or two calls
 * per object (measured in `bench/README.md`). The request is the same: method, URL, headers (the
 * client's authentication is already in them), body and abort signal.
 *
 * Two differences from `fetch`, both on purpose: no `Accept-Encoding` is sent, so the API server
 * does not gzip large lists (client-go's default is to ask for gzip; on a pod network the CPU of
 * compressing and decompressing a list of thousands of objects costs more than the bytes saved),
 * and redirects are not followed (the API server sends none). A request without a dispatcher (a
 * proxy, plain HTTP) or with a body other than a string goes through the client's own library.
 */
export class DispatcherHttpLibrary implements HttpLibrary {
  readonly #fallback = new IsomorphicFetchHttpLibrary()

  send(request: RequestContext): Observable<ResponseContext> {
    const dispatcher = request.getDispatcher() as Dispatcher | undefined
    const body = request.getBody()
    if (!dispatcher || (body !== undefined && typeof body !== 'string')) return this.#fallback.send(request)
    const url = new URL(request.getUrl())
    const signal = request.getSignal()
    return new Observable(
      dispatcher
        .request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: request.getHttpMethod() as Dispatcher.HttpMethod,
          headers: request.getHeaders(),
          ...(body !== undefined ? { body } : {}),
          ...(signal ? { signal } : {}),
        })
        .then(async (res) => {
          // API responses are bounded, and reading the body at once returns the stream to the
          // connection whatever the caller does with the response.
          const bytes = Buffer.from(await res.body.arrayBuffer())
          const headers: Record<string, string> = {}
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
          }
          return new ResponseContext(res.statusCode, headers, {
            text: () => Promise.resolve(bytes.toString('utf8')),
            binary: () => Promise.resolve(bytes),
            stream: () =>
              new ReadableStream<Uint8Array>({
                start(controller) {
                  controller.enqueue(bytes)
                  controller.close()
                },
              }),
          })
        }),
    )
  }
}
