/**
 * What the connect-link tests of every provider do the same way: wait for the link a resource
 * publishes, walk a browser's redirects up to the provider's callback, load a page as a browser
 * would, check that planted values reached no log, status or Event, and start the webhook
 * server on a port it picks itself.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { expect } from 'vitest'
import { type Obj, waitFor } from './helpers.ts'

export interface PublishedLink {
  url: string
  expiresAt: string
  obj: Obj
}

/** The link in `status.connect`, once it is there (and differs from `not`). */
export function connectLinkOf(what: string, read: () => Promise<Obj>, not?: string): Promise<PublishedLink> {
  return waitFor(
    `status.connect of ${what}`,
    async () => {
      const o = await read()
      const connect = o.status?.connect as { url?: string; expiresAt?: string } | undefined
      return connect?.url && connect.expiresAt && connect.url !== not
        ? { url: connect.url, expiresAt: connect.expiresAt, obj: o }
        : undefined
    },
    { timeoutMs: 30_000 },
  )
}

/**
 * What a browser does up to the callback: the link (a redirect to the provider's authorize page,
 * sending no Referer), the consent page (a redirect back); returns the callback URL it would load.
 */
export async function followToCallback(
  link: string,
  expected: { authorizeUrl: string; callbackUrl: string },
): Promise<string> {
  const first = await fetch(link, { redirect: 'manual' })
  expect(first.status).toBe(302)
  expect(first.headers.get('referrer-policy')).toBe('no-referrer')
  const consent = first.headers.get('location') as string
  expect(consent.startsWith(`${expected.authorizeUrl}?`)).toBe(true)
  const back = await fetch(consent, { redirect: 'manual' })
  expect(back.status).toBe(302)
  const callback = back.headers.get('location') as string
  expect(callback.startsWith(`${expected.callbackUrl}?`)).toBe(true)
  return callback
}

/** A page loaded as a browser loads it (redirects followed). */
export async function page(url: string) {
  const res = await fetch(url, { redirect: 'follow' })
  return { status: res.status, text: await res.text(), url: res.url, headers: res.headers }
}

/** None of `values` in the logs, the resource's status or its Events. */
export function expectNowhere(where: { logs: string; obj: Obj; events: unknown }, values: readonly string[]) {
  const status = JSON.stringify(where.obj.status)
  const events = JSON.stringify(where.events)
  for (const v of values) {
    expect(where.logs).not.toContain(v)
    expect(status).not.toContain(v)
    expect(events).not.toContain(v)
  }
}

/**
 * Starts `bin/switchboard.ts webhooks` on a port of its own choosing (`--bind-address
 * 127.0.0.1:0`) and resolves with its base URL once it says where it listens. A port picked by
 * the test and bound seconds later by the child, once its sources are loaded, may be taken by
 * then by another process of the machine, which would then answer in its stead.
 */
export async function spawnWebhookServer(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      resolve(import.meta.dirname, '../../bin/switchboard.ts'),
      'webhooks',
      '--bind-address',
      '127.0.0.1:0',
      // the address is said at info level
      '--log-level',
      'info',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: opts.env ?? process.env },
  )
  const url = await new Promise<string>((res, rej) => {
    let buffered = ''
    const timer = setTimeout(() => {
      rej(new Error('the webhook server did not say where it listens'))
    }, opts.timeoutMs ?? 60_000)
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      rej(new Error(`the webhook server exited (${code}) before listening`))
    }
    child.once('exit', onExit)
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        let entry: { msg?: string; address?: string } = {}
        try {
          entry = JSON.parse(line)
        } catch {
          continue
        }
        if (entry.msg === 'serving webhooks' && entry.address) {
          clearTimeout(timer)
          child.off('exit', onExit)
          res(`http://${entry.address}`)
        }
      }
    })
  })
  // the rest of its output is read and dropped, so that it never blocks on a full pipe
  child.stdout?.removeAllListeners('data')
  child.stdout?.resume()
  return { child, url }
}
