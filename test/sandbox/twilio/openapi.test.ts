import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  EXTRACT_FILE,
  EXTRACT_PATHS,
  extract,
  fullSpecPath,
} from '../../../hack/ship/extract-twilio-openapi.ts'

describe("the extract of Twilio's OpenAPI description", () => {
  const kept = JSON.parse(readFileSync(EXTRACT_FILE, 'utf8'))

  it('holds the Messages paths and every schema they reference', () => {
    expect(Object.keys(kept.paths)).toEqual([...EXTRACT_PATHS])
    expect(kept.components.schemas['api.v2010.account.message']?.properties?.sid).toBeDefined()
    const refs = JSON.stringify(kept).match(/#\/components\/schemas\/[^"]+/g) ?? []
    for (const ref of refs) expect(kept.components.schemas, ref).toHaveProperty([ref.split('/').at(-1) ?? ''])
  })

  // The full description (1.8 MB) is not in the repository: this runs where it is at hand.
  it.skipIf(!fullSpecPath())(
    'equals a fresh extract of the full description (skipped: full description not at hand)',
    () => {
      const full = JSON.parse(readFileSync(fullSpecPath() as string, 'utf8'))
      expect(kept).toEqual(JSON.parse(JSON.stringify(extract(full))))
    },
  )
})
