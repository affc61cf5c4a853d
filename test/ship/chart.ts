/**
 * Helpers for the chart checks: the cached helm binary (hack/ship/install-helm.sh), rendering
 * with a set of values, linting, and server-side dry runs with kubectl.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import YAML from 'yaml'

export const ROOT = resolve(import.meta.dirname, '../..')
export const CHART = join(ROOT, 'charts/switchboard')
/** The Kubernetes version `helm template` renders for (the local control plane's). */
export const KUBE_VERSION = '1.34.4'

let helmPath: string | undefined
/** The helm binary; builds it once (hack/ship/install-helm.sh) if `make setup` has not. */
export function helm(): string {
  helmPath ??= execFileSync('bash', [join(ROOT, 'hack/ship/install-helm.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim()
  return helmPath
}

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
  }
  [key: string]: unknown
}

function withValues<T>(values: Record<string, unknown>, fn: (file: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'sb-chart-'))
  try {
    const file = join(dir, 'values.yaml')
    writeFileSync(file, YAML.stringify(values))
    return fn(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** `helm template` output as text. Throws with helm's message when rendering fails. */
export function renderText(
  values: Record<string, unknown> = {},
  opts: { namespace?: string; release?: string; showOnly?: string } = {},
): string {
  return withValues(values, (file) => {
    const args = [
      'template',
      opts.release ?? 'sb',
      CHART,
      '--namespace',
      opts.namespace ?? 'switchboard-system',
      '--kube-version',
      KUBE_VERSION,
      '--values',
      file,
      ...(opts.showOnly ? ['--show-only', opts.showOnly] : []),
    ]
    const r = spawnSync(helm(), args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr.trim()}`)
    return r.stdout
  })
}

/** `helm template` output as objects. */
export function render(
  values: Record<string, unknown> = {},
  opts: { namespace?: string; release?: string; showOnly?: string } = {},
): K8sObject[] {
  return YAML.parseAllDocuments(renderText(values, opts))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((d): d is K8sObject => d !== null)
}

/** `helm lint --strict`; returns its exit code and output. */
export function lint(values: Record<string, unknown> = {}): { code: number; output: string } {
  return withValues(values, (file) => {
    const r = spawnSync(
      helm(),
      ['lint', CHART, '--strict', '--kube-version', KUBE_VERSION, '--values', file],
      { encoding: 'utf8' },
    )
    return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` }
  })
}

/** `kubectl apply --server-side --dry-run=server` of a manifest; returns what kubectl printed. */
export function dryRunApply(kubeconfig: string, manifest: string): { code: number; output: string } {
  const r = spawnSync(
    'kubectl',
    [
      '--kubeconfig',
      kubeconfig,
      'apply',
      '--server-side',
      '--dry-run=server',
      '--force-conflicts',
      '--field-manager=switchboard-chart-test',
      '-f',
      '-',
    ],
    { input: manifest, encoding: 'utf8', timeout: 60_000 },
  )
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` }
}

/** `kubectl apply --server-side` for real (fixtures the dry runs need). */
export function apply(kubeconfig: string, manifest: string): void {
  execFileSync(
    'kubectl',
    [
      '--kubeconfig',
      kubeconfig,
      'apply',
      '--server-side',
      '--field-manager=switchboard-chart-test',
      '-f',
      '-',
    ],
    { input: manifest, encoding: 'utf8', timeout: 60_000 },
  )
}

export function find(objs: K8sObject[], kind: string, name?: string): K8sObject[] {
  return objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name))
}

export function one(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const found = find(objs, kind, name)
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`)
  return found[0] as K8sObject
}
