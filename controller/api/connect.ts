/**
 * The connect contract, shared by the controller and the webhook server as the webhook contract
 * is: where a connect link and the OAuth callback are served, and the shape of `status.connect`.
 *
 * - `/connect/<provider>/<namespace>/<name>/<link>`: the link a resource publishes while it needs
 *   a user's authorization. `<link>` is a random capability (32 bytes, base64url); the controller
 *   keeps only its SHA-256. The webhook server asks the controller, over the bridge, where to send
 *   the browser (the provider's consent page), and redirects there.
 * - `/connect/<provider>/callback`: the redirect URI registered at the provider. The webhook
 *   server hands `code`, `state` and `error` to the controller, which checks the link, exchanges
 *   the code and writes the tokens, and shows the page the controller's outcome names.
 */
import { z } from 'zod'
import { dateTime, httpUrl } from './common.ts'

export const CONNECT_PREFIX = '/connect'

/** A link capability: 43 base64url characters (32 random bytes). */
export const CONNECT_LINK_PATTERN = /^[A-Za-z0-9_-]{43}$/

export function connectLinkPath(provider: string, namespace: string, name: string, link: string): string {
  return `${CONNECT_PREFIX}/${provider}/${namespace}/${name}/${link}`
}

export function connectCallbackPath(provider: string): string {
  return `${CONNECT_PREFIX}/${provider}/callback`
}

export const connectStatus = z
  .object({
    url: httpUrl(
      'A one-time link that authorizes Switchboard at the provider: open it in a browser signed in ' +
        'to the account to connect. It works once and expires at `expiresAt`; a new one is ' +
        'published while authorization is still needed. Anyone who can read this resource can use it.',
    ),
    expiresAt: dateTime('When the link stops working.'),
  })
  .describe(
    'Present while the resource needs a user to authorize Switchboard at the provider (no grant ' +
      'yet, or the grant was revoked). Needs the public URL of the webhook server.',
  )

export type ConnectStatus = z.output<typeof connectStatus>

/** What the controller answers when a link is opened. */
export type ConnectOpenAnswer =
  | { outcome: 'redirect'; location: string }
  | { outcome: ConnectFailure; status: number; message: string }

/** What the controller answers to a callback. */
export type ConnectCallbackAnswer =
  | { outcome: 'connected'; status: 200; message: string }
  | { outcome: ConnectFailure; status: number; message: string }

/**
 * Why a link or a callback did not connect, each with the page the webhook server shows:
 * `unknown` (no such link: 404), `used` (already used: 410), `expired` (410), `mismatch` (a forged or
 * foreign state: 400), `refused` (the user declined consent: 403), `exchange_failed` (the provider
 * refused the code: 502), `wrong_account` (a grant for another account than the resource names:
 * 409), `not_writable` (the Secret lacks the opt-in label: 409), `unavailable` (the controller or
 * the API server could not be reached: 503).
 */
export const CONNECT_FAILURES = [
  'unknown',
  'used',
  'expired',
  'mismatch',
  'refused',
  'exchange_failed',
  'wrong_account',
  'not_writable',
  'unavailable',
] as const
export type ConnectFailure = (typeof CONNECT_FAILURES)[number]

/** The controller's side of the connect routes, asked over the webhook bridge. */
export interface ConnectHandler {
  open(provider: string, namespace: string, name: string, link: string): Promise<ConnectOpenAnswer>
  callback(
    provider: string,
    params: { code?: string | undefined; state?: string | undefined; error?: string | undefined },
  ): Promise<ConnectCallbackAnswer>
}
