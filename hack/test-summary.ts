// Prints one closing line over the vitest JSON reports of a `make test` run:
//   tests: N passed, N failed, N skipped
import { existsSync, readFileSync } from 'node:fs'

let passed = 0
let failed = 0
let skipped = 0
for (const project of ['unit', 'integration']) {
  const file = `.cache/test-results/${project}.json`
  if (!existsSync(file)) {
    process.stderr.write(`test-summary: ${file} is missing (the ${project} tests did not run)\n`)
    failed += 1
    continue
  }
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    numPassedTests: number
    numFailedTests: number
    numPendingTests: number
    numTodoTests: number
  }
  passed += report.numPassedTests
  failed += report.numFailedTests
  skipped += report.numPendingTests + report.numTodoTests
}
process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
process.exit(failed > 0 ? 1 : 0)
