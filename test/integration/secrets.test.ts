import { randomBytes } from 'node:crypto'
import { CoreV1Api } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SecretReader, withSharedConnections } from '../../controller/runtime/index.ts'
import { capturedLogger, createNamespace, createSecret, testKubeConfig, waitFor } from './helpers.ts'

// The controller keeps no cache of every Secret: it watches Secret metadata and reads the ones it
// uses on demand, with a cache bounded by count and bytes.
describe('Secrets by metadata, read on demand', () => {
  const kc = withSharedConnections(testKubeConfig())
  const core = kc.makeApiClient(CoreV1Api)
  const { logger, text } = capturedLogger('debug')
  let ns: string
  let reader: SecretReader
  const changes: string[] = []
  // A value in the Secrets the reader only learns of by metadata: it must never reach the process
  // through the watch, and never its logs.
  const planted = `planted-${randomBytes(8).toString('hex')}`

  beforeAll(async () => {
    ns = await createNamespace(core, 'secrets')
    for (let i = 0; i < 40; i++) await createSecret(core, ns, `other-${i}`, { value: `${planted}-${i}` })
    reader = new SecretReader({
      kubeConfig: kc,
      core,
      logger,
      namespaces: [ns],
      maxEntries: 3,
      maxBytes: 4096,
    })
    reader.onChange((namespace, name) => changes.push(`${namespace}/${name}`))
    await reader.start()
  })

  afterAll(async () => {
    await reader.stop()
  })

  it('knows every Secret by metadata and holds the data of none it was not asked for', () => {
    expect(reader.synced).toBe(true)
    expect(reader.size).toEqual({ known: 40, held: 0, heldBytes: 0 })
    expect(text()).not.toContain(planted)
  })

  it('reads a Secret once, serves it from the cache while current, and again after it changed', async () => {
    await createSecret(core, ns, 'creds', { token: 'first' })
    await waitFor('the watch to see creds', () => changes.includes(`${ns}/creds`))
    const gets = reader.stats.gets
    const first = await reader.read(ns, 'creds')
    expect(Buffer.from(first?.data?.token ?? '', 'base64').toString()).toBe('first')
    await Promise.all([reader.read(ns, 'creds'), reader.read(ns, 'creds'), reader.read(ns, 'creds')])
    expect(reader.stats.gets - gets).toBe(1)

    changes.length = 0
    await core.patchNamespacedSecret({
      namespace: ns,
      name: 'creds',
      body: [{ op: 'replace', path: '/data/token', value: Buffer.from('second').toString('base64') }],
    })
    await waitFor('the change to be seen', () => changes.includes(`${ns}/creds`))
    const second = await reader.read(ns, 'creds')
    expect(Buffer.from(second?.data?.token ?? '', 'base64').toString()).toBe('second')
    expect(reader.stats.gets - gets).toBe(2)
  })

  it('keeps at most maxEntries Secrets and maxBytes of data; a larger Secret is read, not kept', async () => {
    for (let i = 0; i < 6; i++) await reader.read(ns, `other-${i}`)
    expect(reader.size.held).toBe(3)
    await createSecret(core, ns, 'large', { blob: 'x'.repeat(8192) })
    const large = await reader.read(ns, 'large')
    expect(large?.data?.blob).toBeDefined()
    expect(reader.size.held).toBeLessThanOrEqual(3)
    expect(reader.size.heldBytes).toBeLessThanOrEqual(4096)
  })

  it('answers undefined for a Secret that does not exist, and forgets a deleted one', async () => {
    expect(await reader.read(ns, 'missing')).toBeUndefined()
    await reader.read(ns, 'creds')
    changes.length = 0
    await core.deleteNamespacedSecret({ namespace: ns, name: 'creds' })
    await waitFor('the deletion to be seen', () => changes.includes(`${ns}/creds`))
    expect(await reader.read(ns, 'creds')).toBeUndefined()
  })
})
