/**
 * `make bench`: every benchmark, one after the other (each is a side-by-side comparison of its
 * own; running them together would make them compete for the same cores). Results go to stdout;
 * bench/README.md records the latest and how to read them.
 *
 *   node bench/run.ts [--only destinations|casino|webhooks|postgres|campaign] [--quick]
 *
 * --quick runs small sizes (a few minutes in all), to check that the benches work.
 */
import { spawnSync } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { only: { type: 'string' }, quick: { type: 'boolean', default: false } },
})
const here = import.meta.dirname
const quick = values.quick
const benches: Record<string, string[]> = {
  destinations: [
    '--expose-gc',
    resolve(here, 'destinations.bench.ts'),
    ...(quick ? ['--count', '100', '--large', '300', '--idle', '10s'] : []),
  ],
  casino: [resolve(here, 'casino.bench.ts'), ...(quick ? ['--records', '20000'] : [])],
  webhooks: [resolve(here, 'webhooks.bench.ts'), ...(quick ? ['--rounds', '1', '--duration', '2'] : [])],
  postgres: [resolve(here, 'postgres.bench.ts'), ...(quick ? ['--records', '20000'] : [])],
  campaign: [resolve(here, 'campaign.bench.ts'), ...(quick ? ['--recipients', '500'] : [])],
}
let failed = false
for (const [name, args] of Object.entries(benches)) {
  if (values.only && values.only !== name) continue
  process.stderr.write(`\n== bench: ${name}\n`)
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' })
  if (r.status !== 0) {
    process.stderr.write(`bench ${name} failed (exit ${r.status})\n`)
    failed = true
  }
}
process.exitCode = failed ? 1 : 0
