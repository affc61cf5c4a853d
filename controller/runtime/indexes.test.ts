import { describe, expect, it } from 'vitest'
import type { SwitchboardObject } from './definition.ts'
import { ReferenceIndex } from './indexes.ts'

const obj = (name: string, spec: unknown, ready?: string): SwitchboardObject =>
  ({
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, generation: 1 },
    spec,
    ...(ready
      ? { status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: ready, reason: 'R' }] } }
      : {}),
  }) as unknown as SwitchboardObject

describe('ReferenceIndex', () => {
  const index = () =>
    new ReferenceIndex(
      (spec) => [(spec as { secret: string }).secret],
      (spec) =>
        (spec as { uses?: string }).uses
          ? [{ kind: 'Destination', name: (spec as { uses: string }).uses }]
          : [],
    )

  it('re-enqueues the users of a Secret and of an object whose readiness moved, once per move', () => {
    const refs = index()
    refs.index('ns/a', obj('a', { secret: 's', uses: 'd' }))
    refs.index('ns/b', obj('b', { secret: 's' }))
    expect([...refs.usersOfSecret('ns', 's')].sort()).toEqual(['ns/a', 'ns/b'])
    expect([...refs.usersOfChanged('Destination', obj('d', {}, 'False'), false)]).toEqual(['ns/a'])
    expect([...refs.usersOfChanged('Destination', obj('d', {}, 'False'), false)]).toEqual([])
    expect([...refs.usersOfChanged('Destination', obj('d', {}, 'True'), false)]).toEqual(['ns/a'])
    expect([...refs.usersOfChanged('Destination', obj('other', {}, 'True'), false)]).toEqual([])
    expect([...refs.usersOfChanged('Destination', obj('d', {}, 'True'), true)]).toEqual(['ns/a'])
  })

  it('forgets a reference its last user dropped, and hears of it again when a user comes', () => {
    const refs = index()
    refs.index('ns/a', obj('a', { secret: 's', uses: 'd' }))
    expect([...refs.usersOfChanged('Destination', obj('d', {}, 'True'), false)]).toEqual(['ns/a'])
    refs.index('ns/a', obj('a', { secret: 's' })) // no longer uses d
    expect([...refs.usersOfChanged('Destination', obj('d', {}, 'False'), false)]).toEqual([])
    refs.forget('ns/a')
    expect([...refs.usersOfSecret('ns', 's')]).toEqual([])
    refs.index('ns/c', obj('c', { secret: 't', uses: 'd' }))
    // the readiness seen while d had no user was not kept: c hears of d's next state
    expect([...refs.usersOfChanged('Destination', obj('d', {}, 'False'), false)]).toEqual(['ns/c'])
  })
})
