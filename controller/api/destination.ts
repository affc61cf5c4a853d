import { z } from 'zod'
import {
  commonStatusFields,
  counter,
  credentialsSecretRef,
  dateTime,
  duration,
  exactlyOneOf,
  headerNamePattern,
  httpUrl,
  interval,
  suspend,
} from './common.ts'
import { defineKind, type Resource } from './types.ts'

/** Secret key holding the Segment write key. */
export const segmentWriteKeyKey = 'writeKey'
/** Secret key holding the HMAC-SHA256 signing secret of an HTTP destination. */
export const httpSigningSecretKey = 'signingSecret'

/** Secret keys of a Postgres destination: a connection URL, or its parts. */
export const postgresUrlKey = 'url'
export const postgresSecretKeys = {
  url: postgresUrlKey,
  host: 'host',
  port: 'port',
  database: 'database',
  user: 'user',
  password: 'password',
  /** PEM bundle of the certificate authorities the server's certificate must chain to. */
  ca: 'ca.crt',
} as const

export const destinationTypes = ['segment', 'http', 'postgres'] as const
export type DestinationType = (typeof destinationTypes)[number]

export const exactlyOneDestinationMessage =
  'exactly one of spec.segment, spec.http or spec.postgres must be set'

const maxRetries = z
  .int()
  .min(0)
  .max(20)
  .default(3)
  .describe(
    'How many times a failed batch is retried, with exponential backoff, before it counts as failed. Defaults to 3.',
  )

const timeout = duration(
  'How long one delivery request may take before it is abandoned and retried, as a Go-style ' +
    'duration (for example `10s`). Defaults to `10s`.',
).default('10s')

export const segmentDestination = z
  .object({
    host: httpUrl(
      'Base URL of the Segment API. Change it for a regional endpoint (for example ' +
        '`https://events.eu1.segmentapis.com`), a proxy, or the Switchboard sandbox. ' +
        'Defaults to `https://api.segment.io`.',
    ).default('https://api.segment.io'),
    path: z
      .string()
      .regex(/^\//)
      .max(1024)
      .default('/v1/batch')
      .describe('Path of the batch endpoint under host. Defaults to `/v1/batch`.'),
    maxRetries,
    timeout,
  })
  .describe(
    `Deliver records to Segment as track calls through the official Segment SDK. The write key is ` +
      `read from the \`${segmentWriteKeyKey}\` key of the credentials Secret.`,
  )

export const httpDestination = z
  .object({
    url: httpUrl('The http:// or https:// URL that batches of records are POSTed to, as JSON.'),
    signatureHeader: z
      .string()
      .regex(headerNamePattern)
      .max(128)
      .default('X-Switchboard-Signature')
      .describe(
        'Name of the request header that carries the HMAC-SHA256 signature of the request body ' +
          '(`sha256=<hex>`). Defaults to `X-Switchboard-Signature`.',
      ),
    batchSize: z
      .int()
      .min(1)
      .max(2500)
      .default(100)
      .describe('Largest number of records sent in one request. Defaults to 100.'),
    maxRetries,
    timeout,
  })
  .describe(
    `POST batches of records as JSON to an HTTP endpoint, each request signed with HMAC-SHA256. ` +
      `The signing secret is read from the \`${httpSigningSecretKey}\` key of the credentials Secret.`,
  )

/** A PostgreSQL identifier Switchboard creates: lower case, digits and underscores, at most 63 bytes. */
const sqlIdentifier = (description: string) =>
  z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .max(63)
    .describe(description)

export const postgresSslModes = ['disable', 'require', 'verify-ca', 'verify-full'] as const

export const postgresDestination = z
  .object({
    schema: sqlIdentifier(
      'Schema the tables (and the cursor table `switchboard_cursors`) live in; created when missing. ' +
        'Defaults to `switchboard`.',
    ).default('switchboard'),
    tables: z
      .object({
        players: sqlIdentifier('Table of the players stream. Defaults to `players`.').default('players'),
        transactions: sqlIdentifier('Table of the transactions stream. Defaults to `transactions`.').default(
          'transactions',
        ),
        games: sqlIdentifier(
          'Table of the games stream (game sessions). Defaults to `game_sessions`.',
        ).default('game_sessions'),
      })
      .prefault({})
      .describe(
        'Table name per stream. Tables are created with typed columns for the known fields, a jsonb ' +
          'column `extra` for the rest, and the primary key (casino, id). An existing table is used ' +
          'when its columns match; one that does not is reported and never dropped or altered.',
      ),
    sslMode: z
      .enum(postgresSslModes)
      .default('verify-full')
      .describe(
        'TLS to the server, as libpq names it: `disable` (plain TCP), `require` (encrypted, the ' +
          'certificate not checked), `verify-ca` (signed by a trusted CA), `verify-full` (and issued ' +
          `for the host). The CA bundle is the \`${postgresSecretKeys.ca}\` key of the Secret when ` +
          'present, else the system roots. Defaults to `verify-full`.',
      ),
    maxConnections: z
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe('Largest number of pooled connections to the database. Defaults to 4.'),
    timeout: duration(
      'How long connecting, or writing one page in its transaction, may take before it is abandoned ' +
        'and retried, as a Go-style duration. Defaults to `30s`.',
    ).default('30s'),
  })
  .describe(
    'Write records into PostgreSQL tables, upserted by their natural key, each page and the ' +
      "stream's cursor in one transaction: exactly once. The connection comes from the credentials " +
      `Secret: a \`${postgresUrlKey}\` (postgres://user:password@host:port/database), or the keys ` +
      `\`host\`, \`port\` (default 5432), \`database\`, \`user\` and \`password\`.`,
  )

export const destinationSpec = exactlyOneOf(
  z
    .object({
      credentialsSecretRef,
      suspend,
      interval: interval('10m', 'How often the settings and credentials are checked again'),
      segment: segmentDestination.optional(),
      http: httpDestination.optional(),
      postgres: postgresDestination.optional(),
    })
    .describe(
      'Where records are delivered. Set exactly one of segment, http or postgres. Integrations refer to a ' +
        'Destination by name, in the same namespace.',
    ),
  ['segment', 'http', 'postgres'],
  exactlyOneDestinationMessage,
)

export const deliveryError = z
  .object({
    reason: z.string().max(1024).describe('Stable, machine-readable reason of the error.'),
    message: z
      .string()
      .max(32768)
      .describe('What went wrong, with any provider text sanitised. Never contains credentials.'),
    time: dateTime('When the error happened.'),
  })
  .describe('The last delivery error, kept until the next successful delivery.')

export const deliveryStatus = z
  .object({
    recordsDelivered: counter('Records acknowledged by the destination.').optional(),
    recordsFailed: counter('Records that could not be delivered after all retries.').optional(),
    batchesDelivered: counter('Batches acknowledged by the destination.').optional(),
    lastDeliveryTime: dateTime('When a batch was last acknowledged by the destination.').optional(),
    lastError: deliveryError.optional(),
  })
  .describe('Delivery counters and the last error.')

export const destinationStatus = z
  .object({
    ...commonStatusFields,
    type: z
      .enum(destinationTypes)
      .describe('Which kind of destination this is: segment, http or postgres.')
      .optional(),
    delivery: deliveryStatus.optional(),
  })
  .describe('The observed state of the Destination, written by the controller.')

/** The Destination kind: where synced records are delivered. */
export const DestinationKind = defineKind({
  kind: 'Destination',
  plural: 'destinations',
  shortNames: ['dest', 'sbdest'],
  description:
    'A Destination is where Switchboard delivers synced records: Segment, or any HTTP endpoint ' +
    'that accepts signed JSON batches. Other integrations refer to it by name.',
  spec: destinationSpec,
  status: destinationStatus,
  printerColumns: [
    { name: 'Type', type: 'string', jsonPath: '.status.type', description: 'segment, http or postgres' },
    {
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: 'Whether the destination is ready to receive records',
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
      description: 'When the destination last acknowledged a batch of records',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
})

/** The spec as the controller sees it after parsing (defaults applied). */
export type DestinationSpec = z.output<typeof destinationSpec>
export type DestinationStatus = z.output<typeof destinationStatus>
export type Destination = Resource<DestinationSpec, DestinationStatus>
export type SegmentDestination = z.output<typeof segmentDestination>
export type HttpDestination = z.output<typeof httpDestination>
export type PostgresDestination = z.output<typeof postgresDestination>
