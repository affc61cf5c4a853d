import { z } from 'zod'
import {
  commonStatusFields,
  counter,
  credentialsSecretRef,
  dateTime,
  dnsSubdomainPattern,
  duration,
  httpUrl,
  suspend,
  withValidations,
} from './common.ts'
import { CASINO_PROVIDERS, type CasinoProvider, providersOf, settingsOf } from './providers/index.ts'
import { defineKind, type Resource } from './types.ts'
import { webhookStatus } from './webhook.ts'

/** The casino platforms, from their provider descriptions (providers/casino.ts). */
const casinoPlatforms = providersOf('CasinoIntegration')
export const casinoProviders = CASINO_PROVIDERS as readonly [CasinoProvider, ...CasinoProvider[]]

export const casinoStreams = ['players', 'transactions', 'games'] as const
export type CasinoStreamName = (typeof casinoStreams)[number]

/** Default sync interval per stream when neither the stream nor the spec sets one. */
export const defaultStreamIntervals: Record<CasinoStreamName, string> = {
  players: '15m',
  transactions: '5m',
  games: '10m',
}

/** The spec field that holds each provider's settings (its description's `settings.field`). */
export const providerSettingsField: Readonly<Record<CasinoProvider, string>> = Object.fromEntries(
  casinoProviders.map((p) => [p, settingsOf(p).field]),
) as Record<CasinoProvider, string>

/** `spec.<field>` of each platform: the very schema its connector validates with. */
const settingsFields = Object.fromEntries(
  casinoPlatforms.map((p) => [settingsOf(p.id).field, settingsOf(p.id).schema.optional()]),
) as Record<string, z.ZodOptional<z.ZodObject>>

function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}

export const casinoStream = z
  .object({
    name: z
      .enum(casinoStreams)
      .describe('Which records to sync: players, transactions or games (game sessions).'),
    interval: duration(
      'How often this stream is synced, as a Go-style duration. Defaults to spec.interval, or when ' +
        'that is unset to 15m for players, 5m for transactions and 10m for games.',
    ).optional(),
    startFrom: dateTime(
      'Where the first sync starts: records updated at or after this time. Without it the first ' +
        'sync reads everything the platform has. Ignored once the stream has a cursor.',
    ).optional(),
    lookback: duration(
      'How far before the saved cursor each sync re-reads, to pick up records that arrived late ' +
        'with an older timestamp. Re-sent records keep their message id, so destinations drop the ' +
        'duplicates. Defaults to 0s.',
    ).default('0s'),
    pageSize: z
      .int()
      .min(1)
      .max(5000)
      .default(500)
      .describe('Records per page read from the platform and handed to the destinations. Defaults to 500.'),
  })
  .describe('One stream of records to sync.')

export const casinoIntegrationSpec = withValidations(
  z
    .object({
      provider: z.enum(casinoProviders).describe(`The casino platform: ${orList(casinoProviders)}.`),
      ...settingsFields,
      endpoint: httpUrl(
        "Base URL of the platform's API, overriding the provider's default: a proxy, a regional " +
          'endpoint or the Switchboard sandbox.',
      ).optional(),
      credentialsSecretRef,
      streams: z
        .array(casinoStream)
        .min(1)
        .max(3)
        .meta({
          description: 'The streams to sync, each at most once.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
        }),
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
            'Where the records go: Destinations in the same namespace. A page counts as synced only ' +
            'once every destination acknowledged it.',
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
        }),
      interval: duration(
        'Default sync interval of the streams that set none, as a Go-style duration (for example ' +
          '`15m`). Each run is spread by a little random jitter. Without it: 15m for players, 5m for ' +
          'transactions, 10m for games.',
      ).optional(),
      suspend,
    })
    .describe("One casino's connection to its casino platform, and where its records go."),
  casinoProviders.map((p) => {
    const field = providerSettingsField[p]
    return {
      rule: `self.provider == '${p}' ? has(self.${field}) : !has(self.${field})`,
      message: `spec.${field} must be set when provider is ${p}, and only then`,
      fieldPath: `.${field}`,
    }
  }),
)

export const streamStatus = z
  .object({
    name: z.enum(casinoStreams).describe('The stream.'),
    cursor: z
      .string()
      .max(1024)
      .describe(
        'Where the next sync continues. Committed only after every destination acknowledged the ' +
          'records before it, so a restart re-sends at most one page and loses nothing.',
      )
      .optional(),
    lastSyncTime: dateTime('When the last sync of this stream finished, successful or not.').optional(),
    lastSuccessfulSyncTime: dateTime('When a sync of this stream last completed without error.').optional(),
    recordsSynced: counter('Records delivered by the last sync.').optional(),
    recordsFailed: counter('Records the last sync could not deliver.').optional(),
    totalRecordsSynced: counter('Records delivered since the resource was created.').optional(),
    totalRecordsFailed: counter('Records that failed since the resource was created.').optional(),
    durationMs: counter('How long the last sync took, in milliseconds.').optional(),
    lastError: z
      .object({
        reason: z.string().max(1024).describe('Stable, machine-readable reason.'),
        message: z.string().max(32768).describe('What went wrong, sanitised. Never contains credentials.'),
        time: dateTime('When it happened.'),
      })
      .describe('The error of the last sync, if it failed.')
      .optional(),
  })
  .describe('The state of one stream.')

export const casinoIntegrationStatus = z
  .object({
    ...commonStatusFields,
    streams: z
      .array(streamStatus)
      .meta({
        description: 'Per-stream state: cursor, counts, timings, last error.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      })
      .optional(),
    totalRecordsSynced: counter(
      'Records delivered across all streams since the resource was created.',
    ).optional(),
    webhook: webhookStatus.optional(),
    lastHandledResyncAt: z
      .string()
      .max(256)
      .describe(
        'The value of the `switchboard.dev/resync-requested-at` annotation last handled. Setting the ' +
          'annotation to a new value clears every stream cursor: the next sync reads everything again ' +
          'from startFrom (destinations drop what they already have by message id).',
      )
      .optional(),
  })
  .describe('The observed state of the CasinoIntegration, written by the controller.')

export const CasinoIntegrationKind = defineKind({
  kind: 'CasinoIntegration',
  plural: 'casinointegrations',
  shortNames: ['casino', 'casinos'],
  description:
    `A CasinoIntegration connects one casino to its casino platform (${orList(casinoPlatforms.map((p) => p.title))}) ` +
    "and syncs the platform's players, transactions and game sessions into " +
    'Destinations, incrementally and without loss.',
  spec: casinoIntegrationSpec,
  status: casinoIntegrationStatus,
  printerColumns: [
    { name: 'Provider', type: 'string', jsonPath: '.spec.provider', description: 'The casino platform' },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether every stream synced',
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
    {
      name: 'Records',
      type: 'integer',
      jsonPath: '.status.totalRecordsSynced',
      description: 'Records delivered since creation',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
})

export type CasinoIntegrationSpec = z.output<typeof casinoIntegrationSpec>
export type CasinoIntegrationStatus = z.output<typeof casinoIntegrationStatus>
export type CasinoStreamStatus = z.output<typeof streamStatus>
export type CasinoIntegration = Resource<CasinoIntegrationSpec, CasinoIntegrationStatus>
