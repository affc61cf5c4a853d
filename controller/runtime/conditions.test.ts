import { describe, expect, it } from 'vitest'
import { type Condition, setCondition, sortConditions } from './conditions.ts'

describe('setCondition', () => {
  const t0 = () => new Date('2026-01-01T00:00:00.000Z')
  const t1 = () => new Date('2026-01-01T01:00:00.000Z')

  it('keeps lastTransitionTime while the status stays the same', () => {
    const cs: Condition[] = []
    setCondition(cs, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, t0)
    setCondition(cs, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, t1)
    expect(cs).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'B',
        message: 'b',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ])
  })

  it('moves lastTransitionTime when the status changes', () => {
    const cs: Condition[] = []
    setCondition(cs, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, t0)
    setCondition(cs, { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok' }, t1)
    expect(cs[0]?.lastTransitionTime).toBe('2026-01-01T01:00:00Z')
  })

  it('sorts Ready first', () => {
    const cs: Condition[] = []
    for (const type of ['Stalled', 'CredentialsValid', 'Ready']) {
      setCondition(cs, { type, status: 'True', reason: 'R', message: '' }, t0)
    }
    expect(sortConditions(cs).map((c) => c.type)).toEqual(['Ready', 'Stalled', 'CredentialsValid'])
  })
})
