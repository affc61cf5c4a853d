/**
 * A CalendarSync's parts whose Secret holds an OAuth client instead of a personal access token
 * get their user token from the shared token lifecycle (Calendly: `OAuthTokens`, cached,
 * refreshed shortly before expiry, rotated tokens written back) or from the official SDK's
 * OAuth2 client with the Secret's refresh token (Google, which does not rotate it); while a part
 * has no grant, or its grant was revoked, a one-time connect link in `status.connect`
 * (controller/runtime/connect-links.ts, docs/connect.md).
 *
 * One link at a time: a CalendarSync has one connect link, for the first part (in the order the
 * steps run: the source, the targets, freeBusy) that needs authorization. `status.connect` names
 * the part and its Secret, and so does the condition of the step; once that part is connected,
 * the next reconcile publishes a link for the next one, if any.
 */
import type { CoreV1Api } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import {
  type BudgetRegistry,
  type CalendlyClient,
  type CalendlyOAuthClient,
  createCalendlyClient,
  Reason,
  type RetryPolicy,
  refreshGrant,
  StallingError,
  type SwitchboardError,
  toSwitchboardError,
  WaitingError,
} from '../../connectors/index.ts'
import {
  CalendarSyncKind,
  type CalendarSyncSpec,
  type CalendarSyncStatus,
  calendlyProvider,
} from '../api/index.ts'
import {
  type BaseContext,
  type ConnectLinks,
  type ConnectRequest,
  isWritable,
  keyOf,
  type OAuthCredential,
  type OAuthTokens,
} from '../runtime/index.ts'

type Ctx = BaseContext<CalendarSyncSpec, CalendarSyncStatus>

/** What the clients of a part need (the calendar clients' settings carry it). */
interface ClientSettings {
  logger: Logger
  registry: Registry
  http?: { timeoutMs?: number; retry?: RetryPolicy } | undefined
  budgets?: BudgetRegistry | undefined
}

export interface CalendarOAuthSettings {
  core?: CoreV1Api | undefined
  /** The process's token lifecycle (shared with the other kinds). */
  tokens?: OAuthTokens | undefined
  /** The process's connect links; without them a part without a grant stalls. */
  connect?: ConnectLinks | undefined
}

/** What a part that needs a user's grant asks of the connect links. */
export interface AuthorizationRequest
  extends Pick<
    ConnectRequest,
    'secretName' | 'clientId' | 'authorizeUrl' | 'tokenUrl' | 'scopes' | 'pkce' | 'clientAuth' | 'expect'
  > {
  provider: 'calendly' | 'google'
  /** The spec part, e.g. `spec.source.calendly`. */
  part: string
  /** Why: no grant yet, or the provider refused the grant. */
  revoked: boolean
}

/** Whether an error means the Secret holds no live grant (none yet, or revoked). */
export function noGrant(e: SwitchboardError): boolean {
  return (
    e.reason === Reason.TokenRevoked || (e.reason === Reason.SecretKeyMissing && e.field === 'refreshToken')
  )
}

/**
 * Registers the providers whose links a CalendarSync publishes. For Calendly, a source naming an
 * organization takes only a grant of a user of that organization (`wrong_account` otherwise).
 * Only one kind may register a provider: Google and Calendly links are the CalendarSync's.
 */
export function registerCalendarConnect(settings: ClientSettings & CalendarOAuthSettings): void {
  // Google: the PKCE verifier binds the code to its link; the grant names no account to check
  settings.connect?.register('google', { kind: CalendarSyncKind })
  settings.connect?.register('calendly', {
    kind: CalendarSyncKind,
    verify: async ({ accessToken, expect, signal }) => {
      if (!expect.organization || !expect.apiUrl) return undefined
      const client = createCalendlyClient({
        accessToken: async () => accessToken,
        account: 'connect',
        baseUrl: expect.apiUrl,
        logger: settings.logger,
        metrics: settings.registry,
        ...(settings.http?.timeoutMs !== undefined ? { timeoutMs: settings.http.timeoutMs } : {}),
      })
      const me = await client.me(signal ? { signal } : {})
      return me.current_organization === expect.organization
        ? undefined
        : 'the Calendly user authorized belongs to another organization than spec.source.calendly.organization'
    },
  })
}

/**
 * The Calendly client of a part whose Secret holds an OAuth client: the access token from the
 * token lifecycle (a first one fetched here, so that a missing or revoked grant shows before any
 * request), refreshed when Calendly answers 401.
 */
export async function calendlyOAuthClient(
  ctx: Ctx,
  settings: ClientSettings & CalendarOAuthSettings,
  args: { secretName: string; oauth: CalendlyOAuthClient; apiUrl?: string | undefined; authUrl: string },
): Promise<CalendlyClient> {
  const { tokens } = settings
  if (!tokens) throw new StallingError(Reason.Internal, 'Calendly OAuth without a token lifecycle')
  const { namespace } = ctx.obj.metadata
  const { secretName, oauth } = args
  ctx.addSecretValue(oauth.clientSecret)
  const log = settings.logger.child({ calendarSync: keyOf(ctx.obj), provider: 'calendly' })
  const credential: OAuthCredential = {
    namespace,
    secretName,
    refresh: (refreshToken, signal) =>
      refreshGrant({
        provider: 'calendly',
        tokenUrl: `${args.authUrl}${calendlyProvider.oauth.tokenPath}`,
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
        refreshToken,
        clientAuth: calendlyProvider.oauth.clientAuth,
        logger: log,
        metrics: settings.registry,
        ...(settings.http?.timeoutMs !== undefined ? { timeoutMs: settings.http.timeoutMs } : {}),
        ...(signal ? { signal } : {}),
      }),
  }
  const secret = ctx.secret(secretName)
  const first = await tokens.get(credential, secret, ctx.signal)
  ctx.addSecretValue(first.token)
  const version = secret.metadata?.resourceVersion ?? ''
  return ctx.memo('calendly-oauth', [secretName, version, args.apiUrl, args.authUrl], () =>
    createCalendlyClient({
      accessToken: async () => (await tokens.get(credential, undefined)).token,
      onUnauthorized: (token) => tokens.reject(credential, token),
      account: `${namespace}/${secretName}`,
      logger: log,
      metrics: settings.registry,
      ...(args.apiUrl ? { baseUrl: args.apiUrl } : {}),
      ...(settings.http?.timeoutMs !== undefined ? { timeoutMs: settings.http.timeoutMs } : {}),
      ...(settings.http?.retry ? { retry: settings.http.retry } : {}),
      ...(settings.budgets ? { budgets: settings.budgets } : {}),
    }),
  )
}

/**
 * Publishes the connect link for a part without a (live) grant, unless an earlier part of this
 * reconcile published one already; the error to end the part with (`AuthorizationNeeded`,
 * waiting until the link expires), or `SecretNotWritable` naming the label to add.
 */
export async function authorizationNeeded(
  ctx: Ctx,
  settings: CalendarOAuthSettings,
  req: AuthorizationRequest,
): Promise<SwitchboardError> {
  const { namespace, name, uid } = ctx.obj.metadata
  const what = `${req.part} (Secret "${req.secretName}")`
  const title = req.provider === 'google' ? 'Google' : 'Calendly'
  const cause = req.revoked ? `lost its grant: ${title} refused it (revoked)` : 'holds no grant yet'
  if (!settings.connect?.enabled || !settings.core) {
    return new StallingError(
      req.revoked ? Reason.TokenRevoked : Reason.SecretKeyMissing,
      `${what} ${cause}; put a refreshToken in the Secret, or give the controller the webhook server's public URL to publish a connect link`,
      { field: 'refreshToken' },
    )
  }
  const published = ctx.status.connect
  if (published && (published.part !== req.part || published.secretName !== req.secretName)) {
    // one link at a time: an earlier part's
    return new WaitingError(
      Reason.AuthorizationNeeded,
      `${what} ${cause}: it gets a connect link once ${published.part} is connected`,
      Math.max(1_000, Date.parse(published.expiresAt) - Date.now()),
    )
  }
  // a direct read: the Secret cache holds no labels
  const secret = await settings.core.readNamespacedSecret({ namespace, name: req.secretName })
  if (!isWritable(secret)) {
    return new StallingError(
      Reason.SecretNotWritable,
      `${what} needs a user's authorization, and the tokens go into that Secret: add the label switchboard.dev/controller-writable=true to it, and a connect link is published in status.connect`,
      { field: 'metadata.labels.switchboard.dev/controller-writable' },
    )
  }
  const previous = ctx.obj.status?.connect
  const link = await settings.connect.ensure({
    kind: CalendarSyncKind,
    provider: req.provider,
    namespace,
    name,
    uid: uid ?? '',
    secretName: req.secretName,
    clientId: req.clientId,
    authorizeUrl: req.authorizeUrl,
    tokenUrl: req.tokenUrl,
    scopes: req.scopes,
    pkce: req.pkce,
    clientAuth: req.clientAuth,
    ...(req.expect ? { expect: req.expect } : {}),
    current: previous?.part === req.part && previous.secretName === req.secretName ? previous : undefined,
  })
  if (!link) throw new StallingError(Reason.Internal, 'connect links without a public URL')
  ctx.status.connect = {
    url: link.url,
    expiresAt: link.expiresAt,
    part: req.part,
    secretName: req.secretName,
  }
  return new WaitingError(
    Reason.AuthorizationNeeded,
    `${what} ${cause}: open status.connect.url (until ${link.expiresAt}) signed in to the account and allow access`,
    Math.max(1_000, Date.parse(link.expiresAt) - Date.now()),
  )
}

/** `fn`, with a missing or revoked grant turned into a connect link (or the error that says why not). */
export async function withConnect<T>(
  ctx: Ctx,
  settings: CalendarOAuthSettings,
  req: () => Omit<AuthorizationRequest, 'revoked'> | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    const e = toSwitchboardError(err)
    const r = noGrant(e) ? req() : undefined
    if (!r) throw e
    throw await authorizationNeeded(ctx, settings, { ...r, revoked: e.reason === Reason.TokenRevoked })
  }
}
