import { createHash } from 'node:crypto'
import type { RequestOptions } from 'node:https'
import {
  type ApiType,
  createConfiguration,
  KubeConfig,
  type RequestContext,
  ServerConfiguration,
  setHeaderMiddleware,
} from '@kubernetes/client-node'
import clientPackage from '@kubernetes/client-node/package.json' with { type: 'json' }
import { Agent, type Dispatcher } from 'undici'
import { DispatcherHttpLibrary } from './http-library.ts'

/**
 * One connection pool to the API server per process.
 *
 * `@kubernetes/client-node` 2.x builds a new undici `Agent` for every request (in
 * `KubeConfig.applySecurityAuthentication`), so every API call and every watch opens its own TLS
 * connection: a handshake, a new `SecureContext` and a socket per call. `SharedConnectionsKubeConfig`
 * keeps the client's authentication (tokens, exec plugins, client certificates, all re-read per
 * request as before) and hands every request of the process the same dispatcher for the same API
 * server and TLS identity. With HTTP/2, which kube-apiserver speaks over TLS, that is one connection
 * for every call and watch; where a server only speaks HTTP/1.1, a keep-alive pool.
 *
 * Its API clients also send their calls straight to that dispatcher rather than through `fetch`
 * (`DispatcherHttpLibrary`), which halves a call's CPU.
 *
 * The report for the client's maintainers is in docs/upstream/client-node-connection-reuse.md.
 */
export class SharedConnectionsKubeConfig extends KubeConfig {
  readonly #pool: PoolOptions

  constructor(opts: Partial<PoolOptions> = {}) {
    super()
    this.#pool = { ...defaultPoolOptions, ...opts }
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const cluster = this.getCurrentCluster()
    // Proxies and plain-HTTP servers keep the client's own handling: a proxy needs its own agent
    // type, and plain HTTP has no handshake to save (Node's global dispatcher already pools it).
    if (!cluster || cluster.proxyUrl || !cluster.server.startsWith('https:')) {
      return super.applySecurityAuthentication(context)
    }
    const opts: RequestOptions = {}
    // Fills the CA, client certificate and key, TLS server name and the Authorization header
    // (bearer token, exec or auth-provider plugin) exactly as the client does for every request.
    await this.applyToHTTPSOptions(opts)
    if (typeof opts.auth === 'string') {
      context.setHeaderParam('Authorization', `Basic ${Buffer.from(opts.auth).toString('base64')}`)
    }
    for (const [key, value] of Object.entries(opts.headers ?? {})) {
      if (value !== undefined) context.setHeaderParam(key, String(value))
    }
    context.setDispatcher(sharedDispatcher(cluster.server, opts, this.#pool))
  }

  /** As the client's own, with `DispatcherHttpLibrary` as the HTTP layer. */
  override makeApiClient<T extends ApiType>(apiClientType: new (config: Configuration) => T): T {
    const cluster = this.getCurrentCluster()
    if (!cluster) throw new Error('No active cluster!')
    return new apiClientType(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        authMethods: { default: this },
        middleware: [setHeaderMiddleware('User-Agent', USER_AGENT)],
        httpApi: httpLibrary,
      }),
    )
  }
}

type Configuration = ReturnType<typeof createConfiguration>

const httpLibrary = new DispatcherHttpLibrary()

/** Who calls, in the API server's audit log and its metrics. */
const USER_AGENT = `switchboard (kubernetes-client-javascript/${clientPackage.version})`

/**
 * The same configuration with shared connections. A `SharedConnectionsKubeConfig` is returned as it
 * is; any other is copied (clusters, users, contexts), so the caller's object is not changed.
 */
export function withSharedConnections(
  kc: KubeConfig,
  opts: Partial<PoolOptions> = {},
): SharedConnectionsKubeConfig {
  if (kc instanceof SharedConnectionsKubeConfig && Object.keys(opts).length === 0) return kc
  const shared = new SharedConnectionsKubeConfig(opts)
  shared.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  })
  return shared
}

export interface PoolOptions {
  /** Offer HTTP/2 in the TLS handshake (ALPN); HTTP/1.1 keep-alive when the server declines. */
  http2: boolean
}

/** `SWITCHBOARD_KUBE_HTTP2=false` keeps HTTP/1.1 (a pool of keep-alive connections). */
const defaultPoolOptions: PoolOptions = { http2: process.env.SWITCHBOARD_KUBE_HTTP2 !== 'false' }

/** Dispatchers by API server and TLS identity (hashed: no key material is kept as a map key). */
const pools = new Map<string, Agent>()

function sharedDispatcher(server: string, opts: RequestOptions, pool: PoolOptions): Dispatcher {
  const tls = {
    ca: opts.ca,
    cert: opts.cert,
    key: opts.key,
    pfx: opts.pfx,
    passphrase: opts.passphrase,
    rejectUnauthorized: opts.rejectUnauthorized,
    servername: opts.servername,
  }
  const hash = createHash('sha256').update(`${server}\0${pool.http2}`)
  for (const [name, value] of Object.entries(tls)) {
    hash.update(`\0${name}\0`)
    if (value !== undefined) hash.update(typeof value === 'boolean' ? String(value) : materialOf(value))
  }
  const key = hash.digest('hex')
  let agent = pools.get(key)
  if (agent) {
    // Most recently used last, so the pool dropped below is the one unused longest.
    pools.delete(key)
    pools.set(key, agent)
    return agent
  }
  const connect = Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined))
  agent = new Agent({
    allowH2: pool.http2,
    // Keep-alive probes every 30 s, as client-go and the client's own agents do, so an idle
    // connection through a load balancer is not dropped silently.
    connect: { ...connect, keepAlive: true, keepAliveInitialDelay: 30_000 },
  })
  pools.set(key, agent)
  // A rotated client certificate is a new identity and gets a new pool; the pools of identities no
  // longer used are closed once their requests are done.
  while (pools.size > MAX_POOLS) {
    const [oldest, old] = pools.entries().next().value as [string, Agent]
    pools.delete(oldest)
    void old.close()
  }
  return agent
}

/** A process talks to one API server with one or two identities; a few pools cover rotations. */
const MAX_POOLS = 4

function materialOf(value: unknown): string | Buffer {
  if (Buffer.isBuffer(value) || typeof value === 'string') return value
  if (Array.isArray(value)) return value.map((v) => materialOf(v).toString()).join('\0')
  return JSON.stringify(value)
}

/** Closes every shared pool (on shutdown, and between tests). */
export async function closeSharedConnections(): Promise<void> {
  const agents = new Set(pools.values())
  pools.clear()
  await Promise.all([...agents].map((a) => a.close()))
}
