import { afterEach, describe, expect, it, vi } from 'vitest'
import { runController } from './main.ts'

describe('switchboard controller: whole-number options', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  const run = async (args: string[]) => {
    const written: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk))
      return true
    })
    // refused before any connection is made: the kubeconfig is never used
    const code = await runController([...args, '--log-level', 'silent'])
    return { code, stderr: written.join('') }
  }

  it('refuses a value that is not a whole number, naming the option and the value', async () => {
    for (const [flag, value, what] of [
      ['--concurrency', '0', 'a positive integer'],
      ['--concurrency', '4abc', 'a positive integer'],
      ['--checkpoint-pages', '-1', 'a positive integer'],
      ['--checkpoint-pages', '2.5', 'a positive integer'],
      ['--sync-heap-growth', 'lots', 'a whole number of MiB (0 for never)'],
      ['--sync-heap-growth', '-8', 'a whole number of MiB (0 for never)'],
    ] as const) {
      const { code, stderr } = await run([`${flag}=${value}`])
      expect(code).toBe(2)
      expect(stderr).toBe(`${flag} must be ${what}, got "${value}"\n`)
    }
  })
})
