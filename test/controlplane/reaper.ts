// Watchdog for a local control plane, started by controlplane.ts as a detached process.
//
//   node reaper.ts <data-dir>
//
// The parent writes `pid <n>` lines on stdin for every process group it starts. When stdin
// closes without a prior `release` line (the parent died, even from SIGKILL), this process
// SIGKILLs those process groups and removes <data-dir>. `release` means the parent cleaned
// up itself; the reaper then exits without touching anything.
import { rmSync } from 'node:fs'

const dataDir = process.argv[2]
const groups = new Set<number>()
let released = false
let buffered = ''

process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk: string) => {
  buffered += chunk
  let newline = buffered.indexOf('\n')
  while (newline >= 0) {
    const line = buffered.slice(0, newline).trim()
    buffered = buffered.slice(newline + 1)
    newline = buffered.indexOf('\n')
    const pid = /^pid (\d+)$/.exec(line)?.[1]
    if (pid) groups.add(Number(pid))
    else if (line === 'release') released = true
  }
})

function reap(): void {
  if (!released) {
    for (const pgid of groups) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    if (dataDir) {
      try {
        rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 })
      } catch {
        // nothing more a watchdog can do
      }
    }
  }
  process.exit(0)
}

process.stdin.on('end', reap)
process.stdin.on('close', reap)
process.stdin.on('error', reap)
