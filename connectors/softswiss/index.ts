/**
 * SOFTSWISS connector: signed JSON requests, no session. The contract it assumes is in
 * README.md; every provider-specific detail in mapping.ts.
 */
import { buildCasinoClient, casinoHttpClient } from '../casino/client.ts'
import type { CasinoConnector } from '../casino/types.ts'
import {
  API_KEY_HEADER,
  accountIdentity,
  BUDGET,
  contract,
  credentialsSchema,
  ENDPOINTS,
  MAX_PAGE_SIZE,
  PROVIDER,
  SIGNATURE_HEADER,
  type SoftswissSettings,
  settingsSchema,
  signBody,
} from './mapping.ts'

export const softswiss: CasinoConnector<SoftswissSettings> = {
  provider: PROVIDER,
  credentials: credentialsSchema,
  settings: settingsSchema,
  maxPageSize: MAX_PAGE_SIZE,
  defaultEndpoint: (settings) => ENDPOINTS[settings.environment],
  create(opts) {
    const { apiKey = '', apiSecret = '' } = opts.credentials
    const http = casinoHttpClient({
      provider: PROVIDER,
      create: opts,
      account: accountIdentity(opts.credentials),
      budget: BUDGET,
      // every attempt is signed over the exact bytes it sends
      auth: ({ body, headers }) => {
        headers.set(API_KEY_HEADER, apiKey)
        headers.set(SIGNATURE_HEADER, signBody(apiSecret, body ?? ''))
      },
    })
    return buildCasinoClient({ http, contract: contract(opts.settings) })
  },
}

export { type SoftswissSettings, signBody } from './mapping.ts'
