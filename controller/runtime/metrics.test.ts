import { describe, expect, it } from 'vitest'
import { OperatorMetrics } from './metrics.ts'

const seriesOf = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('switchboard_resource_condition{'))
    .sort()

describe('switchboard_resource_condition', () => {
  it('has three series per condition of each resource, 1 for its status, and loses a resource on removal', async () => {
    const m = new OperatorMetrics({ defaultMetrics: false })
    m.setResourceConditions('Destination', 'shop', 'cdp', [
      { type: 'Ready', status: 'True' },
      { type: 'Stalled', status: 'False' },
    ])
    m.setResourceConditions('Destination', 'shop', 'other', [
      { type: 'Ready', status: 'True' },
      { type: 'Stalled', status: 'False' },
    ])
    m.setResourceConditions('CasinoIntegration', 'ops', 'c/1', [{ type: 'Ready', status: 'Unknown' }])
    const text = await m.registry.metrics()
    expect(text).toContain('# TYPE switchboard_resource_condition gauge')
    expect(seriesOf(text)).toEqual(
      [
        'kind="CasinoIntegration",namespace="ops",name="c/1",type="Ready",status="False"} 0',
        'kind="CasinoIntegration",namespace="ops",name="c/1",type="Ready",status="True"} 0',
        'kind="CasinoIntegration",namespace="ops",name="c/1",type="Ready",status="Unknown"} 1',
        ...['cdp', 'other'].flatMap((name) => [
          `kind="Destination",namespace="shop",name="${name}",type="Ready",status="False"} 0`,
          `kind="Destination",namespace="shop",name="${name}",type="Ready",status="True"} 1`,
          `kind="Destination",namespace="shop",name="${name}",type="Ready",status="Unknown"} 0`,
          `kind="Destination",namespace="shop",name="${name}",type="Stalled",status="False"} 1`,
          `kind="Destination",namespace="shop",name="${name}",type="Stalled",status="True"} 0`,
          `kind="Destination",namespace="shop",name="${name}",type="Stalled",status="Unknown"} 0`,
        ]),
      ]
        .map((l) => `switchboard_resource_condition{${l}`)
        .sort(),
    )

    // One resource changes state (a condition goes, another flips): the other keeps its own.
    m.setResourceConditions('Destination', 'shop', 'cdp', [{ type: 'Ready', status: 'False' }])
    m.removeResource('CasinoIntegration', 'ops', 'c/1')
    const after = seriesOf(await m.registry.metrics())
    expect(after.filter((l) => l.includes('name="cdp"'))).toEqual(
      [
        'type="Ready",status="False"} 1',
        'type="Ready",status="True"} 0',
        'type="Ready",status="Unknown"} 0',
      ].map((l) => `switchboard_resource_condition{kind="Destination",namespace="shop",name="cdp",${l}`),
    )
    expect(after.filter((l) => l.includes('name="other"'))).toHaveLength(6)
    expect(after.filter((l) => l.includes('CasinoIntegration'))).toEqual([])
    m.removeResource('Destination', 'shop', 'cdp')
    m.removeResource('Destination', 'shop', 'other')
    expect(seriesOf(await m.registry.metrics())).toEqual([])
  })
})
