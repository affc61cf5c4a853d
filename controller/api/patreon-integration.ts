/**
 * `PatreonIntegration`: a creator campaign's tiers and members, synced to Destinations, kept
 * current by Patreon's member and pledge webhooks. The provider's Secret keys are declared once in
 * `providers/services.ts` (`patreonCredentials`).
 */
import { z } from 'zod'
import {
  commonStatusFields,
  counter,
  credentialsSecretRef,
  dateTime,
  dnsSubdomainPattern,
  httpUrl,
  interval,
  suspend,
} from './common.ts'
import { connectStatus } from './connect.ts'
import { defineKind, type Resource } from './types.ts'
import { webhookStatus } from './webhook.ts'

/** The member attributes Switchboard can read (`fields[member]`), besides `patron_status`. */
export const patreonMemberFields = [
  'full_name',
  'email',
  'last_charge_status',
  'last_charge_date',
  'currently_entitled_amount_cents',
  'lifetime_support_cents',
  'pledge_relationship_start',
  'will_pay_amount_cents',
  'is_follower',
] as const
export type PatreonMemberField = (typeof patreonMemberFields)[number]

/** What is read when `spec.memberFields` is not given: everything but the member's name. */
export const defaultPatreonMemberFields: readonly PatreonMemberField[] = [
  'email',
  'last_charge_status',
  'last_charge_date',
  'currently_entitled_amount_cents',
  'lifetime_support_cents',
  'pledge_relationship_start',
]

/** `patron_status` as Patreon writes it; a member who never pledged has none (`null`). */
export const patronStatuses = ['active_patron', 'declined_patron', 'former_patron'] as const
export type PatronStatus = (typeof patronStatuses)[number]

export const PATREON_MAX_PAGE_SIZE = 1000

export const patreonIntegrationSpec = z
  .object({
    credentialsSecretRef: credentialsSecretRef.describe(
      'The Secret with the OAuth client and the creator tokens, in the same namespace: ' +
        '`clientId`, `clientSecret`, `refreshToken`, and optionally `accessToken` with ' +
        '`accessTokenExpiresAt` (RFC 3339). Without `refreshToken` (or with a revoked one) a ' +
        "one-time connect link is published in `status.connect`, and the creator's consent " +
        'writes the tokens here. Patreon rotates the refresh token on every refresh, ' +
        'so the controller writes the new tokens back to this Secret: it must carry the label ' +
        '`switchboard.dev/controller-writable: "true"`.',
    ),
    campaignId: z
      .string()
      .regex(/^[0-9]{1,20}$/)
      .describe("The Patreon campaign to sync (its numeric id). Default: the token owner's campaign.")
      .optional(),
    endpoint: httpUrl(
      "Base URL of Patreon's API and token endpoint, overriding https://www.patreon.com: a proxy, " +
        'or the Switchboard sandbox. The OAuth client and tokens are sent to it.',
    ).optional(),
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
      .min(1)
      .max(10)
      .meta({
        description:
          'Where the members go, each as an `identify` record: Destinations in the same ' +
          'namespace. A member counts as delivered once every destination acknowledged it.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
    memberFields: z
      .array(z.enum(patreonMemberFields))
      .max(patreonMemberFields.length)
      .meta({
        description:
          'Member attributes to read and deliver as traits, besides `patron_status` (always ' +
          'read). `email` is only returned when the token has the `campaigns.members[email]` ' +
          'scope; `full_name` is personal data, left out by default. Default: email, ' +
          'last_charge_status, last_charge_date, currently_entitled_amount_cents, ' +
          'lifetime_support_cents, pledge_relationship_start.',
        'x-kubernetes-list-type': 'set',
      })
      .optional(),
    pageSize: z
      .int()
      .min(1)
      .max(PATREON_MAX_PAGE_SIZE)
      .default(500)
      .describe(
        `Members per page read from Patreon (page[count]), 1 to ${PATREON_MAX_PAGE_SIZE}. Default 500.`,
      ),
    interval: interval(
      '15m',
      'How often the members are read in full even without webhooks (webhooks ask for a sync sooner)',
    ),
    manageWebhook: z
      .boolean()
      .default(true)
      .describe(
        "When true, the controller registers the campaign's webhook at Patreon (the member and " +
          'pledge triggers, to `status.webhook.url`), keeps the signing secret Patreon returns in ' +
          'the Secret (key `webhookSecret`), and resumes the webhook when Patreon pauses it after ' +
          'failed deliveries. Needs the public URL of the webhook server. Defaults to true.',
      ),
    deletionPolicy: z
      .enum(['Delete', 'Orphan'])
      .default('Delete')
      .describe(
        'What happens to the webhook at Patreon when this resource is deleted: `Delete` removes it ' +
          '(a finalizer holds the resource until it is gone), `Orphan` leaves it. Defaults to Delete.',
      ),
    suspend,
  })
  .describe('A Patreon creator campaign whose tiers and members are synced to Destinations.')

export const patreonCampaignStatus = z
  .object({
    id: z.string().max(32).describe('The campaign id.'),
    name: z.string().max(256).describe("The campaign's name (creation_name, else vanity).").optional(),
    patronCount: counter('Patrons as Patreon counts them (patron_count).').optional(),
    url: z.string().max(2048).describe("The campaign's page at Patreon.").optional(),
  })
  .describe('The synced campaign.')

export const patreonTierStatus = z
  .object({
    id: z.string().max(32).describe('The tier id.'),
    title: z.string().max(256).describe("The tier's title.").optional(),
    amountCents: counter('Price of the tier, in cents of the campaign currency.').optional(),
    patronCount: counter('Patrons in this tier, as Patreon counts them.').optional(),
    entitledMembers: counter('Members of the last sync entitled to this tier.').optional(),
  })
  .describe('One tier of the campaign.')

export const patreonMemberCounts = z
  .object({
    total: counter('Members read by the last full sync (former and declined patrons included).'),
    activePatron: counter('Members whose patron_status is active_patron.'),
    declinedPatron: counter('Members whose patron_status is declined_patron (the last charge failed).'),
    formerPatron: counter('Members whose patron_status is former_patron (they cancelled).'),
    none: counter('Members without a patron_status (followers who never pledged).'),
  })
  .describe('Members by patron_status, as of the last full sync.')

export const patreonIntegrationStatus = z
  .object({
    ...commonStatusFields,
    campaign: patreonCampaignStatus.optional(),
    tiers: z
      .array(patreonTierStatus)
      .max(100)
      .meta({
        description: "The campaign's tiers, in Patreon's order (at most 100).",
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['id'],
      })
      .optional(),
    members: patreonMemberCounts.optional(),
    membersDelivered: counter(
      'Members delivered by the last sync: new or changed ones only (unchanged members are not sent again).',
    ).optional(),
    totalMembersDelivered: counter(
      'Member records delivered since the resource was created (or the controller started).',
    ).optional(),
    syncDurationMs: counter('How long the last full sync took, in milliseconds.').optional(),
    accessTokenExpiresAt: dateTime(
      'When the access token in use expires (the token itself is never shown). It is refreshed shortly before.',
    ).optional(),
    webhook: webhookStatus.optional(),
    connect: connectStatus.optional(),
    patreonWebhook: z
      .object({
        id: z.string().max(64).describe("The webhook's id at Patreon."),
        paused: z.boolean().describe('Whether Patreon had paused it when last looked at.'),
        consecutiveFailures: counter('Deliveries that failed in a row, as Patreon counts them.').optional(),
        lastAttemptedAt: dateTime('When Patreon last tried to deliver to it.').optional(),
        resumed: counter('How often the controller resumed it after Patreon paused it.').optional(),
      })
      .describe('The webhook the controller registered at Patreon.')
      .optional(),
  })
  .describe('The observed state of the PatreonIntegration, written by the controller.')

export const PatreonIntegrationKind = defineKind({
  kind: 'PatreonIntegration',
  plural: 'patreonintegrations',
  shortNames: ['patreon'],
  description:
    "A PatreonIntegration syncs a Patreon creator campaign's tiers and members into Destinations " +
    '(each member an `identify` with their patron status, tiers and pledge amounts), refreshes ' +
    'its OAuth tokens itself, and syncs again when Patreon sends a member or pledge webhook.',
  spec: patreonIntegrationSpec,
  status: patreonIntegrationStatus,
  printerColumns: [
    { name: 'Campaign', type: 'string', jsonPath: '.status.campaign.name', description: 'The campaign' },
    {
      name: 'Patrons',
      type: 'integer',
      jsonPath: '.status.members.activePatron',
      description: 'Active patrons at the last sync',
    },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the last sync succeeded',
    },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      description: 'Reason of the Ready condition',
    },
    {
      name: 'Last Sync',
      type: 'date',
      jsonPath: '.status.lastSyncTime',
      description: 'When a sync last completed',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
})

export type PatreonIntegrationSpec = z.output<typeof patreonIntegrationSpec>
export type PatreonIntegrationStatus = z.output<typeof patreonIntegrationStatus>
export type PatreonTierStatus = z.output<typeof patreonTierStatus>
export type PatreonMemberCounts = z.output<typeof patreonMemberCounts>
export type PatreonIntegration = Resource<PatreonIntegrationSpec, PatreonIntegrationStatus>
