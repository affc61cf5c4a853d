/**
 * A broadcaster's user token (the authorization code flow behind connect links): who it is for
 * and what it may do, from `GET /oauth2/validate` on the auth server. Twitch asks applications to
 * validate user tokens when they start to use them and hourly afterwards; a token it no longer
 * knows answers 401 (`Unauthorized` here).
 */
import type { Registry } from 'prom-client'
import { z } from 'zod'
import { createProviderClient } from '../http/index.ts'
import type { Logger } from '../log.ts'
import { TWITCH_AUTH_URL } from './client.ts'

const validateBody = z.object({
  client_id: z.string(),
  login: z.string(),
  user_id: z.string(),
  scopes: z.array(z.string()).nullish(),
  expires_in: z.number().nullish(),
})

export interface TwitchUserToken {
  clientId: string
  login: string
  userId: string
  scopes: string[]
}

export const TWITCH_SUBSCRIPTIONS_SCOPE = 'channel:read:subscriptions'

export async function validateTwitchUserToken(opts: {
  accessToken: string
  /** Default `https://id.twitch.tv`. */
  authUrl?: string | undefined
  logger?: Logger | undefined
  metrics?: Registry | undefined
  timeoutMs?: number | undefined
  signal?: AbortSignal | undefined
}): Promise<TwitchUserToken> {
  const base = (opts.authUrl ?? TWITCH_AUTH_URL).replace(/\/+$/, '')
  const url = new URL(base)
  const http = createProviderClient({
    provider: 'twitch',
    baseUrl: url.origin,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    secrets: () => [opts.accessToken],
  })
  const body = await http.get(`${url.pathname.replace(/\/+$/, '')}/oauth2/validate`, {
    operation: 'oauth.validate',
    schema: validateBody,
    headers: { authorization: `OAuth ${opts.accessToken}` },
  })
  return { clientId: body.client_id, login: body.login, userId: body.user_id, scopes: body.scopes ?? [] }
}
