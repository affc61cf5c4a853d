import { describe, expect, it } from 'vitest'
import { mergePatchDiff } from './merge-patch.ts'

describe('mergePatchDiff', () => {
  it('is undefined when nothing differs, whatever the key order', () => {
    expect(mergePatchDiff({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBeUndefined()
  })

  it('sets changed fields, nulls removed ones, replaces arrays whole', () => {
    const from = { a: 1, b: { c: 1, d: 2 }, list: [{ type: 'Ready' }], gone: 'x' }
    const to = { a: 2, b: { c: 1 }, list: [{ type: 'Ready' }, { type: 'Stalled' }] }
    expect(mergePatchDiff(from, to)).toEqual({
      a: 2,
      b: { d: null },
      list: [{ type: 'Ready' }, { type: 'Stalled' }],
      gone: null,
    })
  })
})
