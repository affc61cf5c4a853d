/**
 * BET Software connector: every request is signed (partner id, api key, timestamp and an HMAC
 * over method, path, query, body and timestamp); no session. The contract it assumes is in
 * README.md; every provider-specific detail in mapping.ts.
 */
import { buildCasinoClient, casinoHttpClient } from '../casino/client.ts'
import type { CasinoConnector } from '../casino/types.ts'
import {
  accountIdentity,
  type BetSoftwareSettings,
  BUDGET,
  contract,
  credentialsSchema,
  ENDPOINT,
  HEADERS,
  MAX_PAGE_SIZE,
  PROVIDER,
  settingsSchema,
  signRequest,
} from './mapping.ts'

export const betsoftware: CasinoConnector<BetSoftwareSettings> = {
  provider: PROVIDER,
  credentials: credentialsSchema,
  settings: settingsSchema,
  maxPageSize: MAX_PAGE_SIZE,
  defaultEndpoint: () => ENDPOINT,
  create(opts) {
    const { apiKey = '', hashKey = '' } = opts.credentials
    const http = casinoHttpClient({
      provider: PROVIDER,
      create: opts,
      account: accountIdentity(opts.credentials, opts.settings),
      budget: BUDGET,
      // signed per attempt: a retry after a Retry-After gets a fresh timestamp
      auth: ({ method, url, body, headers }) => {
        const timestamp = String(Math.floor(Date.now() / 1000))
        headers.set(HEADERS.partnerId, opts.settings.partnerId)
        headers.set(HEADERS.apiKey, apiKey)
        headers.set(HEADERS.timestamp, timestamp)
        headers.set(HEADERS.signature, signRequest(hashKey, method, url, body ?? '', timestamp))
      },
    })
    return buildCasinoClient({ http, contract: contract(opts.settings) })
  },
}

export {
  type BetSoftwareSettings,
  canonicalQuery,
  signRequest,
  stringToSign,
} from './mapping.ts'
