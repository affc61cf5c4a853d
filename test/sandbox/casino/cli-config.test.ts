import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../cli.ts'
import { buildSandbox } from '../sandbox.ts'

describe('sandbox config: casino accounts', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sandbox-casino-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('loads casino accounts and builds a sandbox with them', async () => {
    const file = join(dir, 'casino.json')
    await writeFile(
      file,
      JSON.stringify({
        casino: {
          accounts: [
            {
              provider: 'betsoftware',
              credentials: { apiKey: 'demo-key', hashKey: 'demo-hash' },
              settings: { partnerId: 'demo', siteId: 'main' },
              size: { transactions: 1_000_000 },
              startAt: '2025-01-01T00:00:00Z',
            },
          ],
          tokenTtlSeconds: 60,
        },
      }),
    )
    const sb = await buildSandbox(await loadConfig(file))
    try {
      const d = sb.casino.dataset('betsoftware', 'demo:main')
      expect(d.size('transactions')).toBe(1_000_000)
      expect(d.recordAt('transactions', 0).updatedAt).toBe('2025-01-01T00:00:00.000Z')
      expect(sb.casino.tokenTtlSeconds).toBe(60)
    } finally {
      await sb.close()
    }
  })

  it('rejects unknown providers and fields', async () => {
    const file = join(dir, 'bad.json')
    await writeFile(file, JSON.stringify({ casino: { accounts: [{ provider: 'acme', credentials: {} }] } }))
    await expect(loadConfig(file)).rejects.toThrow(/casino\.accounts\.0\.provider/)
    await writeFile(file, JSON.stringify({ casino: { accounts: [], extra: 1 } }))
    await expect(loadConfig(file)).rejects.toThrow(/bad\.json/)
  })
})
