/**
 * Writes docs/api.md, the reference of every Switchboard kind, from the CRDs the zod schemas
 * generate (crds/ `crdObjects()`, which reads controller/api `allKinds`): one table per kind for
 * spec and one for status, with each field's type, default, limits and description. A new kind
 * shows up by itself.
 *
 *   node hack/ship/gen-api-docs.ts           write docs/api.md
 *   node hack/ship/gen-api-docs.ts --check   exit 1 if docs/api.md is stale (test/ship/api-docs.test.ts)
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type CustomResourceDefinition, crdObjects, type StructuralSchema } from '../../crds/index.ts'

const ROOT = resolve(import.meta.dirname, '../..')
export const API_DOCS = join(ROOT, 'docs/api.md')

/** Formats Markdown the way `make lint` (biome) wants it, so the generated file passes lint as is. */
function formatMarkdown(text: string): string {
  return execFileSync(join(ROOT, 'node_modules/.bin/biome'), ['format', '--stdin-file-path=docs/api.md'], {
    cwd: ROOT,
    input: text,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'ignore'],
  })
}

interface Row {
  field: string
  type: string
  required: boolean
  default: string
  description: string
}

function typeOf(s: StructuralSchema): string {
  if (s['x-kubernetes-int-or-string']) return 'integer or string'
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(' \\| ')
  if (s.type === 'array') return `[]${s.items ? typeOf(s.items) : 'any'}`
  if (s.type === 'object' && s.additionalProperties) return `map[string]${typeOf(s.additionalProperties)}`
  if (s.type === 'string' && s.format) return `string (${s.format})`
  return s.type ?? 'any'
}

function limits(s: StructuralSchema): string[] {
  const out: string[] = []
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`)
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`)
  if (s.minLength !== undefined && s.minLength > 0) out.push(`at least ${s.minLength} characters`)
  if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`)
  if (s.minItems !== undefined && s.minItems > 0) out.push(`at least ${s.minItems} items`)
  if (s.maxItems !== undefined) out.push(`at most ${s.maxItems} items`)
  if (s.pattern !== undefined) out.push(`pattern \`${s.pattern}\``)
  for (const v of s['x-kubernetes-validations'] ?? []) if (v.message) out.push(v.message)
  return out
}

function cell(text: string): string {
  return text.replace(/\s+/g, ' ').replaceAll('|', '\\|').trim()
}

function walk(s: StructuralSchema, path: string, required: boolean, rows: Row[]): void {
  const extra = limits(s)
  rows.push({
    field: path,
    type: typeOf(s),
    required,
    default: s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``,
    description: [s.description ?? '', ...(extra.length > 0 ? [`(${extra.join('; ')})`] : [])]
      .filter(Boolean)
      .join(' '),
  })
  const inner = s.type === 'array' ? s.items : s
  const prefix = s.type === 'array' ? `${path}[]` : path
  for (const [name, child] of Object.entries(inner?.properties ?? {})) {
    walk(child, `${prefix}.${name}`, inner?.required?.includes(name) ?? false, rows)
  }
}

function table(rows: Row[]): string {
  const lines = ['| field | type | default | description |', '| --- | --- | --- | --- |']
  for (const r of rows) {
    lines.push(
      `| \`${r.field}\`${r.required ? ' (required)' : ''} | ${cell(r.type)} | ${cell(r.default)} | ${cell(r.description)} |`,
    )
  }
  return lines.join('\n')
}

function kindSection(crd: CustomResourceDefinition): string {
  const version = crd.spec.versions[0]
  if (!version) throw new Error(`${crd.metadata.name} has no version`)
  const root = version.schema.openAPIV3Schema
  const { names } = crd.spec
  const parts: string[] = []
  parts.push(`## ${names.kind}`)
  parts.push('')
  parts.push(cell(root.description ?? ''))
  parts.push('')
  parts.push(
    `\`apiVersion: ${crd.spec.group}/${version.name}\` · \`kubectl get ${names.plural}\`` +
      (names.shortNames?.length ? ` (short: ${names.shortNames.map((n) => `\`${n}\``).join(', ')})` : '') +
      ` · categories ${(names.categories ?? []).map((c) => `\`${c}\``).join(', ')} · namespaced`,
  )
  parts.push('')
  parts.push(
    `Columns of \`kubectl get\`: ${version.additionalPrinterColumns.map((c) => `${c.name}${c.priority ? ' (wide)' : ''}`).join(', ')}.`,
  )
  for (const section of ['spec', 'status'] as const) {
    const schema = root.properties?.[section]
    if (!schema) continue
    const rows: Row[] = []
    for (const [name, child] of Object.entries(schema.properties ?? {})) {
      walk(child, `${section}.${name}`, schema.required?.includes(name) ?? false, rows)
    }
    parts.push('')
    parts.push(`### ${names.kind} ${section}`)
    parts.push('')
    if (schema.description) parts.push(`${cell(schema.description)}\n`)
    parts.push(table(rows))
  }
  return parts.join('\n')
}

/** The text of docs/api.md. */
export function renderApiDocs(crds: readonly CustomResourceDefinition[] = crdObjects()): string {
  const kinds = crds.map((c) => c.spec.names.kind)
  const text = [
    '<!-- Generated by node hack/ship/gen-api-docs.ts from controller/api (through crds/) — do not edit. -->',
    '# API reference',
    '',
    `Every Switchboard kind is in the API group \`switchboard.dev\`, version \`v1alpha1\`, and namespaced. ` +
      'The same text is what `kubectl explain` shows (for example `kubectl explain destination.spec.http`). ' +
      'Conditions and their reasons are explained in [troubleshooting.md](troubleshooting.md).',
    '',
    kinds.map((k) => `- [${k}](#${k.toLowerCase()})`).join('\n'),
    '',
    crds.map(kindSection).join('\n\n'),
    '',
  ].join('\n')
  return formatMarkdown(text)
}

function main(args: string[]): number {
  const text = renderApiDocs()
  if (args.includes('--check')) {
    let current = ''
    try {
      current = readFileSync(API_DOCS, 'utf8')
    } catch {
      // missing counts as stale
    }
    if (current === text) {
      process.stdout.write('docs/api.md is up to date\n')
      return 0
    }
    process.stderr.write('docs/api.md is stale: run node hack/ship/gen-api-docs.ts\n')
    return 1
  }
  writeFileSync(API_DOCS, text)
  process.stdout.write(`wrote ${join('docs', 'api.md')}\n`)
  return 0
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2))
