import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from './cli.ts'

const CLI = join(import.meta.dirname, 'cli.ts')

describe('sandbox cli', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sandbox-cli-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('prints SANDBOX_URL, serves the configured providers and stops on SIGTERM', async () => {
    const config = join(dir, 'config.json')
    await writeFile(
      config,
      JSON.stringify({
        segment: { writeKeys: ['demo-key'] },
        http: { receivers: { demo: { signingSecret: 'demo-secret' } } },
      }),
    )
    const child = spawn(process.execPath, [CLI, '--port', '0', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = ''
        const timer = setTimeout(() => reject(new Error(`no SANDBOX_URL in time: ${out}`)), 15_000)
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          const m = /^SANDBOX_URL=(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)
          if (m?.[1]) {
            clearTimeout(timer)
            resolve(m[1])
          }
        })
        child.once('exit', (code) => reject(new Error(`exited early (${code}): ${out}`)))
      })
      const denied = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('other:').toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ batch: [] }),
      })
      expect(denied.status).toBe(401)
      const receiver = await fetch(`${url}/_sandbox/http/demo/records`)
      expect(receiver.status).toBe(200)
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const [code] = await exited
      expect(code).toBe(0)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }, 20_000)

  it('rejects a config with unknown fields or bad values', async () => {
    const bad = join(dir, 'bad.json')
    await writeFile(bad, JSON.stringify({ segment: { writeKeys: [''] }, extra: true }))
    await expect(loadConfig(bad)).rejects.toThrow(/bad\.json/)
    const notJson = join(dir, 'not.json')
    await writeFile(notJson, '{')
    await expect(loadConfig(notJson)).rejects.toThrow(/not valid JSON/)
  })
})
