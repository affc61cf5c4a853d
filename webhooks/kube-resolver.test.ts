import { ApiException } from '@kubernetes/client-node'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../connectors/index.ts'
import { mapSecretKeys, SecretCache } from './kube-resolver.ts'

const logger = createLogger({ level: 'silent' })
const b64 = (s: string) => Buffer.from(s).toString('base64')

function fakeCore(data: Record<string, string> | 'missing' | 'error') {
  const state = { data, calls: 0, release: undefined as (() => void) | undefined, hold: false }
  return {
    state,
    core: {
      readNamespacedSecret: async () => {
        state.calls++
        if (state.hold) await new Promise<void>((r) => (state.release = r))
        if (state.data === 'missing') throw new ApiException(404, 'not found', {}, {})
        if (state.data === 'error') throw new ApiException(500, 'boom', {}, {})
        return { data: Object.fromEntries(Object.entries(state.data).map(([k, v]) => [k, b64(v)])) }
      },
    } as never,
  }
}

describe('SecretCache', () => {
  it('keeps only the wanted keys, shares concurrent reads, and serves stale values while refreshing', async () => {
    let now = 0
    const { core, state } = fakeCore({ webhookSecret: 'v1', serviceAccountJson: '{"private_key":"x"}' })
    const cache = new SecretCache({
      core,
      keys: new Set(['webhookSecret']),
      ttlMs: 10_000,
      maxStaleMs: 300_000,
      maxEntries: 10,
      logger,
      now: () => now,
    })
    state.hold = true
    const reads = Array.from({ length: 20 }, () => cache.get('ns', 'creds'))
    await new Promise((r) => setImmediate(r))
    state.release?.()
    const values = await Promise.all(reads)
    expect(state.calls).toBe(1)
    expect(values[0]).toEqual({ webhookSecret: 'v1' })
    state.hold = false
    now = 5_000
    await cache.get('ns', 'creds')
    expect(state.calls).toBe(1)
    // stale: answered at once with the old value, refreshed in the background
    state.data = { webhookSecret: 'v2' }
    now = 20_000
    expect(await cache.get('ns', 'creds')).toEqual({ webhookSecret: 'v1' })
    await new Promise((r) => setImmediate(r))
    expect(state.calls).toBe(2)
    expect(await cache.get('ns', 'creds')).toEqual({ webhookSecret: 'v2' })
  })

  it('remembers a missing Secret for the TTL, and bounds the number of entries', async () => {
    let now = 0
    const { core, state } = fakeCore('missing')
    const cache = new SecretCache({
      core,
      keys: new Set(['k']),
      ttlMs: 1000,
      maxStaleMs: 5000,
      maxEntries: 3,
      logger,
      now: () => now,
    })
    for (let i = 0; i < 50; i++) expect(await cache.get('ns', 'gone')).toBeUndefined()
    expect(state.calls).toBe(1)
    now = 10_000
    await cache.get('ns', 'gone')
    expect(state.calls).toBe(2)
    for (let i = 0; i < 10; i++) await cache.get('ns', `s${i}`)
    await cache.get('ns', 's0')
    expect(state.calls).toBe(2 + 10 + 1)
  })
})

describe('mapSecretKeys', () => {
  it('takes the first present key for each logical name', () => {
    expect(
      mapSecretKeys(
        { apiSecret: 'a', hashKey: '' },
        { signingSecret: ['webhookSecret', 'apiSecret'], other: ['hashKey'] },
      ),
    ).toEqual({ signingSecret: 'a' })
  })

  it('reads as the controller does: a trailing newline trimmed, a blank key skipped', () => {
    // the controller opens Google channels with the trimmed token; the server must compare that
    expect(
      mapSecretKeys({ channelToken: 'google-channel-token-0001\n' }, { channelToken: ['channelToken'] }),
    ).toEqual({ channelToken: 'google-channel-token-0001' })
    expect(mapSecretKeys({ webhookSecret: ' \n' }, { signingSecret: ['webhookSecret'] })).toEqual({})
  })
})
