import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Binaries } from './binaries.ts'
import { startControlPlane } from './controlplane.ts'

// Failure paths of startControlPlane with stand-in binaries: a fake etcd that answers /health and
// fake kube-apiservers that crash or never get ready. The happy path runs against the real
// binaries in test/integration/controlplane.test.ts.

const FAKE_ETCD = `
const http = require('node:http')
const fs = require('node:fs')
fs.writeFileSync(process.env.SWITCHBOARD_FAKE_PIDS + '/etcd', String(process.pid))
const url = new URL(process.argv.find((a) => a.startsWith('--listen-client-urls=')).split('=')[1])
http.createServer((req, res) => res.end('{"health":"true"}')).listen(Number(url.port), url.hostname, () => {
  console.error('fake etcd listening on ' + url.port)
})
`
const CRASHING_APISERVER = `
console.error('E0101 fake kube-apiserver: cannot reach the moon')
process.exit(1)
`
const HANGING_APISERVER = `
require('node:fs').writeFileSync(process.env.SWITCHBOARD_FAKE_PIDS + '/kube-apiserver', String(process.pid))
console.error('fake kube-apiserver waiting forever')
setInterval(() => {}, 1000)
`

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('startControlPlane failures', () => {
  let root: string
  let tmp: string
  let pids: string
  const saved = { TMPDIR: process.env.TMPDIR, pids: process.env.SWITCHBOARD_FAKE_PIDS }

  function fake(name: string, body: string): string {
    const file = join(root, name)
    writeFileSync(file, `#!${process.execPath}\n${body}`)
    chmodSync(file, 0o755)
    return file
  }

  function binaries(apiserver: string): Binaries {
    return {
      etcd: fake('etcd', FAKE_ETCD),
      kubeApiserver: fake('kube-apiserver', apiserver),
      dir: root,
    }
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'switchboard-cp-test-'))
    tmp = join(root, 'tmp')
    pids = join(root, 'pids')
    mkdirSync(tmp)
    mkdirSync(pids)
    process.env.TMPDIR = tmp
    process.env.SWITCHBOARD_FAKE_PIDS = pids
  })

  afterEach(() => {
    for (const [key, value] of [
      ['TMPDIR', saved.TMPDIR],
      ['SWITCHBOARD_FAKE_PIDS', saved.pids],
    ] as const) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
    rmSync(root, { recursive: true, force: true })
  })

  function pidOf(name: string): number {
    return Number(readFileSync(join(pids, name), 'utf8'))
  }

  it('reports the tail of the crashed component log and removes everything', async () => {
    const err = await startControlPlane({
      binaries: binaries(CRASHING_APISERVER),
      readyTimeoutMs: 20_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(Error)
    const message = (err as Error).message
    expect(message).toContain('kube-apiserver exited (code 1) before /readyz answered')
    expect(message).toContain('fake kube-apiserver: cannot reach the moon')
    expect(message).not.toContain('Logs are in')
    expect(alive(pidOf('etcd'))).toBe(false)
    expect(readdirSync(tmp)).toEqual([])
  })

  it('keeps only the logs when asked to and says where they are', async () => {
    const err = await startControlPlane({
      binaries: binaries(CRASHING_APISERVER),
      keepLogsOnFailure: true,
      readyTimeoutMs: 20_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    const [dataDir] = readdirSync(tmp)
    expect(dataDir).toMatch(/^switchboard-cp-/)
    expect((err as Error).message).toContain(`Logs are in ${join(tmp, dataDir ?? '')}`)
    expect(readdirSync(join(tmp, dataDir ?? '')).sort()).toEqual(['etcd.log', 'kube-apiserver.log'])
    expect(readFileSync(join(tmp, dataDir ?? '', 'etcd.log'), 'utf8')).toContain('fake etcd listening')
  })

  it('times out on a component that never gets ready and stops it', async () => {
    const started = Date.now()
    const err = await startControlPlane({
      binaries: binaries(HANGING_APISERVER),
      readyTimeoutMs: 1_500,
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(Date.now() - started).toBeLessThan(10_000)
    const message = (err as Error).message
    expect(message).toContain('kube-apiserver did not get ready: timed out waiting for /readyz')
    expect(message).toContain('fake kube-apiserver waiting forever')
    expect(alive(pidOf('kube-apiserver'))).toBe(false)
    expect(alive(pidOf('etcd'))).toBe(false)
    expect(readdirSync(tmp)).toEqual([])
  })
})
