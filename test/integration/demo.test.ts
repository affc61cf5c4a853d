import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// `make demo` is one of the two commands the README promises a newcomer; keep it true.
describe('make demo', () => {
  it('brings up the control plane, sandbox and controller, and every example turns Ready', () => {
    const root = resolve(import.meta.dirname, '../..')
    const run = spawnSync('bash', ['hack/demo.sh', '--check'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 150_000,
      env: { ...process.env, SANDBOX_PORT: '18601', METRICS_PORT: '18081' },
    })
    const output = `${run.stdout}\n${run.stderr}`
    expect(run.status, output).toBe(0)
    expect(output).toContain('every example is Ready')
    expect(output).toMatch(/cdp\s+segment\s+True/)
    expect(output).toMatch(/warehouse\s+http\s+True/)
    for (const [name, provider] of [
      ['royal', 'softswiss'],
      ['lucky', 'altenar'],
      ['savanna', 'betsoftware'],
      ['harbour', 'playtech-pam'],
    ]) {
      expect(output).toMatch(new RegExp(`casinointegration.switchboard.dev/${name}\\s+${provider}\\s+True`))
    }
  }, 180_000)
})
