import { describe, expect, it } from 'vitest'
import { trimForCache } from './informer.ts'

describe('trimForCache', () => {
  it("drops managedFields and kubectl's last-applied copy, and keeps every other annotation", () => {
    const obj = {
      metadata: {
        name: 'd',
        managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"spec":{}}',
          'switchboard.dev/requested-at': '2026-12-01T00:00:00Z',
        },
      },
    }
    trimForCache(obj)
    expect(obj.metadata).toEqual({
      name: 'd',
      annotations: { 'switchboard.dev/requested-at': '2026-12-01T00:00:00Z' },
    })
    const only = {
      metadata: { name: 'e', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    }
    trimForCache(only)
    expect(only.metadata).toEqual({ name: 'e' })
  })
})
