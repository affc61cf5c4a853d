/**
 * Altenar connector: a username/password login opens a session that every request reuses; it
 * is renewed shortly before it expires and after a 401 (once per request). The contract it
 * assumes is in README.md; every provider-specific detail in mapping.ts.
 */
import { buildCasinoClient, casinoHttpClient } from '../casino/client.ts'
import { SessionCache } from '../casino/session.ts'
import type { CasinoConnector } from '../casino/types.ts'
import {
  type AltenarSettings,
  accountIdentity,
  BUDGET,
  contract,
  credentialsSchema,
  ENDPOINT,
  LOGIN_PATH,
  loginBody,
  loginResponse,
  MAX_PAGE_SIZE,
  PROVIDER,
  SESSION_HEADER,
  settingsSchema,
} from './mapping.ts'

export const altenar: CasinoConnector<AltenarSettings> = {
  provider: PROVIDER,
  credentials: credentialsSchema,
  settings: settingsSchema,
  maxPageSize: MAX_PAGE_SIZE,
  defaultEndpoint: () => ENDPOINT,
  create(opts) {
    const session = new SessionCache({
      obtain: () =>
        http.post(LOGIN_PATH, {
          operation: 'auth.login',
          schema: loginResponse,
          json: loginBody(opts.credentials, opts.settings),
          auth: false,
          idempotent: true,
        }),
    })
    let current: string | undefined
    const http = casinoHttpClient({
      provider: PROVIDER,
      create: opts,
      account: accountIdentity(opts.credentials, opts.settings),
      budget: BUDGET,
      auth: async ({ headers }) => {
        current = await session.get()
        headers.set(SESSION_HEADER, current)
      },
      onUnauthorized: ({ headers }) => session.invalidate(headers.get(SESSION_HEADER) ?? undefined),
      secrets: () => (current ? [current] : []),
    })
    return buildCasinoClient({
      http,
      contract: contract(opts.settings),
      authenticate: async () => {
        current = await session.get()
      },
    })
  },
}

export type { AltenarSettings } from './mapping.ts'
