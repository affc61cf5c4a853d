import { describe, expect, it } from 'vitest'
import { cloneJson, jsonEqual } from './equal.ts'

describe('cloneJson', () => {
  const obj = {
    apiVersion: 'switchboard.dev/v1alpha1',
    metadata: { name: 'a', labels: { x: 'y' }, finalizers: ['f'] },
    spec: { nested: [{ a: 1 }, [2, 3], null, true, 'four'] },
    status: { conditions: [{ type: 'Ready', status: 'True' }], gone: undefined },
  }

  it('copies objects and arrays all the way down, as structuredClone does', () => {
    const copy = cloneJson(obj)
    expect(copy).toStrictEqual(structuredClone(obj))
    expect(jsonEqual(copy, obj)).toBe(true)
    copy.metadata.labels.x = 'changed'
    copy.spec.nested.push('more')
    ;(copy.spec.nested[0] as { a: number }).a = 9
    ;(copy.status.conditions[0] as { status: string }).status = 'False'
    expect(obj.metadata.labels.x).toBe('y')
    expect(obj.spec.nested).toHaveLength(5)
    expect(obj.spec.nested[0]).toEqual({ a: 1 })
    expect(obj.status.conditions[0]?.status).toBe('True')
  })

  it('copies anything that is not plain data with structuredClone', () => {
    const when = new Date('2026-01-02T03:04:05Z')
    const copy = cloneJson({ when, list: [new Map([['k', 1]])] })
    expect(copy.when).not.toBe(when)
    expect(copy.when.toISOString()).toBe('2026-01-02T03:04:05.000Z')
    expect(copy.list[0]?.get('k')).toBe(1)
  })

  it('returns primitives as they are', () => {
    for (const v of [null, undefined, 0, 'x', false]) expect(cloneJson(v)).toBe(v)
  })
})
