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
      env: {
        ...process.env,
        SANDBOX_PORT: '18601',
        METRICS_PORT: '18081',
        WEBHOOKS_PORT: '18444',
        PG_PORT: '18633',
      },
    })
    const output = `${run.stdout}\n${run.stderr}`
    expect(run.status, output).toBe(0)
    expect(output).toContain('every example is Ready')
    for (const name of ['venue', 'programme']) {
      expect(output).toMatch(new RegExp(`calendarsync.switchboard.dev/${name}\\s.*True`))
    }
    // the Patreon campaign's members, synced from the sandbox (200 active patrons of 250)
    expect(output).toMatch(/patreonintegration\.switchboard\.dev\/venue-patrons\s.*\s200\s+True/)
    // The webhook server serves the programme's public feed from the CalendarSync's status.
    const feed = /the public feed lists (\d+) events/.exec(output)
    expect(Number(feed?.[1])).toBeGreaterThan(0)
    expect(output).toMatch(/cdp\s+segment\s+True/)
    expect(output).toMatch(/warehouse\s+http\s+True/)
    expect(output).toMatch(/casino-db\s+postgres\s+True/)
    // the synced casino tables: one line per casino with its players, transactions, game sessions
    for (const casino of ['royal', 'lucky', 'savanna', 'harbour']) {
      const line = new RegExp(
        `switchboard-demo/${casino}\\s+\\|\\s+(\\d+)\\s+\\|\\s+(\\d+)\\s+\\|\\s+(\\d+)`,
      ).exec(output)
      expect(line, `${casino} in the tables\n${output}`).not.toBeNull()
      expect(Number(line?.[1]) + Number(line?.[2]) + Number(line?.[3])).toBeGreaterThan(0)
    }
    // a partner channel went live in the sandbox and the TwitchIntegration shows it
    expect(output).toMatch(/partner_one live=true Drops enabled: watch to earn/)
    expect(output).toMatch(/partner_two live=false/)
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
