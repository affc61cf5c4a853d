/**
 * The one registry of Switchboard reasons and errors. Every reason that reaches a condition, an
 * event, a log line or a metric label is a stable UpperCamelCase string from `Reason` (users'
 * alerts, docs and health checks read them); every failure is one of the error classes below.
 * Messages must never contain credential values: callers pass key *names*, field paths and
 * sanitised provider text only.
 */

export const Reason = {
  // configuration (stalling: needs a user fix)
  InvalidSpec: 'InvalidSpec',
  SecretNotFound: 'SecretNotFound',
  SecretKeyMissing: 'SecretKeyMissing',
  InvalidCredentials: 'InvalidCredentials',
  DestinationNotFound: 'DestinationNotFound',
  /** A calendar named in the spec does not exist, or is not shared with the account. */
  CalendarNotFound: 'CalendarNotFound',
  /** A saved stream cursor that cannot be read (corrupt, or from another provider or stream). */
  InvalidCursor: 'InvalidCursor',
  /** A Secret the controller must write lacks the opt-in label `switchboard.dev/controller-writable`. */
  SecretNotWritable: 'SecretNotWritable',
  /** A base URL that may not receive the provider's credentials (connectors/endpoints.ts). */
  EndpointNotAllowed: 'EndpointNotAllowed',
  /** The provider refused the refresh token (`invalid_grant`): the grant must be made again. */
  TokenRevoked: 'TokenRevoked',
  /** No grant yet (or a revoked one): a user must open the connect link in `status.connect`. */
  AuthorizationNeeded: 'AuthorizationNeeded',
  // provider / destination outcomes
  Unauthorized: 'Unauthorized',
  RateLimited: 'RateLimited',
  ProviderUnavailable: 'ProviderUnavailable',
  ProviderRejected: 'ProviderRejected',
  MalformedResponse: 'MalformedResponse',
  Timeout: 'Timeout',
  DestinationRejected: 'DestinationRejected',
  DestinationUnavailable: 'DestinationUnavailable',
  /** The provider account is suspended or closed. */
  AccountInactive: 'AccountInactive',
  /** Some lines of a recipient list cannot be read (each named by its line). */
  RecipientsMalformed: 'RecipientsMalformed',
  /** More recipients than a campaign takes. */
  TooManyRecipients: 'TooManyRecipients',
  // runtime
  Internal: 'Internal',

  // outcomes that are not errors: condition reasons
  /** A step, or a whole reconcile, did what it was asked. */
  Succeeded: 'Succeeded',
  /** A sync that is not a routine increment (new spec, first sync, full resync) is running. */
  Progressing: 'Progressing',
  /** The last reconcile failed for a passing reason; it is retried with backoff. */
  ProgressingWithRetry: 'ProgressingWithRetry',
  /** The source calendar was read. */
  Read: 'Read',
  /** The targets are in step with the source. */
  Synced: 'Synced',
  /** No target calendars are configured. */
  NoTargets: 'NoTargets',
  /** managementPolicy Observe: the targets match the source. */
  InStep: 'InStep',
  /** managementPolicy Observe: the targets differ from the source, and nothing was written. */
  DriftObserved: 'DriftObserved',
  /** managementPolicy Observe: the source and the targets were compared. */
  Observed: 'Observed',
  /** managementPolicy Observe: nothing is posted. */
  ObserveOnly: 'ObserveOnly',
  /** Posts were made (a condition reason, and the event of one post). */
  Announced: 'Announced',
  /** Webhooks are received at the published path. */
  Published: 'Published',
  /** A Google push channel is open. */
  ChannelOpen: 'ChannelOpen',
  /** No public URL is configured for the webhook server: no push channel. */
  NoPublicUrl: 'NoPublicUrl',
  /** A campaign waits for its start time or its sending window. */
  Scheduled: 'Scheduled',
  /** A campaign is sending. */
  Sending: 'Sending',
  /** Every recipient of a campaign was messaged or skipped. */
  Completed: 'Completed',
  /** A campaign still has recipients to message. */
  NotCompleted: 'NotCompleted',
  /** The Secret has no key to verify webhooks with; syncs run on their interval only. */
  WebhookSecretMissing: 'WebhookSecretMissing',
  /** Every channel of a TwitchIntegration is known to Twitch. */
  Resolved: 'Resolved',
  /** A channel login that Twitch does not know (a configuration error of that channel only). */
  ChannelNotFound: 'ChannelNotFound',
  /** Every EventSub subscription is enabled. */
  SubscriptionsEnabled: 'SubscriptionsEnabled',
  /** EventSub subscriptions wait for their callback verification. */
  SubscriptionsPending: 'SubscriptionsPending',
  /** An EventSub subscription was revoked in a way that needs the broadcaster or the user. */
  SubscriptionRevoked: 'SubscriptionRevoked',
  /** An EventSub subscription could not be created (Twitch refused it). */
  SubscriptionFailed: 'SubscriptionFailed',

  // outcomes that are not errors: event reasons
  SyncTokenExpired: 'SyncTokenExpired',
  DriftDetected: 'DriftDetected',
  AnnouncementFailed: 'AnnouncementFailed',
  ChannelOpened: 'ChannelOpened',
  CleanedUp: 'CleanedUp',
  CleanupIncomplete: 'CleanupIncomplete',
  WebhookRejected: 'WebhookRejected',
  /** An EventSub subscription was made again after Twitch revoked it for failed deliveries. */
  SubscriptionRecreated: 'SubscriptionRecreated',
  /** A webhook the provider had paused after failed deliveries was resumed. */
  WebhookResumed: 'WebhookResumed',
} as const
export type Reason = (typeof Reason)[keyof typeof Reason]

export type ErrorKind = 'stalling' | 'waiting' | 'transient'

export interface SwitchboardErrorOptions {
  cause?: unknown
  /** Field path or Secret key the error is about (never a value). */
  field?: string
}

/** Base class: carries a stable reason and how the controller should react. */
export class SwitchboardError extends Error {
  readonly reason: Reason
  readonly kind: ErrorKind
  readonly field: string | undefined
  /** For `waiting` errors: how long to wait before trying again. */
  readonly retryAfterMs: number | undefined

  constructor(
    reason: Reason,
    kind: ErrorKind,
    message: string,
    opts: SwitchboardErrorOptions & { retryAfterMs?: number } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = new.target.name
    this.reason = reason
    this.kind = kind
    this.field = opts.field
    this.retryAfterMs = opts.retryAfterMs
  }

  get retryable(): boolean {
    return this.kind !== 'stalling'
  }
}

/** Needs a user fix: no retry until the resource's generation or a referenced Secret changes. */
export class StallingError extends SwitchboardError {
  constructor(reason: Reason, message: string, opts: SwitchboardErrorOptions = {}) {
    super(reason, 'stalling', message, opts)
  }
}

/** Retry after a known delay (a provider's Retry-After, a dependency not ready yet). */
export class WaitingError extends SwitchboardError {
  constructor(reason: Reason, message: string, retryAfterMs: number, opts: SwitchboardErrorOptions = {}) {
    super(reason, 'waiting', message, { ...opts, retryAfterMs })
  }
}

/** Retry with capped exponential backoff. */
export class TransientError extends SwitchboardError {
  constructor(reason: Reason, message: string, opts: SwitchboardErrorOptions = {}) {
    super(reason, 'transient', message, opts)
  }
}

/** Wraps anything thrown into a SwitchboardError (unknown errors are transient `Internal`). */
export function toSwitchboardError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new TransientError(Reason.Internal, sanitizeMessage(message), { cause: err })
}

const MAX_MESSAGE = 512

/**
 * Makes provider or library error text safe for a condition message: strips anything that looks
 * like a credential (bearer tokens, basic auth, key=value secrets, URL userinfo, long opaque
 * tokens), collapses whitespace and bounds the length. `secrets` are exact values to remove
 * as well (the values of the Secret the resource uses).
 */
export function sanitizeMessage(text: string, secrets: Iterable<string> = []): string {
  let out = text
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[REDACTED]')
  }
  out = out
    .replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]')
    .replace(/(\/\/)[^/@\s:]+:[^/@\s]+@/g, '$1[REDACTED]@')
    .replace(
      /\b(access_token|refresh_token|token|api[_-]?key|apikey|secret|password|passwd|write[_-]?key|auth[_-]?token|client[_-]?secret|signature)(["']?\s*[=:]\s*["']?)[^\s"'&,}]+/gi,
      '$1$2[REDACTED]',
    )
    .replace(/\b[A-Za-z0-9_-]{40,}\b/g, '[REDACTED]')
    .replace(/\s+/g, ' ')
    .trim()
  if (out.length > MAX_MESSAGE) out = `${out.slice(0, MAX_MESSAGE - 1)}…`
  return out
}
