import { describe, expect, it } from 'vitest'
import type { Deliverer } from '../../connectors/index.ts'
import { DeliveryRegistry } from './registry.ts'

const deliverer = (extra: Partial<Deliverer> = {}): Deliverer => ({
  type: 'postgres',
  deliver: async (records) => ({ delivered: records.length, durationMs: 0 }),
  close: async () => {},
  ...extra,
})

describe('DeliveryRegistry', () => {
  it('tells the integrations that waited for a Destination once it is set, once', () => {
    const installed: string[] = []
    const registry = new DeliveryRegistry({
      onActivity: () => {},
      onInstalled: (ns, name) => installed.push(`${ns}/${name}`),
    })
    registry.notifyWhenReady('a', 'db', 'casino-1')
    registry.notifyWhenReady('a', 'db', 'casino-2')
    registry.notifyWhenReady('a', 'db', 'casino-1')
    registry.notifyWhenReady('b', 'db', 'casino-3')
    registry.set('a', 'db', deliverer())
    expect(installed).toEqual(['a/casino-1', 'a/casino-2'])
    registry.set('a', 'db', deliverer())
    expect(installed).toHaveLength(2)
  })

  it("hands out the current deliverer's cursors, even to an older handle", async () => {
    const registry = new DeliveryRegistry({ onActivity: () => {} })
    const at = (cursor: string) => ({ read: async () => ({ cursor, records: 1 }) })
    registry.set('a', 'db', deliverer({ cursors: at('one') }))
    const handle = registry.get('a', 'db')
    registry.set('a', 'db', deliverer({ cursors: at('two') }))
    expect(await handle.cursors?.read('i', 's')).toEqual({ cursor: 'two', records: 1 })
    registry.set('a', 'http', { ...deliverer(), type: 'http' })
    expect(registry.get('a', 'http').cursors).toBeUndefined()
  })
})
