/**
 * The casino platforms. None publishes its partner API; each connector's README states the
 * contract Switchboard assumes. Their webhooks share one signing scheme (`verifier: 'casino'`).
 */
import { z } from 'zod'
import { accountId, secretKey } from './fields.ts'
import { defineProvider } from './types.ts'

const CASINO_SETUP = "the platform's webhook / callback settings for your casino"

export const softswiss = defineProvider({
  id: 'softswiss',
  title: 'SOFTSWISS',
  kind: 'CasinoIntegration',
  protocol: 'softswiss',
  docs: 'connectors/softswiss/README.md',
  credentials: z.object({ apiKey: secretKey('apiKey'), apiSecret: secretKey('apiSecret') }),
  settings: {
    field: 'softswiss',
    schema: z
      .object({
        casinoId: accountId('The casino identifier SOFTSWISS issued for this casino.'),
        environment: z
          .enum(['staging', 'production'])
          .default('production')
          .describe('Which SOFTSWISS environment to call: staging or production. Defaults to production.'),
      })
      .describe('Settings for provider softswiss. Credentials: Secret keys `apiKey` and `apiSecret`.'),
  },
  // a dedicated `webhookSecret` only: `apiSecret` signs the requests Switchboard sends
  webhook: { verifier: 'casino', setup: CASINO_SETUP, secrets: { signingSecret: ['webhookSecret'] } },
  sandbox: { fixture: 'softswiss' },
})

export const altenar = defineProvider({
  id: 'altenar',
  title: 'Altenar',
  kind: 'CasinoIntegration',
  protocol: 'altenar',
  docs: 'connectors/altenar/README.md',
  credentials: z.object({ username: secretKey('username'), password: secretKey('password') }),
  settings: {
    field: 'altenar',
    schema: z
      .object({
        operatorId: accountId('The operator identifier Altenar issued.'),
        brandId: accountId('The brand (casino) identifier under that operator.'),
      })
      .describe('Settings for provider altenar. Credentials: Secret keys `username` and `password`.'),
  },
  webhook: { verifier: 'casino', setup: CASINO_SETUP, secrets: { signingSecret: ['webhookSecret'] } },
  sandbox: { fixture: 'altenar' },
})

export const betsoftware = defineProvider({
  id: 'betsoftware',
  title: 'BET Software',
  kind: 'CasinoIntegration',
  protocol: 'betsoftware',
  docs: 'connectors/betsoftware/README.md',
  credentials: z.object({ apiKey: secretKey('apiKey'), hashKey: secretKey('hashKey') }),
  settings: {
    field: 'betsoftware',
    schema: z
      .object({
        partnerId: accountId('The partner identifier BET Software issued.'),
        siteId: accountId('The site (casino) identifier under that partner.'),
      })
      .describe('Settings for provider betsoftware. Credentials: Secret keys `apiKey` and `hashKey`.'),
  },
  // a dedicated `webhookSecret` only: `hashKey` signs the requests Switchboard sends
  webhook: { verifier: 'casino', setup: CASINO_SETUP, secrets: { signingSecret: ['webhookSecret'] } },
  sandbox: { fixture: 'betsoftware' },
})

/** The regions Playtech PAM hosts casinos in. */
const PLAYTECH_REGIONS = ['eu', 'uk', 'us', 'latam', 'apac'] as const

export const playtechPam = defineProvider({
  id: 'playtech-pam',
  title: 'Playtech PAM',
  kind: 'CasinoIntegration',
  protocol: 'playtech-pam',
  docs: 'connectors/playtech-pam/README.md',
  credentials: z.object({
    clientId: secretKey('clientId'),
    clientSecret: secretKey('clientSecret'),
    licenseKey: secretKey('licenseKey'),
  }),
  settings: {
    field: 'playtechPam',
    schema: z
      .object({
        region: z
          .enum(PLAYTECH_REGIONS)
          .default('eu')
          .describe(
            `The Playtech PAM region the casino is hosted in: ${PLAYTECH_REGIONS.join(', ')}. Defaults to eu.`,
          ),
      })
      .describe(
        'Settings for provider playtech-pam. Credentials: Secret keys `clientId`, `clientSecret` and `licenseKey`.',
      ),
  },
  webhook: { verifier: 'casino', setup: CASINO_SETUP, secrets: { signingSecret: ['webhookSecret'] } },
  sandbox: { fixture: 'playtech-pam' },
})
