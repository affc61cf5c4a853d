/**
 * What is generated from the zod schemas stays in step with them: the chart's CRD copies
 * (hack/ship/sync-chart-crds.sh) and docs/api.md (hack/ship/gen-api-docs.ts).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { crdsDir, renderCrds } from '../../crds/index.ts'
import { API_DOCS, renderApiDocs } from '../../hack/ship/gen-api-docs.ts'
import { renderAll } from '../../hack/ship/gen-provider-docs.ts'

const CHART_CRDS = resolve(import.meta.dirname, '../../charts/switchboard/files/crds')

describe('generated files', () => {
  it('the chart ships exactly the CRDs in crds/ (run hack/ship/sync-chart-crds.sh)', () => {
    const generated = [...renderCrds().keys()].sort()
    const shipped = readdirSync(CHART_CRDS)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
    expect(shipped).toEqual(generated)
    for (const name of shipped) {
      expect(readFileSync(join(CHART_CRDS, name), 'utf8'), `${name} is stale`).toBe(
        readFileSync(join(crdsDir, name), 'utf8'),
      )
    }
  })

  it('docs/api.md documents every field of every kind (run node hack/ship/gen-api-docs.ts)', () => {
    const text = renderApiDocs()
    expect(readFileSync(API_DOCS, 'utf8'), 'docs/api.md is stale').toBe(text)
    for (const field of [
      'spec.credentialsSecretRef.name',
      'status.conditions[].reason',
      'spec.streams[].lookback',
    ]) {
      expect(text).toContain(`\`${field}\``)
    }
  })
})

describe('provider tables', () => {
  it('docs/providers.md and the tables in README.md and docs/webhooks.md come from the provider descriptions (run node hack/ship/gen-provider-docs.ts)', () => {
    const files = renderAll()
    expect(files.size).toBe(3)
    for (const [path, text] of files) expect(readFileSync(path, 'utf8'), `${path} is stale`).toBe(text)
    const providers = [...files.values()][0] ?? ''
    for (const id of ['softswiss', 'playtech-pam', 'twilio', 'google'])
      expect(providers).toContain(`\`${id}\``)
  })
})

describe('docs/gitops.md', () => {
  it('shows the Argo CD health script exactly as the chart ships it', () => {
    const lua = readFileSync(
      resolve(import.meta.dirname, '../../charts/switchboard/argocd/health.lua'),
      'utf8',
    )
    const doc = readFileSync(resolve(import.meta.dirname, '../../docs/gitops.md'), 'utf8')
    expect(doc).toContain(`\`\`\`lua\n${lua}\`\`\``)
  })
})
