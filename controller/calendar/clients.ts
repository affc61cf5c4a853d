/**
 * Provider clients of a CalendarSync, built from its Secrets and kept in the object's memo until
 * a Secret (its resourceVersion), an endpoint or the scope changes, or the object goes. Errors
 * name the part of the spec whose Secret is at fault, and the key, never a value.
 */
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { z } from 'zod'
import {
  type BudgetRegistry,
  CALENDAR_READONLY_SCOPE,
  CALENDAR_SCOPE,
  CALENDLY_API_URL,
  type CalendlyClient,
  calendlyCredentialsSchema,
  checkEndpoint,
  createCalendlyClient,
  createFacebookClient,
  createGoogleCalendarClient,
  type EndpointPolicy,
  type FacebookClient,
  facebookCredentialsSchema,
  type GoogleCalendarClient,
  type GoogleCredentials,
  googleCredentialsSchema,
  googleCredentialValues,
  parseCalendlyCredentials,
  parseCalendlySecret,
  parseFacebookCredentials,
  parseGoogleCredentials,
  Reason,
  type RetryPolicy,
  StallingError,
  SwitchboardError,
} from '../../connectors/index.ts'
import {
  type CalendarSyncSpec,
  type CalendarSyncStatus,
  calendlyProvider,
  googleProvider,
} from '../api/index.ts'
import { type BaseContext, keyOf } from '../runtime/index.ts'
import {
  type AuthorizationRequest,
  type CalendarOAuthSettings,
  calendlyOAuthClient,
  withConnect,
} from './oauth.ts'

/** What the calendar helpers need of a reconcile context (any state). */
export type Ctx = BaseContext<CalendarSyncSpec, CalendarSyncStatus>

export interface ClientSettings extends CalendarOAuthSettings {
  logger: Logger
  registry: Registry
  http?: { timeoutMs?: number; retry?: RetryPolicy } | undefined
  budgets?: BudgetRegistry | undefined
  /** Where credentials may be sent (connectors/endpoints.ts). Default: the providers' own hosts. */
  endpoints?: EndpointPolicy | undefined
}

export interface GoogleHandle {
  client: GoogleCalendarClient
  credentials: GoogleCredentials
  /** Whether events written with these credentials may carry attendees (see the connector). */
  attendees: boolean
  secretName: string
}

/** Makes the provider clients of CalendarSyncs; each object keeps its own in its memo. */
export class CalendarClients {
  readonly settings: ClientSettings

  constructor(settings: ClientSettings) {
    this.settings = settings
  }

  /**
   * A Google client for the Secret `secretName`; `where` names the spec part for messages
   * (`spec.targets[0]`). `write` asks for the read-write scope.
   */
  google(ctx: Ctx, secretName: string, where: string, write: boolean): GoogleHandle {
    const data = inPart(where, () => ctx.credentials(secretName, googleCredentialsSchema))
    const credentials = inPart(where, () => parseGoogleCredentials(data))
    for (const v of googleCredentialValues(credentials)) ctx.addSecretValue(v)
    const version = ctx.secret(secretName).metadata?.resourceVersion ?? ''
    const endpoints = ctx.spec.endpoints ?? {}
    const policy = this.settings.endpoints ?? {}
    if (endpoints.googleCalendar)
      checkEndpoint(policy, 'google-calendar', 'spec.endpoints.googleCalendar', endpoints.googleCalendar)
    if (endpoints.googleToken)
      checkEndpoint(policy, 'google-calendar', 'spec.endpoints.googleToken', endpoints.googleToken)
    const scope = write ? CALENDAR_SCOPE : CALENDAR_READONLY_SCOPE
    const inputs = [version, endpoints.googleCalendar, endpoints.googleToken]
    return ctx.memo(`google|${secretName}|${scope}`, inputs, () => {
      const s = this.settings
      const client = createGoogleCalendarClient({
        credentials,
        scopes: [scope],
        logger: s.logger.child({ calendarSync: keyOf(ctx.obj), provider: 'google-calendar' }),
        metrics: s.registry,
        ...(endpoints.googleCalendar ? { rootUrl: endpoints.googleCalendar } : {}),
        ...(endpoints.googleToken ? { tokenUrl: endpoints.googleToken } : {}),
        ...(s.http?.timeoutMs !== undefined ? { timeoutMs: s.http.timeoutMs } : {}),
        ...(s.http?.retry ? { retry: s.http.retry } : {}),
        ...(s.budgets ? { budgets: s.budgets } : {}),
      })
      const handle: GoogleHandle = {
        client,
        credentials,
        attendees: credentials.kind === 'oauth' || credentials.subject !== undefined,
        secretName,
      }
      return handle
    })
  }

  /**
   * What a Google part asks of the connect links when its Secret holds an OAuth client: the
   * scopes of every part that uses the Secret (reading for the source and freeBusy, writing
   * events for the targets). Undefined for a service account (no link: its key is the grant).
   */
  googleConnect(
    ctx: Ctx,
    secretName: string,
    where: string,
  ): Omit<AuthorizationRequest, 'revoked'> | undefined {
    const data = ctx.credentials(secretName, z.record(z.string(), z.string()))
    const clientId = data.clientId?.trim()
    if (data.serviceAccountKey?.trim() || !clientId || !data.clientSecret?.trim()) return undefined
    const { spec } = ctx
    const uses = (ref: { name: string } | undefined, part: string) => {
      try {
        return secretFor(spec, ref, part) === secretName
      } catch {
        return false
      }
    }
    const desc = googleProvider.oauth
    const [read, write] = desc.scopes as [string, string]
    const scopes = new Set<string>()
    if (spec.source.googleCalendar && uses(spec.source.googleCalendar.credentialsSecretRef, 'source'))
      scopes.add(read)
    if (spec.freeBusy && uses(spec.freeBusy.credentialsSecretRef, 'freeBusy')) scopes.add(read)
    for (const t of spec.targets) {
      if (uses(t.credentialsSecretRef, 'targets'))
        scopes.add(spec.managementPolicy === 'Observe' ? read : write)
    }
    const endpoints = ctx.spec.endpoints ?? {}
    if (endpoints.googleAuth)
      checkEndpoint(
        this.settings.endpoints ?? {},
        'google-calendar',
        'spec.endpoints.googleAuth',
        endpoints.googleAuth,
      )
    const authorize = new URL(
      `${(endpoints.googleAuth ?? desc.baseUrl).replace(/\/+$/, '')}${desc.authorizePath}`,
    )
    for (const [k, v] of Object.entries(desc.authorizeParams ?? {})) authorize.searchParams.set(k, v)
    return {
      provider: 'google',
      part: where,
      secretName,
      clientId,
      authorizeUrl: authorize.toString(),
      tokenUrl: endpoints.googleToken ?? `${desc.tokenBaseUrl ?? desc.baseUrl}${desc.tokenPath}`,
      scopes: [read, write].filter((x) => scopes.has(x)),
      pkce: desc.pkce,
      clientAuth: desc.clientAuth,
    }
  }

  /** `fn` (a Google part's work), with a missing or revoked grant turned into a connect link. */
  withGoogleConnect<T>(ctx: Ctx, secretName: string, where: string, fn: () => Promise<T>): Promise<T> {
    return inPartAsync(where, () =>
      withConnect(ctx, this.settings, () => this.googleConnect(ctx, secretName, where), fn),
    )
  }

  /**
   * The Calendly client of a part: with the Secret's personal access token, or with a user's
   * OAuth token when it holds an OAuth client (a missing or revoked grant publishes a connect
   * link; see oauth.ts).
   */
  async calendlyFor(
    ctx: Ctx,
    secretName: string,
    where: string,
    account: { organization: string },
  ): Promise<CalendlyClient> {
    const data = inPart(where, () => ctx.credentials(secretName, calendlyCredentialsSchema))
    const parsed = inPart(where, () => parseCalendlySecret(data))
    if ('token' in parsed) return this.calendly(ctx, secretName, where)
    const { oauth } = parsed
    const endpoints = ctx.spec.endpoints ?? {}
    const policy = this.settings.endpoints ?? {}
    if (endpoints.calendly) checkEndpoint(policy, 'calendly', 'spec.endpoints.calendly', endpoints.calendly)
    if (endpoints.calendlyAuth)
      checkEndpoint(policy, 'calendly', 'spec.endpoints.calendlyAuth', endpoints.calendlyAuth)
    const desc = calendlyProvider.oauth
    const authUrl = (endpoints.calendlyAuth ?? desc.baseUrl).replace(/\/+$/, '')
    const apiUrl = (endpoints.calendly ?? CALENDLY_API_URL).replace(/\/+$/, '')
    return inPartAsync(where, () =>
      withConnect(
        ctx,
        this.settings,
        () => ({
          provider: 'calendly',
          part: where,
          secretName,
          clientId: oauth.clientId,
          authorizeUrl: `${authUrl}${desc.authorizePath}`,
          tokenUrl: `${authUrl}${desc.tokenPath}`,
          scopes: desc.scopes,
          pkce: desc.pkce,
          clientAuth: desc.clientAuth,
          expect: { organization: account.organization, apiUrl },
        }),
        () =>
          calendlyOAuthClient(ctx, this.settings, {
            secretName,
            oauth,
            apiUrl: endpoints.calendly,
            authUrl,
          }),
      ),
    )
  }

  calendly(ctx: Ctx, secretName: string, where: string): CalendlyClient {
    const data = inPart(where, () => ctx.credentials(secretName, calendlyCredentialsSchema))
    const credentials = inPart(where, () => parseCalendlyCredentials(data))
    ctx.addSecretValue(credentials.personalAccessToken)
    const version = ctx.secret(secretName).metadata?.resourceVersion ?? ''
    const endpoint = ctx.spec.endpoints?.calendly
    if (endpoint)
      checkEndpoint(this.settings.endpoints ?? {}, 'calendly', 'spec.endpoints.calendly', endpoint)
    return ctx.memo('calendly', [secretName, version, endpoint], () => {
      const s = this.settings
      return createCalendlyClient({
        credentials,
        logger: s.logger.child({ calendarSync: keyOf(ctx.obj), provider: 'calendly' }),
        metrics: s.registry,
        ...(endpoint ? { baseUrl: endpoint } : {}),
        ...(s.http?.timeoutMs !== undefined ? { timeoutMs: s.http.timeoutMs } : {}),
        ...(s.http?.retry ? { retry: s.http.retry } : {}),
        ...(s.budgets ? { budgets: s.budgets } : {}),
      })
    })
  }

  facebook(ctx: Ctx, secretName: string, where: string): FacebookClient {
    const data = inPart(where, () => ctx.credentials(secretName, facebookCredentialsSchema))
    const credentials = inPart(where, () => parseFacebookCredentials(data))
    ctx.addSecretValue(credentials.pageAccessToken)
    if (credentials.appSecret) ctx.addSecretValue(credentials.appSecret)
    const version = ctx.secret(secretName).metadata?.resourceVersion ?? ''
    const endpoint = ctx.spec.endpoints?.facebook
    if (endpoint)
      checkEndpoint(this.settings.endpoints ?? {}, 'facebook', 'spec.endpoints.facebook', endpoint)
    return ctx.memo('facebook', [secretName, version, endpoint], () => {
      const s = this.settings
      return createFacebookClient({
        credentials,
        logger: s.logger.child({ calendarSync: keyOf(ctx.obj), provider: 'facebook' }),
        metrics: s.registry,
        ...(endpoint ? { baseUrl: endpoint } : {}),
        ...(s.http?.timeoutMs !== undefined ? { timeoutMs: s.http.timeoutMs } : {}),
        ...(s.http?.retry ? { retry: s.http.retry } : {}),
        ...(s.budgets ? { budgets: s.budgets } : {}),
      })
    })
  }
}

/** The Secret a part of the spec uses: its own, else spec.credentialsSecretRef. */
export function secretFor(spec: CalendarSyncSpec, own: { name: string } | undefined, where: string): string {
  const name = own?.name ?? spec.credentialsSecretRef?.name
  if (!name) {
    throw new StallingError(
      Reason.InvalidSpec,
      `${where}.credentialsSecretRef: name a Secret, or set spec.credentialsSecretRef`,
      {
        field: `${where}.credentialsSecretRef`,
      },
    )
  }
  return name
}

/** Runs `fn`, prefixing the message of a configuration error with the spec part it concerns. */
export function inPart<T>(where: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof SwitchboardError && err.kind === 'stalling') {
      throw new StallingError(err.reason, `${where}: ${err.message}`, {
        ...(err.field !== undefined ? { field: err.field } : {}),
      })
    }
    throw err
  }
}

/** `inPart` for an async part; a message that names the part already is left as it is. */
export async function inPartAsync<T>(where: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof SwitchboardError && err.kind === 'stalling' && !err.message.startsWith(where)) {
      throw new StallingError(err.reason, `${where}: ${err.message}`, {
        ...(err.field !== undefined ? { field: err.field } : {}),
      })
    }
    throw err
  }
}

export function digest(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 16)
}
