/** The Grafana dashboard's structure (its queries run against a real Prometheus in test/integration/monitoring.test.ts). */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

interface Panel {
  id: number
  type: string
  title: string
  gridPos: { x: number; y: number; w: number; h: number }
  datasource?: { uid: string }
  targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>
}
const dashboard = JSON.parse(
  readFileSync(
    resolve(import.meta.dirname, '../../charts/switchboard/files/dashboards/switchboard.json'),
    'utf8',
  ),
) as { uid: string; panels: Panel[]; templating: { list: Array<{ name: string }> } }

/** Grafana's data source variable, as the panels reference it. */
const DATASOURCE = ['$', '{datasource}'].join('')

describe('Grafana dashboard', () => {
  const panels = dashboard.panels.filter((p) => p.type !== 'row')

  it('has a stable uid, unique panel ids and no overlapping panels', () => {
    expect(dashboard.uid).toBe('switchboard-overview')
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    const cells = new Set<string>()
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24)
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false)
          cells.add(`${x},${y}`)
        }
    }
  })

  it('reads every query from the chosen data source, with the rate window Grafana picks', () => {
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'kind', 'namespace'])
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(DATASOURCE)
      for (const t of p.targets ?? []) {
        expect(t.datasource?.uid).toBe(DATASOURCE)
        if (t.expr.includes('rate(')) expect(t.expr, p.title).toContain('[$__rate_interval]')
      }
    }
  })

  it('shows what the brief asks for', () => {
    const all = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n')
    for (const metric of [
      'switchboard_resource_condition',
      'switchboard_sync_last_success_timestamp_seconds',
      'switchboard_provider_request_duration_seconds_bucket',
      'switchboard_provider_requests_total',
      'switchboard_sync_records_total',
      'switchboard_webhook_requests_total',
      'leader_election_master_status',
      'controller_runtime_reconcile_total',
    ]) {
      expect(all).toContain(metric)
    }
  })
})
