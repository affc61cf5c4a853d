/**
 * Playtech PAM connector: OAuth2 client credentials. The access token is cached and shared by
 * every request of the client, renewed shortly before it expires, and renewed once when the
 * platform answers 401 for it. The contract it assumes is in README.md; every provider-specific
 * detail in mapping.ts.
 */
import { buildCasinoClient, casinoHttpClient } from '../casino/client.ts'
import { SessionCache } from '../casino/session.ts'
import type { CasinoConnector } from '../casino/types.ts'
import {
  accountIdentity,
  BUDGET,
  contract,
  credentialsSchema,
  endpointFor,
  LICENSE_HEADER,
  MAX_PAGE_SIZE,
  type PlaytechPamSettings,
  PROVIDER,
  settingsSchema,
  TOKEN_PATH,
  tokenRequest,
  tokenResponse,
} from './mapping.ts'

export const playtechPam: CasinoConnector<PlaytechPamSettings> = {
  provider: PROVIDER,
  credentials: credentialsSchema,
  settings: settingsSchema,
  maxPageSize: MAX_PAGE_SIZE,
  defaultEndpoint: (settings) => endpointFor(settings),
  create(opts) {
    const { licenseKey = '' } = opts.credentials
    const token = new SessionCache({
      obtain: () => {
        const req = tokenRequest(opts.credentials)
        return http.post(TOKEN_PATH, {
          operation: 'auth.token',
          schema: tokenResponse,
          form: req.form,
          headers: req.headers,
          auth: false,
          idempotent: true,
        })
      },
    })
    let current: string | undefined
    const http = casinoHttpClient({
      provider: PROVIDER,
      create: opts,
      account: accountIdentity(opts.credentials),
      budget: BUDGET,
      auth: async ({ headers }) => {
        current = await token.get()
        headers.set('authorization', `Bearer ${current}`)
        headers.set(LICENSE_HEADER, licenseKey)
      },
      onUnauthorized: ({ headers }) => {
        const sent = /^Bearer\s+(\S+)$/i.exec(headers.get('authorization') ?? '')?.[1]
        token.invalidate(sent)
      },
      secrets: () => (current ? [current] : []),
    })
    return buildCasinoClient({
      http,
      contract: contract(),
      authenticate: async () => {
        current = await token.get()
      },
    })
  },
}

export type { PlaytechPamSettings } from './mapping.ts'
