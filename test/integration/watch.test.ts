import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BookmarkedWatch, Informer, withSharedConnections } from '../../controller/runtime/index.ts'
import { capturedLogger, createNamespace, sleep, testKubeConfig, waitFor } from './helpers.ts'

// A quiet watch stays open: the informers ask for bookmarks and a server-side timeout of 5 to 10
// minutes, where the client alone ends any watch silent for 30 s and opens a new one (most of
// what an idle controller did).
describe('informer watches on a quiet resource', () => {
  const kc = withSharedConnections(testKubeConfig())
  const core = kc.makeApiClient(CoreV1Api)
  const { logger, text } = capturedLogger('debug')
  let ns: string
  let informer: Informer<V1ConfigMap>
  const connects = () =>
    text()
      .split('\n')
      .filter((l) => l.includes('"watch connecting"')).length

  beforeAll(async () => {
    ns = await createNamespace(core, 'watch')
    informer = new Informer<V1ConfigMap>({
      kubeConfig: kc,
      path: `/api/v1/namespaces/${ns}/configmaps`,
      list: () => core.listNamespacedConfigMap({ namespace: ns }),
      logger,
    })
    await informer.start()
  })

  afterAll(async () => {
    await informer.stop()
  })

  it('keeps one watch open past the client’s 30 s inactivity timeout, and it still delivers', async () => {
    expect(connects()).toBe(1)
    await sleep(40_000)
    expect(connects()).toBe(1)
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'late' }, data: { a: '1' } },
    })
    await waitFor('the change to arrive over the same watch', () => informer.get('late', ns), {
      timeoutMs: 10_000,
    })
    expect(connects()).toBe(1)
  }, 70_000)
})

// A stop must end the watches for good: one that starts after it (a list was in flight when the
// process was told to stop) would keep the process alive for the minutes a watch now runs.
describe('stopping a watch', () => {
  const kc = withSharedConnections(testKubeConfig())
  const core = kc.makeApiClient(CoreV1Api)

  it('ends the open watches, and a watch asked for after the stop is never opened', async () => {
    const ns = await createNamespace(core, 'watch-stop')
    const path = `/api/v1/namespaces/${ns}/configmaps`
    const watch = new BookmarkedWatch(kc)
    const ended: unknown[] = []
    const open = await watch.watch(
      path,
      {},
      () => {},
      (err) => ended.push(err ?? 'ended'),
    )
    expect(open.signal.aborted).toBe(false)
    watch.stop()
    expect(open.signal.aborted).toBe(true)
    await waitFor('the open watch to end', () => (ended.length === 1 ? true : undefined), {
      timeoutMs: 5_000,
    })
    let events = 0
    const late = await watch.watch(
      path,
      {},
      () => events++,
      () => {},
    )
    expect(late.signal.aborted).toBe(true)
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'after' } } })
    await sleep(1_000)
    expect(events).toBe(0)
  })
})
