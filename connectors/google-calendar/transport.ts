/**
 * How the official client's requests leave the process. `@googleapis/calendar` sends every
 * request (API calls and the token requests of its auth client) through the auth client's gaxios
 * transporter; Switchboard gives that transporter:
 *
 * - a `fetchImplementation` that is the shared engine's `fetch` (connectors/http): it takes a
 *   token from the account's request budget, then counts the request in
 *   `switchboard_provider_requests_total` / `..._duration_seconds` and logs one line for it
 *   (operation, method, path, status, latency; never the query or a header);
 * - `retryConfig: { retry: 0 }`, which switches off gaxios's own retries for every request,
 *   token requests included (gaxios retries GET/PUT/DELETE, and the token POST, 3 times on
 *   408/429/5xx by default). The shared engine's retry loop is the only one, so a failure is
 *   never retried 4 × 4 times and each retry passes through the budget;
 * - a request interceptor that sends the token request to `tokenUrl` instead of Google's fixed
 *   `https://oauth2.googleapis.com/token`. The service-account path stays the library's own
 *   (an RS256 JWT-bearer grant signed with the key, the token cached and refreshed by the JWT
 *   client); only the host changes. The assertion's audience remains Google's token URL, as
 *   the library writes it.
 */
import { auth as googleAuth } from '@googleapis/calendar'
import type { ProviderEngine } from '../http/index.ts'
import { GOOGLE_TOKEN_URL, type GoogleCredentials } from './credentials.ts'

export const CALENDAR_SCOPE = 'https://www.googleapis.com/auth/calendar'
export const CALENDAR_READONLY_SCOPE = 'https://www.googleapis.com/auth/calendar.readonly'

export type JwtClient = InstanceType<typeof googleAuth.JWT>
export type OAuthClient = InstanceType<typeof googleAuth.OAuth2>
export type AuthClient = JwtClient | OAuthClient

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * The bounded operation name of a request, from its method and path (a metric label and a
 * log field; never a raw path).
 */
export function operationFor(method: string, url: URL, tokenUrl: string): string {
  if (`${url.origin}${url.pathname}` === tokenUrl || url.href === GOOGLE_TOKEN_URL) return 'auth.token'
  const m = method.toUpperCase()
  const path = url.pathname.replace(/^.*?\/calendar\/v3/, '')
  if (path === '/freeBusy') return 'freebusy.query'
  if (path === '/channels/stop') return 'channels.stop'
  if (/^\/calendars\/[^/]+\/events\/watch$/.test(path)) return 'events.watch'
  if (/^\/calendars\/[^/]+\/events$/.test(path)) return m === 'POST' ? 'events.insert' : 'events.list'
  if (/^\/calendars\/[^/]+\/events\/[^/]+$/.test(path)) {
    const byMethod: Record<string, string> = {
      GET: 'events.get',
      PATCH: 'events.patch',
      PUT: 'events.update',
      DELETE: 'events.delete',
    }
    return byMethod[m] ?? 'other'
  }
  return 'other'
}

/** The fetch every request of one client goes through (budget, metrics, one log line). */
export function instrumentedFetch(engine: ProviderEngine, tokenUrl: string): Fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET')
    return engine.fetch(input, init, { operation: operationFor(method, url, tokenUrl) })
  }
}

export interface AuthClientOptions {
  credentials: GoogleCredentials
  scopes: readonly string[]
  tokenUrl: string
  fetch: Fetch
}

/** The library's auth client for the credentials, wired to `fetch` and `tokenUrl`. */
export function createAuthClient(opts: AuthClientOptions): AuthClient {
  const { credentials: c } = opts
  const transporterOptions = {
    fetchImplementation: opts.fetch,
    // no gaxios retries, for API and token requests alike (see the file comment)
    retryConfig: { retry: 0, noResponseRetries: 0 },
  }
  let client: AuthClient
  if (c.kind === 'serviceAccount') {
    const jwt = new googleAuth.JWT({
      email: c.clientEmail,
      key: c.privateKey,
      scopes: [...opts.scopes],
      transporterOptions,
    })
    if (c.privateKeyId) jwt.keyId = c.privateKeyId
    if (c.subject) jwt.subject = c.subject
    client = jwt
  } else {
    const oauth = new googleAuth.OAuth2({
      clientId: c.clientId,
      clientSecret: c.clientSecret,
      endpoints: { oauth2TokenUrl: opts.tokenUrl },
      transporterOptions,
    })
    oauth.setCredentials({ refresh_token: c.refreshToken })
    client = oauth
  }
  if (opts.tokenUrl !== GOOGLE_TOKEN_URL) {
    const target = new URL(opts.tokenUrl)
    client.transporter.interceptors.request.add({
      resolved: async (config) => {
        if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(target.href)
        return config
      },
    })
  }
  return client
}

/** Drops the cached access token, so the next request obtains a fresh one. */
export function forgetToken(client: AuthClient, credentials: GoogleCredentials): void {
  if (credentials.kind === 'serviceAccount') {
    // what the JWT client starts with: an expired placeholder, refreshed before the next call
    client.setCredentials({ refresh_token: 'jwt-placeholder', expiry_date: 1 })
  } else {
    client.setCredentials({ refresh_token: credentials.refreshToken })
  }
}
