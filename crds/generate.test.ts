import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dumpYaml } from '@kubernetes/client-node'
import { afterEach, describe, expect, it } from 'vitest'
import YAML from 'yaml'
import { allKinds, DestinationKind } from '../controller/api/index.ts'
import {
  buildCrd,
  crdFileName,
  crdObjects,
  crdsDir,
  header,
  renderCrds,
  staleFiles,
  writeCrds,
} from './generate.ts'
import { toClientModel } from './install.ts'
import { structuralViolations } from './structural.ts'

describe('crds/ on disk', () => {
  it('matches what controller/api generates (run `npm run crds` if this fails)', () => {
    for (const [name, text] of renderCrds()) {
      let onDisk: string | undefined
      try {
        onDisk = readFileSync(join(crdsDir, name), 'utf8')
      } catch {
        onDisk = undefined
      }
      expect(onDisk, `crds/${name} is missing or stale: run \`npm run crds\` and commit the result`).toBe(
        text,
      )
    }
    expect(staleFiles(), 'crds/ holds files no kind generates: delete them or run `npm run crds`').toEqual([])
  })

  it('`node crds/generate.ts --check` agrees', () => {
    const out = execFileSync(process.execPath, [join(crdsDir, 'generate.ts'), '--check'], {
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(out).toContain('up to date')
  })
})

describe('staleFiles / writeCrds', () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
    dir = undefined
  })

  it('names missing, edited and orphaned files', () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-crds-'))
    const kinds = [DestinationKind]
    const name = crdFileName(DestinationKind)
    expect(staleFiles(dir, kinds)).toEqual([name])
    expect(writeCrds(dir, kinds)).toEqual([name])
    expect(staleFiles(dir, kinds)).toEqual([])
    writeFileSync(
      join(dir, name),
      readFileSync(join(dir, name), 'utf8').replace('default: 10m', 'default: 5m'),
    )
    expect(staleFiles(dir, kinds)).toEqual([name])
    writeCrds(dir, kinds)
    writeFileSync(join(dir, 'gones.switchboard.dev.yaml'), 'kind: CustomResourceDefinition\n')
    expect(staleFiles(dir, kinds)).toEqual(['gones.switchboard.dev.yaml'])
  })
})

describe('buildCrd', () => {
  const crd = buildCrd(DestinationKind)
  const version = crd.spec.versions[0]

  it('declares names, scope, status subresource and printer columns', () => {
    expect(crd.metadata.name).toBe('destinations.switchboard.dev')
    expect(crd.spec.group).toBe('switchboard.dev')
    expect(crd.spec.scope).toBe('Namespaced')
    expect(crd.spec.names).toEqual({
      kind: 'Destination',
      listKind: 'DestinationList',
      plural: 'destinations',
      singular: 'destination',
      shortNames: ['dest', 'sbdest'],
      categories: ['switchboard', 'integrations'],
    })
    expect(crd.spec.versions).toHaveLength(1)
    expect(version).toMatchObject({
      name: 'v1alpha1',
      served: true,
      storage: true,
      subresources: { status: {} },
    })
    expect(version?.additionalPrinterColumns.map((c) => [c.name, c.type, c.jsonPath])).toEqual([
      ['Type', 'string', '.status.type'],
      ['Ready', 'string', '.status.conditions[?(@.type=="Ready")].status'],
      ['Reason', 'string', '.status.conditions[?(@.type=="Ready")].reason'],
      ['Last Sync', 'date', '.status.lastSyncTime'],
      ['Age', 'date', '.metadata.creationTimestamp'],
    ])
  })

  it('has a structural schema with spec required', () => {
    const schema = version?.schema.openAPIV3Schema
    expect(schema).toBeDefined()
    if (!schema) return
    expect(structuralViolations(schema)).toEqual([])
    expect(schema.required).toEqual(['spec'])
    expect(Object.keys(schema.properties ?? {})).toEqual(['apiVersion', 'kind', 'metadata', 'spec', 'status'])
    expect(schema.properties?.metadata).toEqual({ type: 'object' })
    const spec = schema.properties?.spec
    expect(spec?.required).toEqual(['credentialsSecretRef'])
    expect(spec?.['x-kubernetes-validations']).toEqual([
      {
        rule: '[has(self.segment), has(self.http), has(self.postgres)].filter(x, x).size() == 1',
        message: 'exactly one of spec.segment, spec.http or spec.postgres must be set',
      },
    ])
    expect(spec?.properties?.credentialsSecretRef?.properties).not.toHaveProperty('namespace')
    expect(spec?.properties?.http?.properties?.batchSize).toMatchObject({
      default: 100,
      minimum: 1,
      maximum: 2500,
    })
    const conditions = schema.properties?.status?.properties?.conditions
    expect(conditions).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    })
  })

  it('renders deterministic YAML with the header', () => {
    const first = renderCrds()
    const second = renderCrds()
    expect([...first.entries()]).toEqual([...second.entries()])
    for (const text of first.values()) {
      expect(text.startsWith(header)).toBe(true)
      expect(YAML.parse(text)).toEqual(crdObjects().find((c) => text.includes(`name: ${c.metadata.name}\n`)))
    }
    expect(first.size).toBe(allKinds.length)
  })

  it('survives the client library’s serializer unchanged (what installCrds sends)', () => {
    for (const object of crdObjects()) {
      const sent = YAML.parse(dumpYaml(toClientModel(object)))
      expect(sent).toEqual(object)
    }
  })
})
