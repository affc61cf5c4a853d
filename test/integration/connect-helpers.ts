/**
 * What the connect-link tests of every provider do the same way: wait for the link a resource
 * publishes, walk a browser's redirects up to the provider's callback, load a page as a browser
 * would, and check that planted values reached no log, status or Event.
 */
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
