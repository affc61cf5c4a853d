/**
 * The providers of the calendar, messaging and creator kinds. Google Calendar's credentials are
 * one of two key sets (a service account, or an OAuth client with a refresh token), which its
 * connector checks (connectors/google-calendar/credentials.ts); the kinds to come declare theirs
 * with the kind.
 */
import { z } from 'zod'
import { defineProvider } from './types.ts'

/** A token as a Secret holds it: trimmed, not empty, no spaces inside. */
function token(name: string) {
  return z
    .string()
    .trim()
    .min(1, { message: `${name} is empty` })
    .regex(/^\S+$/, { message: `${name} must not contain spaces` })
}

/**
 * Twilio's credentials: the Account SID with either its Auth Token, or an API key (SID and secret)
 * made for Switchboard. Status callbacks are always signed with the Auth Token, so a Secret
 * holding an API key needs `authToken` too for callbacks to be accepted.
 */
export const twilioCredentials = z
  .object({
    accountSid: z
      .string()
      .trim()
      .regex(/^AC[0-9a-f]{32}$/, {
        message: 'accountSid must be an Account SID (AC followed by 32 hex digits)',
      }),
    authToken: token('authToken').optional(),
    apiKeySid: z
      .string()
      .trim()
      .regex(/^SK[0-9a-f]{32}$/, {
        message: 'apiKeySid must be an API key SID (SK followed by 32 hex digits)',
      })
      .optional(),
    apiKeySecret: token('apiKeySecret').optional(),
  })
  .refine((c) => c.authToken !== undefined || (c.apiKeySid !== undefined && c.apiKeySecret !== undefined), {
    message: 'authToken is missing (or give apiKeySid and apiKeySecret)',
    path: ['authToken'],
  })
  .refine((c) => (c.apiKeySid === undefined) === (c.apiKeySecret === undefined), {
    message: 'apiKeySid and apiKeySecret go together',
    path: ['apiKeySecret'],
  })

export const twilio = defineProvider({
  id: 'twilio',
  title: 'Twilio',
  kind: 'MessageCampaign',
  protocol: 'twilio',
  docs: 'controller/campaign/README.md',
  credentials: twilioCredentials,
  webhook: {
    verifier: 'twilio',
    setup: 'nothing: the status callback URL is set on each message',
    secrets: { authToken: ['authToken'] },
  },
  sandbox: { fixture: 'twilio' },
})

/**
 * Patreon's credentials: the OAuth client and the creator's tokens. The controller refreshes the
 * access token itself and writes the rotated tokens back (`accessToken`, `refreshToken`,
 * `accessTokenExpiresAt`), so the Secret must carry the label `switchboard.dev/controller-writable`.
 */
export const patreonCredentials = z.object({
  clientId: token('clientId'),
  clientSecret: token('clientSecret'),
  /** Absent until the creator authorizes Switchboard (a connect link in status), or pasted in. */
  refreshToken: token('refreshToken').optional(),
  accessToken: token('accessToken').optional(),
  accessTokenExpiresAt: z
    .string()
    .trim()
    .refine((v) => !Number.isNaN(Date.parse(v)), { message: 'accessTokenExpiresAt must be an RFC 3339 time' })
    .optional(),
  webhookSecret: z.string().trim().optional(),
})

export const patreon = defineProvider({
  id: 'patreon',
  title: 'Patreon',
  kind: 'PatreonIntegration',
  protocol: 'patreon',
  docs: 'connectors/patreon/README.md',
  credentials: patreonCredentials,
  webhook: {
    verifier: 'patreon',
    setup: 'nothing: Switchboard registers the webhook through the API',
    secrets: { webhookSecret: ['webhookSecret'] },
  },
  oauth: {
    baseUrl: 'https://www.patreon.com',
    authorizePath: '/oauth2/authorize',
    tokenPath: '/api/oauth2/token',
    scopes: ['identity', 'campaigns', 'campaigns.members', 'campaigns.members[email]', 'w:campaigns.webhook'],
    // Patreon documents no PKCE; the state parameter and the client secret protect the code
    pkce: false,
    clientAuth: 'body',
  },
  sandbox: { fixture: 'patreon' },
})

/**
 * Calendly's credentials: a personal access token, or an OAuth client (`clientId`,
 * `clientSecret`) whose tokens come from a connect link (or are pasted in). Calendly's access
 * tokens last two hours and its refresh tokens work once (each refresh returns a new one), so the
 * controller writes the rotated tokens back: the Secret needs the label
 * `switchboard.dev/controller-writable`. With both, the personal access token is used.
 */
export const calendlyCredentials = z
  .object({
    personalAccessToken: token('personalAccessToken').optional(),
    clientId: token('clientId').optional(),
    clientSecret: token('clientSecret').optional(),
    /** Absent until the user authorizes Switchboard (a connect link in status), or pasted in. */
    refreshToken: token('refreshToken').optional(),
    accessToken: token('accessToken').optional(),
    accessTokenExpiresAt: z
      .string()
      .trim()
      .refine((v) => !Number.isNaN(Date.parse(v)), {
        message: 'accessTokenExpiresAt must be an RFC 3339 time',
      })
      .optional(),
    webhookSigningKey: z.string().trim().min(1, { message: 'webhookSigningKey is empty' }).optional(),
  })
  .refine((c) => c.personalAccessToken !== undefined || c.clientId !== undefined, {
    message: 'personalAccessToken is missing (or give clientId and clientSecret for OAuth)',
    path: ['personalAccessToken'],
  })
  .refine((c) => c.personalAccessToken !== undefined || c.clientSecret !== undefined, {
    message: 'clientSecret is needed with clientId',
    path: ['clientSecret'],
  })

export const calendly = defineProvider({
  id: 'calendly',
  title: 'Calendly',
  kind: 'CalendarSync',
  protocol: 'calendly',
  docs: 'connectors/calendly/README.md',
  credentials: calendlyCredentials,
  webhook: {
    verifier: 'calendly',
    setup: 'nothing: created through the API',
    secrets: { signingKey: ['webhookSigningKey'] },
  },
  // a user's grant instead of a personal access token (connect links)
  oauth: {
    baseUrl: 'https://auth.calendly.com',
    authorizePath: '/oauth/authorize',
    tokenPath: '/oauth/token',
    // the user (GET /users/me) and the scheduled events with their invitees
    scopes: ['users:read', 'scheduled_events:read'],
    // Calendly recommends PKCE (S256) for every OAuth application
    pkce: true,
    clientAuth: 'body',
  },
  sandbox: { fixture: 'calendly' },
})

export const twitch = defineProvider({
  id: 'twitch',
  title: 'Twitch',
  kind: 'TwitchIntegration',
  protocol: 'twitch',
  docs: 'connectors/twitch/README.md',
  credentials: z.object({
    clientId: token('clientId'),
    clientSecret: token('clientSecret'),
    eventsubSecret: z
      .string()
      .trim()
      .min(10, { message: 'eventsubSecret must be 10 to 100 characters' })
      .max(100, { message: 'eventsubSecret must be 10 to 100 characters' }),
  }),
  webhook: {
    verifier: 'twitch',
    setup: 'nothing: EventSub subscriptions are created through the API',
    secrets: { eventsubSecret: ['eventsubSecret'] },
  },
  // the broadcaster's user token, for channel.subscribe (connect links)
  oauth: {
    baseUrl: 'https://id.twitch.tv',
    authorizePath: '/oauth2/authorize',
    tokenPath: '/oauth2/token',
    scopes: ['channel:read:subscriptions'],
    // Twitch documents no PKCE for its authorization code flow; the state and the client secret
    // protect the code, and the account check makes sure the broadcaster is one the spec names
    pkce: false,
    clientAuth: 'body',
  },
  sandbox: { fixture: 'twitch' },
})

export const facebook = defineProvider({
  id: 'facebook',
  title: 'Facebook pages',
  kind: 'CalendarSync',
  protocol: 'facebook',
  docs: 'connectors/facebook/README.md',
  credentials: z.object({
    pageAccessToken: token('pageAccessToken'),
    appSecret: z
      .string()
      .trim()
      .regex(/^[0-9a-f]{16,64}$/i, { message: 'appSecret must be the app secret (hex)' })
      .optional(),
  }),
  // no webhook: Switchboard only publishes to pages, and no kind subscribes to their changes
  sandbox: { fixture: 'facebook' },
})

export const google = defineProvider({
  id: 'google',
  title: 'Google Calendar',
  kind: 'CalendarSync',
  protocol: 'google-calendar',
  docs: 'connectors/google-calendar/README.md',
  webhook: {
    verifier: 'google',
    setup: 'nothing: Switchboard opens the push channels itself',
    secrets: { channelToken: ['channelToken'] },
  },
  // a user's grant instead of a service account (connect links); the scopes a part asks for
  // depend on what it does: reading a calendar (source, freeBusy) or writing events (targets)
  oauth: {
    baseUrl: 'https://accounts.google.com',
    authorizePath: '/o/oauth2/v2/auth',
    tokenBaseUrl: 'https://oauth2.googleapis.com',
    tokenPath: '/token',
    scopes: [
      'https://www.googleapis.com/auth/calendar.readonly',
      'https://www.googleapis.com/auth/calendar.events',
    ],
    // a refresh token only comes with offline access, and again only with a new consent
    authorizeParams: { access_type: 'offline', prompt: 'consent' },
    pkce: true,
    clientAuth: 'body',
  },
  sandbox: { fixture: 'google-calendar' },
})
