/**
 * The chart's monitoring with the real tools:
 *  - the PrometheusRule's groups, extracted from the rendered template, pass `promtool check
 *    rules` and the unit tests in test/ship/alerts.promtool.yaml (`promtool test rules`);
 *  - a real Prometheus scrapes a running controller and webhook server (child processes, as in a
 *    pod) with the chart's alert rules loaded, and every query of the Grafana dashboard returns data.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import YAML from 'yaml'
import { installCrds } from '../../crds/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import { CHART, ROOT, render } from '../ship/chart.ts'
import {
  type Clients,
  clients,
  createNamespace,
  createSecret,
  GROUP,
  VERSION,
  waitFor,
  waitForCondition,
} from './helpers.ts'
import { type ControllerProcess, spawnController } from './process.ts'

const WRITE_KEY = 'monitoring-write-key-1'
const SOFTSWISS = { apiKey: 'mon-ss-key', apiSecret: 'mon-ss-S3CRET-001' }
const RELEASE_VALUES = { monitoring: { prometheusRule: { enabled: true } } }

/** The rule groups of the rendered PrometheusRule, as a Prometheus rule file. */
function ruleFile(): string {
  const [rule] = render(RELEASE_VALUES, { showOnly: 'templates/prometheusrule.yaml' })
  if (!rule) throw new Error('no PrometheusRule rendered')
  return YAML.stringify(rule.spec)
}

/** Resolves once the child has exited (at once if it already has, or never started). */
function exited(child: ChildProcess | undefined): Promise<unknown> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((r) => child.once('exit', r))
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = addr && typeof addr === 'object' ? addr.port : 0
      srv.close(() => res(port))
    })
  })
}

describe('PrometheusRule', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-rules-'))
    writeFileSync(join(dir, 'rules.yaml'), ruleFile())
    copyFileSync(join(ROOT, 'test/ship/alerts.promtool.yaml'), join(dir, 'alerts.promtool.yaml'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('passes promtool check rules, with a runbook for every alert', () => {
    const out = execFileSync('promtool', ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' })
    expect(out).toMatch(/SUCCESS: 7 rules found/)
    const groups = YAML.parse(readFileSync(join(dir, 'rules.yaml'), 'utf8')) as {
      groups: Array<{
        rules: Array<{ alert: string; annotations: Record<string, string>; labels: Record<string, string> }>
      }>
    }
    const runbooks = readFileSync(join(ROOT, 'docs/runbooks.md'), 'utf8')
    for (const rule of groups.groups.flatMap((g) => g.rules)) {
      expect(rule.annotations.runbook_url).toBe(
        `https://github.com/switchboard-dev/switchboard/blob/main/docs/runbooks.md#${rule.alert.toLowerCase()}`,
      )
      expect(runbooks, `docs/runbooks.md has a section for ${rule.alert}`).toContain(`## ${rule.alert}\n`)
      expect(['warning', 'critical']).toContain(rule.labels.severity)
    }
  })

  it('fires each alert on the series that should fire it and on no others (promtool test rules)', () => {
    const out = execFileSync('promtool', ['test', 'rules', join(dir, 'alerts.promtool.yaml')], {
      encoding: 'utf8',
    })
    expect(out).toMatch(/SUCCESS/)
  })

  it('leaves out the alerts listed in disabledAlerts', () => {
    const [rule] = render(
      { monitoring: { prometheusRule: { enabled: true, disabledAlerts: ['SwitchboardSyncStale'] } } },
      { showOnly: 'templates/prometheusrule.yaml' },
    )
    const text = YAML.stringify(rule)
    expect(text).not.toContain('SwitchboardSyncStale')
    expect(text).toContain('SwitchboardResourceNotReady')
  })
})

interface Panel {
  type: string
  title: string
  targets?: Array<{ expr: string }>
}

describe('Grafana dashboard against a real Prometheus', () => {
  let c: Clients
  let work: string
  let sandbox: Sandbox
  let controller: ControllerProcess
  let webhooks: ChildProcess
  let prometheus: ChildProcess
  let promUrl: string
  const output: string[] = []

  const query = async (
    expr: string,
  ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
    const body = (await res.json()) as { status: string; error?: string; data: { result: never[] } }
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`)
    return body.data.result
  }

  beforeAll(async () => {
    c = clients()
    const kubeconfig = inject('kubeconfigPath')
    await installCrds(c.kc)
    work = mkdtempSync(join(tmpdir(), 'sb-prometheus-'))
    sandbox = await buildSandbox({
      segment: { writeKeys: [WRITE_KEY] },
      casino: {
        accounts: [
          {
            provider: 'softswiss',
            credentials: SOFTSWISS,
            settings: { casinoId: 'mon-casino' },
            size: { players: 20, transactions: 20, games: 20 },
          },
        ],
      },
    })
    await sandbox.listen()

    // the controller and the webhook server, each in its own process, as in the pod
    const ns = await createNamespace(c.core, 'monitoring')
    controller = spawnController([
      '--kubeconfig',
      kubeconfig,
      '--metrics-bind-address',
      '127.0.0.1:0',
      '--leader-elect',
      '--leader-election-namespace',
      ns,
      '--leader-election-id',
      'sb-switchboard-controller',
      // other test files leave resources on the shared API server: watch only this test's own
      '--namespaces',
      ns,
    ])
    const controllerPort = await controller.metricsPort()
    webhooks = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { runWebhooks } from './webhooks/index.ts'; process.exitCode = await runWebhooks(process.argv.slice(1))",
        '--',
        '--kubeconfig',
        kubeconfig,
        '--bind-address',
        '127.0.0.1:0',
        '--namespaces',
        ns,
      ],
      { cwd: resolve(ROOT), stdio: ['ignore', 'pipe', 'pipe'] },
    )
    webhooks.stdout?.on('data', (d: Buffer) => output.push(d.toString()))
    webhooks.stderr?.on('data', (d: Buffer) => output.push(d.toString()))
    const webhooksPort = await waitFor(
      'the webhook server to listen',
      () => {
        const m =
          /"msg":"serving webhooks"[^\n]*"address":"127\.0\.0\.1:(\d+)"|"address":"127\.0\.0\.1:(\d+)"[^\n]*"msg":"serving webhooks"/.exec(
            output.join(''),
          )
        return m ? Number(m[1] ?? m[2]) : undefined
      },
      { timeoutMs: 30_000 },
    )

    // resources that produce every kind of series: a Ready Destination, a synced casino, a stall
    await createSecret(c.core, ns, 'cdp', { writeKey: WRITE_KEY })
    await createSecret(c.core, ns, 'casino', SOFTSWISS)
    const create = (plural: string, kind: string, name: string, spec: Record<string, unknown>) =>
      c.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural,
        body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name, namespace: ns }, spec },
      })
    await create('destinations', 'Destination', 'cdp', {
      credentialsSecretRef: { name: 'cdp' },
      segment: { host: sandbox.url },
    })
    await create('destinations', 'Destination', 'stalled', {
      credentialsSecretRef: { name: 'nope' },
      segment: {},
    })
    await create('casinointegrations', 'CasinoIntegration', 'royal', {
      provider: 'softswiss',
      softswiss: { casinoId: 'mon-casino', environment: 'staging' },
      endpoint: sandbox.casinoEndpoint('softswiss'),
      credentialsSecretRef: { name: 'casino' },
      streams: [{ name: 'players' }, { name: 'transactions' }, { name: 'games' }],
      destinationRefs: [{ name: 'cdp' }],
    })
    await waitForCondition(c, 'casinointegrations', ns, 'royal', 'Ready', 'True', undefined, 45_000)
    await waitForCondition(c, 'destinations', ns, 'stalled', 'Stalled', 'True')
    // a refused webhook: a path no resource owns
    const refused = await fetch(`http://127.0.0.1:${webhooksPort}/hooks/softswiss/${'A'.repeat(43)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    expect(refused.status).toBe(404)

    // Prometheus: scrape both every second, with the chart's rules loaded
    writeFileSync(join(work, 'rules.yaml'), ruleFile())
    writeFileSync(
      join(work, 'prometheus.yml'),
      YAML.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(work, 'rules.yaml')],
        scrape_configs: [
          // what the chart's ServiceMonitor sets up (job = Service name, honorLabels on the controller)
          {
            job_name: 'sb-switchboard-metrics',
            honor_labels: true,
            static_configs: [{ targets: [`127.0.0.1:${controllerPort}`] }],
          },
          {
            job_name: 'sb-switchboard-webhooks',
            static_configs: [{ targets: [`127.0.0.1:${webhooksPort}`] }],
          },
        ],
      }),
    )
    const port = await freePort()
    promUrl = `http://127.0.0.1:${port}`
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(work, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(work, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    prometheus.stderr?.on('data', (d: Buffer) => output.push(d.toString()))
    await waitFor('Prometheus to be ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, {
      timeoutMs: 30_000,
      intervalMs: 250,
    })
    // enough scrapes of both targets for rate() over the dashboard's window
    await waitFor(
      'five scrapes of each target',
      async () => {
        const r = await query('min by (job) (count_over_time(up[1m])) >= 5 and min by (job) (up) == 1')
        return r.length === 2
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
  })

  afterAll(async () => {
    const stopped = [prometheus, webhooks, controller?.child].map((child) => exited(child))
    prometheus?.kill('SIGTERM')
    webhooks?.kill('SIGTERM')
    controller?.kill('SIGTERM')
    await Promise.all(stopped)
    await sandbox?.close()
    if (work) rmSync(work, { recursive: true, force: true })
  })

  it('every panel query returns data', async () => {
    const dashboard = JSON.parse(readFileSync(join(CHART, 'files/dashboards/switchboard.json'), 'utf8')) as {
      panels: Panel[]
      templating: { list: Array<{ name: string; type: string; definition?: string }> }
    }
    const panels = dashboard.panels.filter((p) => p.type !== 'row')
    expect(panels.length).toBeGreaterThanOrEqual(10)
    const empty: string[] = []
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const t of panel.targets ?? []) {
        // Grafana's variables: every kind and namespace, a rate window that fits 1 s scrapes
        const expr = t.expr
          .replaceAll('$__rate_interval', '15s')
          .replaceAll('$kind', '.*')
          .replaceAll('$namespace', '.*')
        const result = await query(expr)
        if (result.length === 0) empty.push(`${panel.title}: ${t.expr}`)
      }
    }
    expect(empty).toEqual([])

    // the template variables' label_values() queries find the kinds and namespaces
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      const m = /^label_values\((.*), (\w+)\)$/.exec(v.definition ?? '')
      expect(m, v.name).not.toBeNull()
      const match = (m?.[1] ?? '').replaceAll('$kind', '.*')
      const res = await fetch(`${promUrl}/api/v1/label/${m?.[2]}/values?match[]=${encodeURIComponent(match)}`)
      const body = (await res.json()) as { data: string[] }
      expect(body.data.length, v.name).toBeGreaterThan(0)
    }
  })

  it('shows the truth: the Ready table, the stall, the leader, the synced records and the refused webhook', async () => {
    const ready = await query(
      'max by (kind, name) (switchboard_resource_condition{type="Ready", status="True"})',
    )
    const byName = Object.fromEntries(ready.map((r) => [`${r.metric.kind}/${r.metric.name}`, r.value[1]]))
    expect(byName).toMatchObject({
      'Destination/cdp': '1',
      'Destination/stalled': '0',
      'CasinoIntegration/royal': '1',
    })
    // the resource's own namespace label survived the scrape (honor_labels)
    const labels = await query('switchboard_resource_condition{name="cdp", type="Ready", status="True"}')
    expect(labels[0]?.metric.namespace).toMatch(/^monitoring-/)
    expect(await query('count(switchboard_resource_condition{type="Stalled", status="True"} == 1)')).toEqual([
      { metric: {}, value: [expect.any(Number), '1'] },
    ])
    expect((await query('max(leader_election_master_status)'))[0]?.value[1]).toBe('1')
    const delivered = await query('sum(switchboard_sync_records_total{result="delivered"})')
    expect(Number(delivered[0]?.value[1])).toBe(60)
    const rejects = await query('sum by (reason) (switchboard_webhook_requests_total{result="rejected"})')
    expect(rejects.map((r) => r.metric.reason)).toContain('not_found')
  })

  it('loads the chart alert rules into Prometheus and evaluates them without error', async () => {
    const res = await fetch(`${promUrl}/api/v1/rules`)
    const body = (await res.json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }
    }
    const rules = body.data.groups.flatMap((g) => g.rules)
    expect(rules.map((r) => r.name).sort()).toEqual([
      'SwitchboardLeaderMissing',
      'SwitchboardProviderErrors',
      'SwitchboardReconcileErrors',
      'SwitchboardResourceNotReady',
      'SwitchboardSyncStale',
      'SwitchboardWebhookReconcileRequestsFailing',
      'SwitchboardWebhookSignatureFailures',
    ])
    await waitFor('every rule evaluated', async () => {
      const r = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as typeof body
      const all = r.data.groups.flatMap((g) => g.rules)
      return all.every((x) => x.health === 'ok') ? all : undefined
    })
    // with a leader elected, the leader alert is quiet
    const alerts = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
      data: { alerts: Array<{ labels: { alertname: string } }> }
    }
    expect(alerts.data.alerts.map((a) => a.labels.alertname)).not.toContain('SwitchboardLeaderMissing')
  })
})
