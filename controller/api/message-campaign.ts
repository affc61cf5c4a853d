import { z } from 'zod'
import {
  commonStatusFields,
  counter,
  credentialsSecretRef,
  dateTime,
  dnsSubdomainPattern,
  exactlyOneOf,
  httpUrl,
  suspend,
  withValidations,
} from './common.ts'
import { defineKind, type Resource } from './types.ts'
import { webhookStatus } from './webhook.ts'

/** An E.164 number: `+`, a country code and up to 15 digits in all. */
export const e164Pattern = /^\+[1-9][0-9]{6,14}$/
/** A WhatsApp address as Twilio writes it. */
export const whatsappPattern = /^whatsapp:\+[1-9][0-9]{6,14}$/
/** A `{{variable}}` placeholder of a template. */
export const placeholderPattern = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

/** Recipients in all the Secrets of one campaign, at most. */
export const MAX_RECIPIENTS = 100_000

export const campaignChannels = ['sms', 'whatsapp'] as const
export const campaignPhases = ['Scheduled', 'Sending', 'Paused', 'Completed'] as const

/** Why a recipient was skipped: the keys of `status.totals.skippedByReason`. */
export const skipReasons = [
  'malformedNumber',
  'invalidNumber',
  'optedOut',
  'outsideSessionWindow',
  'missingVariable',
  'rejected',
] as const
export type SkipReason = (typeof skipReasons)[number]

const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const
const clockTime = (description: string) =>
  z
    .string()
    .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/)
    .describe(description)

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/

export const campaignTemplate = exactlyOneOf(
  z
    .object({
      body: z
        .string()
        .min(1)
        .max(1600)
        .describe(
          "The message text, with `{{variable}}` placeholders filled from each recipient's " +
            'variables (`{{phone}}` is not offered). A recipient missing a variable is skipped with ' +
            'reason missingVariable, never sent with the placeholder left in. At most 1600 characters.',
        )
        .optional(),
      contentSid: z
        .string()
        .regex(/^HX[0-9a-f]{32}$/)
        .describe(
          'An approved Twilio Content template (HX...), for WhatsApp messages outside the 24-hour ' +
            'customer service window, where a freeform body fails with error 63016.',
        )
        .optional(),
      contentVariables: z
        .record(z.string().regex(/^[0-9A-Za-z_]{1,32}$/), z.string().max(1024))
        .meta({
          description:
            'The Content template\'s variables (`"1": "{{name}}"`): each value may use the ' +
            "recipient's `{{variable}}` placeholders. Sent as ContentVariables.",
          maxProperties: 50,
        })
        .optional(),
      mediaUrls: z
        .array(httpUrl('A public URL of an image, audio, video or PDF file sent with the message.'))
        .max(10)
        .describe('Media sent with each message (MediaUrl), at most 10.')
        .optional(),
    })
    .describe('What each recipient receives: a body with placeholders, or a Content template.'),
  ['body', 'contentSid'],
  'exactly one of template.body and template.contentSid must be set',
)

export const recipientSource = z
  .object({
    secretRef: z
      .object({
        name: z
          .string()
          .min(1)
          .max(253)
          .regex(dnsSubdomainPattern)
          .describe('Name of a Secret in the same namespace as the campaign.'),
      })
      .describe('The Secret holding the list (phone numbers are personal data: they live in Secrets).'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/)
      .describe('The Secret key holding the list.'),
    format: z
      .enum(['csv', 'jsonl'])
      .default('csv')
      .describe(
        'csv: a header line naming the columns (one of them `phone`), then one recipient per line; ' +
          'jsonl: one JSON object per line with a `phone` field and the variables as string fields. ' +
          'Defaults to csv.',
      ),
  })
  .describe('One list of recipients: a key of a Secret.')

export const sendingWindow = z
  .object({
    timeZone: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_+\-/]+$/)
      .describe('IANA time zone the window is in, for example `Africa/Johannesburg`.'),
    start: clockTime('Messages may be sent from this local time (HH:MM, 24-hour clock).'),
    end: clockTime(
      'Until this local time (HH:MM, exclusive). An end before the start spans midnight (22:00 to 06:00).',
    ),
    days: z
      .array(z.enum(weekdays))
      .min(1)
      .max(7)
      .describe('Local days on which messages may be sent (Mon..Sun). Defaults to every day.')
      .optional(),
  })
  .describe('When messages may go out (quiet hours are outside it). Without it: at any time.')

export const messageCampaignSpec = withValidations(
  z
    .object({
      channel: z
        .enum(campaignChannels)
        .describe('sms, or whatsapp (recipients are then messaged at whatsapp:+E164).'),
      from: z
        .string()
        .max(64)
        .regex(/^(whatsapp:)?\+[1-9][0-9]{6,14}$/)
        .describe(
          'The sender: an E.164 number (`+15017122661`), or for WhatsApp `whatsapp:+E164`. Either ' +
            'this or messagingServiceSid.',
        )
        .optional(),
      messagingServiceSid: z
        .string()
        .regex(/^MG[0-9a-f]{32}$/)
        .describe('A Twilio Messaging Service (MG...) that picks the sender. Either this or from.')
        .optional(),
      credentialsSecretRef: credentialsSecretRef.describe(
        'The Secret with the Twilio credentials, in the same namespace: `accountSid` and ' +
          '`authToken`, or `accountSid`, `apiKeySid` and `apiKeySecret` (with `authToken` as well ' +
          'for status callbacks to be verified).',
      ),
      endpoint: httpUrl(
        "Base URL of Twilio's API, overriding https://api.twilio.com: a proxy, or the Switchboard sandbox.",
      ).optional(),
      template: campaignTemplate,
      recipients: z
        .array(recipientSource)
        .min(1)
        .max(20)
        .describe(
          `Where the recipients are: keys of Secrets, ${MAX_RECIPIENTS.toLocaleString('en')} ` +
            'recipients in total at most. A number listed twice is messaged once. Lists may change ' +
            'while the campaign runs: an added number is messaged once, a removed one not yet ' +
            'messaged is not.',
        ),
      startAt: dateTime('No message goes out before this time. Defaults to as soon as possible.').optional(),
      window: sendingWindow.optional(),
      rate: z
        .number()
        .min(0.01)
        .max(1000)
        .default(1)
        .describe("Messages per second at most. Defaults to 1 (a long-code number's limit)."),
      suspend: suspend.describe(
        'When true, no further messages are sent (phase Paused); setting it back to false continues ' +
          'where the campaign stopped. Defaults to false.',
      ),
      destinationRefs: z
        .array(
          z
            .object({
              name: z
                .string()
                .min(1)
                .max(253)
                .regex(dnsSubdomainPattern)
                .describe('Name of a Destination in the same namespace.'),
            })
            .describe('A Destination in the same namespace.'),
        )
        .max(10)
        .meta({
          description:
            "Where each recipient's outcome goes as a track event (Message Sent, Delivered, " +
            'Undelivered, Failed, Read, Skipped), with a stable message id per recipient and outcome ' +
            'so a re-sent event is recognisable. The recipient is identified by the `userId` column ' +
            'of its list when there is one, else by its recipient id (a keyed hash of the number); ' +
            'the number itself is never sent. Progress is committed only once every Destination ' +
            'acknowledged the outcomes it records.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
        })
        .optional(),
    })
    .refine((s) => (s.from === undefined) !== (s.messagingServiceSid === undefined), {
      message: 'exactly one of from and messagingServiceSid must be set',
    })
    .describe('A message sent once to each recipient of lists held in Secrets.'),
  [
    {
      rule: '[has(self.from), has(self.messagingServiceSid)].filter(x, x).size() == 1',
      message: 'exactly one of from and messagingServiceSid must be set',
    },
    {
      rule: "!has(self.from) || (self.channel == 'whatsapp') == self.from.startsWith('whatsapp:')",
      message: 'from must be whatsapp:+E164 for channel whatsapp, and a plain +E164 number for sms',
      fieldPath: '.from',
    },
    {
      rule: "!has(self.template.contentSid) || self.channel == 'whatsapp'",
      message: 'template.contentSid is for channel whatsapp',
      fieldPath: '.template.contentSid',
    },
  ],
)

const reasonCounters = Object.fromEntries(
  skipReasons.map((r) => [r, counter(`Recipients skipped with reason ${r}.`).optional()]),
) as Record<SkipReason, z.ZodOptional<ReturnType<typeof counter>>>

export const campaignTotals = z
  .object({
    recipients: counter('Distinct valid-looking recipients in the lists now (skipped ones included).'),
    pending: counter('Recipients not messaged yet.'),
    sent: counter('Messages Twilio accepted (each recipient at most once).'),
    delivered: counter('Messages whose latest status is delivered.'),
    undelivered: counter('Messages whose latest status is undelivered.'),
    failed: counter('Messages whose latest status is failed.'),
    read: counter('WhatsApp messages whose latest status is read.'),
    skipped: counter('Recipients skipped, every reason together.'),
    skippedByReason: z
      .object(reasonCounters)
      .describe(
        'Skipped recipients by reason: malformedNumber (not E.164, named by its line in the ' +
          'condition), invalidNumber (Twilio 21211), optedOut (21610, never retried), ' +
          'outsideSessionWindow (63016), missingVariable, rejected (another permanent Twilio error).',
      ),
  })
  .describe('Counts over the whole campaign.')

export const campaignFailure = z
  .object({
    recipient: z.string().max(64).describe('The number, masked (`+2782*****67`).'),
    reason: z.string().max(64).describe('Why: a skip reason, or a delivery status (failed, undelivered).'),
    code: z.int().min(0).max(999_999).describe('Twilio error code, when there is one.').optional(),
    time: dateTime('When it happened.'),
  })
  .describe('One recent failure.')

export const deliveryCallback = z
  .object({
    type: z.string().max(64).describe('Callback type (message-status).'),
    occurredAt: z.string().max(64).describe('When the webhook server received it.'),
    status: z.string().max(32).describe('MessageStatus as Twilio sent it.'),
    errorCode: z.int().min(0).max(999_999).nullable().describe('ErrorCode, if any.').optional(),
  })
  .describe('One status callback, by message SID.')

export const messageCampaignStatus = z
  .object({
    ...commonStatusFields,
    phase: z.enum(campaignPhases).describe('Scheduled, Sending, Paused or Completed.').optional(),
    totals: campaignTotals.optional(),
    progress: z
      .string()
      .max(32)
      .describe('Recipients done (sent or skipped) of all, as `done/total`.')
      .optional(),
    nextSendTime: dateTime('When the next messages may go out (the start time or the window).').optional(),
    recentFailures: z
      .array(campaignFailure)
      .max(10)
      .describe('The last few failures, newest first, numbers masked.')
      .optional(),
    progressRecords: counter(
      'How many Secrets named `<campaign>-progress-<n>` hold the per-recipient progress.',
    ).optional(),
    deliveryInbox: z
      .record(z.string().regex(/^[A-Za-z0-9]{2,64}$/), deliveryCallback)
      .meta({
        description:
          'Status callbacks written by the webhook server, by message SID, and drained by the ' +
          'controller into the progress records (so this stays short).',
        maxProperties: 5000,
      })
      .optional(),
    webhook: webhookStatus.optional(),
  })
  .describe('The observed state of the MessageCampaign, written by the controller.')

export const MessageCampaignKind = defineKind({
  kind: 'MessageCampaign',
  plural: 'messagecampaigns',
  shortNames: ['campaign', 'campaigns'],
  description:
    'A MessageCampaign sends a Twilio SMS or WhatsApp message once to each recipient of lists held ' +
    'in Secrets, within a sending window and at a rate, and tracks each delivery.',
  spec: messageCampaignSpec,
  status: messageCampaignStatus,
  printerColumns: [
    { name: 'Channel', type: 'string', jsonPath: '.spec.channel', description: 'sms or whatsapp' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Where the campaign is' },
    { name: 'Progress', type: 'string', jsonPath: '.status.progress', description: 'Done of all' },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the campaign is healthy',
    },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      description: 'Reason of the Ready condition',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
})

export type MessageCampaignSpec = z.output<typeof messageCampaignSpec>
export type MessageCampaignStatus = z.output<typeof messageCampaignStatus>
export type MessageCampaign = Resource<MessageCampaignSpec, MessageCampaignStatus>
export type CampaignTotals = z.output<typeof campaignTotals>
export type CampaignFailure = z.output<typeof campaignFailure>
export { variableName as campaignVariablePattern }
