/**
 * `make arch` (.dependency-cruiser.cjs) catches what it is meant to catch. A check that silently
 * reads nothing would pass on anything (dependency-cruiser skips .ts files it has no parser for),
 * so this runs it, with the project's config, on a small tree laid out like Switchboard with one
 * cycle and one reach into another folder's internals planted in it. Whether the project itself is
 * clean is `make arch`'s business, not this test's.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')
const CONFIG = join(ROOT, '.dependency-cruiser.cjs')
const CLI = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs')

interface Violation {
  from: string
  to: string
  cycle?: { name: string }[]
  rule: { name: string; severity: string }
}

const FIXTURE: Record<string, string> = {
  'controller/api/index.ts': 'export const kinds = ["Destination"]\n',
  // planted: a cycle inside the runtime
  'controller/runtime/index.ts': "export { queue } from './queue.ts'\n",
  'controller/runtime/queue.ts': "import { lease } from './lease.ts'\nexport const queue = () => lease\n",
  'controller/runtime/lease.ts': "import { queue } from './queue.ts'\nexport const lease = () => queue\n",
  'connectors/index.ts': "export { client } from './alpha/index.ts'\n",
  'connectors/alpha/index.ts': "export { client } from './client.ts'\n",
  'connectors/alpha/client.ts': 'export const client = {}\n',
  // allowed: the public faces of controller/api and controller/runtime
  'webhooks/index.ts':
    "import { kinds } from '../controller/api/index.ts'\nimport { queue } from '../controller/runtime/index.ts'\n" +
    // planted: past connectors/alpha's index.ts into its internals
    "import { client } from '../connectors/alpha/client.ts'\nexport const all = [kinds, queue, client]\n",
}

let dir: string
let violations: Violation[]
let cruised: number

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchboard-arch-'))
  copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'))
  for (const [path, text] of Object.entries(FIXTURE)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  const run = spawnSync(
    process.execPath,
    [CLI, '--config', CONFIG, '--output-type', 'json', 'controller', 'connectors', 'webhooks'],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  )
  if (!run.stdout) throw new Error(`dependency-cruiser printed nothing: ${run.stderr}`)
  const result = JSON.parse(run.stdout) as {
    summary: { violations: Violation[]; totalCruised: number }
  }
  violations = result.summary.violations
  cruised = result.summary.totalCruised
}, 90_000)

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('architecture check (.dependency-cruiser.cjs)', () => {
  it('loads the rules Switchboard relies on', () => {
    const config = createRequire(import.meta.url)(CONFIG) as {
      forbidden: { name: string; comment?: string; severity: string }[]
    }
    const names = config.forbidden.map((r) => r.name)
    expect(names).toEqual(
      expect.arrayContaining([
        'no-circular',
        'no-reaching-into-internals',
        'no-reaching-into-internals-from-tests',
        'no-reaching-into-internals-from-root-files',
        'connectors-through-shared-layers',
        'api-is-the-contract',
        'production-not-on-test-code',
        'unit-tests-not-on-bench-or-hack',
        'controller-not-on-webhooks',
        'webhooks-only-on-api-and-runtime',
        'connectors-only-on-api',
      ]),
    )
    for (const rule of config.forbidden) {
      expect(rule.comment, `${rule.name} says why`).toBeTruthy()
      expect(rule.severity, `${rule.name} fails the check`).toBe('error')
    }
  })

  it('reads the TypeScript sources (a parser-less run would see no module)', () => {
    expect(cruised).toBe(Object.keys(FIXTURE).length)
  })

  it('reports the planted cycle as no-circular', () => {
    const cycles = violations.filter((v) => v.rule.name === 'no-circular')
    expect(cycles.map((v) => [v.from, v.to].sort())).toContainEqual([
      'controller/runtime/lease.ts',
      'controller/runtime/queue.ts',
    ])
  })

  it('reports the planted reach into connectors/alpha as no-reaching-into-internals', () => {
    expect(violations).toContainEqual(
      expect.objectContaining({
        from: 'webhooks/index.ts',
        to: 'connectors/alpha/client.ts',
        rule: expect.objectContaining({ name: 'no-reaching-into-internals' }),
      }),
    )
  })

  it('reports nothing else: imports through index.ts are allowed', () => {
    const other = violations.filter(
      (v) => v.rule.name !== 'no-circular' && !(v.from === 'webhooks/index.ts' && v.to.endsWith('client.ts')),
    )
    expect(other).toEqual([])
  })
})
