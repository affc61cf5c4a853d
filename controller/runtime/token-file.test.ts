import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tokenFile } from './token-file.ts'

describe('tokenFile', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('reads the token trimmed, again once the interval passed, and keeps the last one through a failed read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-token-'))
    dirs.push(dir)
    const file = join(dir, 'token')
    writeFileSync(file, 'first-token\n')
    let t = 0
    const token = tokenFile(file, 1_000, () => t)
    expect(token()).toBe('first-token')
    writeFileSync(file, 'second-token')
    t = 999
    expect(token()).toBe('first-token')
    t = 1_000
    expect(token()).toBe('second-token')
    rmSync(file)
    t = 2_000
    expect(token()).toBe('second-token')
    expect(() => tokenFile(join(dir, 'absent'))).toThrow(/ENOENT/)
  })
})
