/**
 * The providers of the calendar, messaging and creator kinds. Their connectors read their own
 * credentials (connectors/<provider>); what is declared here is what both the controller and the
 * webhook server need: the kind, the webhook plugin and the Secret keys of the webhook secrets.
 */
import { defineProvider } from './types.ts'

export const twilio = defineProvider({
  id: 'twilio',
  title: 'Twilio',
  kind: 'MessageCampaign',
  protocol: 'twilio',
  docs: 'webhooks/README.md',
  webhook: { verifier: 'twilio', secrets: { authToken: ['authToken'] } },
})

export const patreon = defineProvider({
  id: 'patreon',
  title: 'Patreon',
  kind: 'PatreonIntegration',
  protocol: 'patreon',
  docs: 'webhooks/README.md',
  webhook: { verifier: 'patreon', secrets: { webhookSecret: ['webhookSecret'] } },
})

export const calendly = defineProvider({
  id: 'calendly',
  title: 'Calendly',
  kind: 'CalendarSync',
  protocol: 'calendly',
  docs: 'connectors/calendly/README.md',
  webhook: { verifier: 'calendly', secrets: { signingKey: ['webhookSigningKey'] } },
  sandbox: { fixture: 'calendly' },
})

export const twitch = defineProvider({
  id: 'twitch',
  title: 'Twitch EventSub',
  kind: 'TwitchIntegration',
  protocol: 'twitch',
  docs: 'webhooks/README.md',
  webhook: { verifier: 'twitch', secrets: { eventsubSecret: ['eventsubSecret'] } },
})

export const facebook = defineProvider({
  id: 'facebook',
  title: 'Facebook',
  kind: 'CalendarSync',
  protocol: 'facebook',
  docs: 'connectors/facebook/README.md',
  webhook: {
    verifier: 'facebook',
    secrets: { appSecret: ['appSecret'], verifyToken: ['verifyToken'] },
  },
  sandbox: { fixture: 'facebook' },
})

export const google = defineProvider({
  id: 'google',
  title: 'Google Calendar',
  kind: 'CalendarSync',
  protocol: 'google-calendar',
  docs: 'connectors/google-calendar/README.md',
  webhook: { verifier: 'google', secrets: { channelToken: ['channelToken'] } },
  sandbox: { fixture: 'google-calendar' },
})
