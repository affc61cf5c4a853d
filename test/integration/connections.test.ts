import { connect, createServer, type Server, type Socket } from 'node:net'
import { CoreV1Api, type KubeConfig, Watch } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeSharedConnections, withSharedConnections } from '../../controller/runtime/index.ts'
import { createNamespace, testKubeConfig } from './helpers.ts'

// Every API call and watch of a process shares one connection pool to the API server. A TCP relay
// in front of the API server counts the connections it accepts: each is a TLS handshake the client
// paid for.

interface Relay {
  url: string
  accepted(): number
  close(): Promise<void>
}

async function relayTo(target: URL): Promise<Relay> {
  let accepted = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    accepted++
    const upstream = connect(Number(target.port), target.hostname)
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    const drop = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `https://${target.hostname}:${port}`,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** The test's kubeconfig, pointed at the relay. */
function through(relay: Relay): KubeConfig {
  const kc = testKubeConfig()
  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new Error('kubeconfig has no current cluster')
  const clusters = kc.getClusters().map((c) => (c.name === cluster.name ? { ...c, server: relay.url } : c))
  kc.loadFromOptions({
    clusters,
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  })
  return kc
}

/** `calls` reads and writes, `concurrency` at a time, with `watches` watches open throughout. */
async function burst(kc: KubeConfig, calls: number, concurrency: number, watches: number) {
  const core = kc.makeApiClient(CoreV1Api)
  const namespace = await createNamespace(core, 'conn')
  const open: Array<{ abort(): void }> = []
  const events: string[] = []
  for (let i = 0; i < watches; i++) {
    open.push(
      await new Watch(kc).watch(
        `/api/v1/namespaces/${namespace}/configmaps`,
        {},
        (type) => events.push(type),
        () => {},
      ),
    )
  }
  let next = 0
  const worker = async () => {
    while (next < calls) {
      const i = next++
      if (i % 4 === 0) {
        await core.createNamespacedConfigMap({
          namespace,
          body: { metadata: { name: `cm-${i}` }, data: { i: String(i) } },
        })
      } else {
        await core.listNamespacedConfigMap({ namespace, limit: 5 })
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  // Each watch saw every create: the watches ran over the same pool while the calls did.
  const creates = Math.ceil(calls / 4)
  const deadline = Date.now() + 10_000
  while (events.filter((e) => e === 'ADDED').length < creates * watches && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50))
  }
  for (const w of open) w.abort()
  return events.filter((e) => e === 'ADDED').length
}

describe('connections to the API server', () => {
  let relay: Relay

  beforeAll(async () => {
    relay = await relayTo(new URL(testKubeConfig().getCurrentCluster()?.server ?? ''))
  })

  afterAll(async () => {
    await closeSharedConnections()
    await relay.close()
  })

  it('the client alone opens a connection per request (the baseline this pool exists for)', async () => {
    const before = relay.accepted()
    await burst(through(relay), 100, 8, 0)
    const opened = relay.accepted() - before
    // If this fails, @kubernetes/client-node reuses connections by itself and
    // controller/runtime/connections.ts can go (see docs/upstream/client-node-connection-reuse.md).
    expect(opened).toBeGreaterThanOrEqual(100)
  })

  it('with shared connections, 400 calls and 3 watches use one HTTP/2 connection', async () => {
    await closeSharedConnections()
    const before = relay.accepted()
    const kc = withSharedConnections(through(relay))
    const seen = await burst(kc, 400, 16, 3)
    expect(seen).toBe(3 * 100)
    expect(relay.accepted() - before).toBe(1)
  })

  it('over HTTP/1.1 (SWITCHBOARD_KUBE_HTTP2=false) keep-alive connections are reused, not opened per call', async () => {
    await closeSharedConnections()
    const before = relay.accepted()
    const kc = withSharedConnections(through(relay), { http2: false })
    const seen = await burst(kc, 400, 16, 3)
    expect(seen).toBe(3 * 100)
    // One per watch, and for the calls a pool that grows while the first connections are still in
    // their handshakes (about 30 here for 16 workers), then reused: never one per call.
    const opened = relay.accepted() - before
    expect(opened).toBeGreaterThan(3)
    expect(opened).toBeLessThanOrEqual(40)
  })
})
