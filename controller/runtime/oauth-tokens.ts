/**
 * OAuth user tokens that take care of themselves, for every kind whose provider issues expiring
 * access tokens and rotating refresh tokens (Patreon now; Twitch, Calendly and Google user tokens
 * the same way). One `OAuthTokens` per controller process; a credential is a Secret
 * (`namespace/name`) holding `refreshToken` and, once the controller has written them,
 * `accessToken` and `accessTokenExpiresAt`.
 *
 * - **Cached until shortly before expiry.** `get` answers from memory while the access token has
 *   more than `refreshBeforeMs` (default 5 min) to live; after a restart, from the Secret.
 * - **One refresh at a time per credential.** Concurrent `get`s of a credential share one refresh.
 * - **Rotated tokens written back before they are used**, with optimistic concurrency
 *   (`writeSecretKeys`): a restart reads the live refresh token, never the spent one. A conflict is
 *   read again: a Secret whose refresh token is still the one spent (another key changed) is
 *   written again on its new version; one holding a refresh token neither spent nor issued here
 *   (the user put in a new grant) wins, and ours is only used from memory.
 * - **Races between replicas.** A refresh answered `invalid_grant` while the Secret names another
 *   refresh token than the one spent means someone else refreshed first: their tokens are used. The
 *   Secret is read again for a few seconds (their write-back may not have landed yet) before the
 *   grant is taken as revoked (`TokenRevoked`, stalling).
 * - **A Secret without the opt-in label** (`SecretNotWritable`): the rotated tokens stay in memory,
 *   the error stalls the resource with a message naming the label, and the write is tried again on
 *   every `get` (a label added reconciles the resource, and the write then lands).
 *
 * Token values never reach a log line or an error message here.
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import {
  Reason,
  rfc3339,
  StallingError,
  type SwitchboardError,
  type TokenSet,
  TransientError,
  toSwitchboardError,
} from '../../connectors/index.ts'
import { describeApiError, isNotFound } from './kube.ts'
import { SecretConflictError, writeSecretKeys } from './secret-writes.ts'

/** The Secret keys of a credential. */
export interface TokenKeys {
  accessToken: string
  refreshToken: string
  expiresAt: string
}

export const DEFAULT_TOKEN_KEYS: Readonly<TokenKeys> = Object.freeze({
  accessToken: 'accessToken',
  refreshToken: 'refreshToken',
  expiresAt: 'accessTokenExpiresAt',
})

export interface OAuthCredential {
  namespace: string
  /** The Secret holding the tokens (and whatever else the provider needs). */
  secretName: string
  keys?: Partial<TokenKeys>
  /** Exchanges a refresh token for new tokens (the connector's grant, e.g. `refreshGrant`). */
  refresh(refreshToken: string, signal?: AbortSignal): Promise<TokenSet>
}

export interface AccessToken {
  token: string
  /** Epoch ms; undefined when the Secret gave a token without an expiry. */
  expiresAt: number | undefined
}

export interface OAuthTokensOptions {
  core: CoreV1Api
  logger: Logger
  /** Refresh this long before the access token expires. Default 5 minutes. */
  refreshBeforeMs?: number
  /** How long an `invalid_grant` waits for another replica's write-back to show. Default 3 s. */
  raceWindowMs?: number
  now?: () => number
}

interface Entry {
  token: string
  expiresAt: number | undefined
  refreshToken: string
  /** Tokens not yet written back to the Secret, with the refresh token they replace. */
  unsaved?: { tokens: TokenSet; spent: string; resourceVersion: string } | undefined
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function decode(secret: V1Secret | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(secret?.data ?? {}))
    out[k] = Buffer.from(v, 'base64').toString('utf8').trim()
  return out
}

export class OAuthTokens {
  readonly #core: CoreV1Api
  readonly #log: Logger
  readonly #before: number
  readonly #raceWindow: number
  readonly #now: () => number
  readonly #entries = new Map<string, Entry>()
  readonly #inflight = new Map<string, Promise<AccessToken>>()
  /** Access tokens a provider refused: never used again. */
  readonly #rejected = new Map<string, Set<string>>()
  /** Refreshes made (exchanges with the provider), for tests and metrics. */
  refreshes = 0

  constructor(opts: OAuthTokensOptions) {
    this.#core = opts.core
    this.#log = opts.logger.child({ component: 'oauth-tokens' })
    this.#before = opts.refreshBeforeMs ?? 5 * 60_000
    this.#raceWindow = opts.raceWindowMs ?? 3_000
    this.#now = opts.now ?? Date.now
  }

  /**
   * The access token to use now. `stored` is the Secret's data as the reconcile read it (decoded
   * or base64, either): its token is used while it is fresh, so a restart refreshes nothing.
   */
  async get(cred: OAuthCredential, stored?: V1Secret, signal?: AbortSignal): Promise<AccessToken> {
    const key = `${cred.namespace}/${cred.secretName}`
    const keys = { ...DEFAULT_TOKEN_KEYS, ...cred.keys }
    const entry = this.#entries.get(key)
    if (entry && this.#usable(key, entry.token, entry.expiresAt)) {
      if (entry.unsaved) await this.#save(cred, keys, entry)
      return { token: entry.token, expiresAt: entry.expiresAt }
    }
    if (stored && !entry) {
      const data = decode(stored)
      const token = data[keys.accessToken]
      const expiresAt = data[keys.expiresAt] ? Date.parse(data[keys.expiresAt] as string) : undefined
      const refreshToken = data[keys.refreshToken]
      if (token && refreshToken && !Number.isNaN(expiresAt) && this.#usable(key, token, expiresAt)) {
        this.#entries.set(key, { token, expiresAt, refreshToken })
        return { token, expiresAt }
      }
    }
    let flight = this.#inflight.get(key)
    if (!flight) {
      flight = this.#refresh(cred, keys, key, signal).finally(() => this.#inflight.delete(key))
      this.#inflight.set(key, flight)
    }
    return flight
  }

  /** The provider refused this access token (401): it is not used again; the next `get` refreshes. */
  reject(cred: Pick<OAuthCredential, 'namespace' | 'secretName'>, token: string): void {
    const key = `${cred.namespace}/${cred.secretName}`
    const set = this.#rejected.get(key) ?? new Set<string>()
    set.add(token)
    // bounded: only the last few matter
    if (set.size > 8) set.delete(set.values().next().value as string)
    this.#rejected.set(key, set)
  }

  /** Drops what is held for a credential (its resource went away). */
  forget(namespace: string, secretName: string): void {
    const key = `${namespace}/${secretName}`
    this.#entries.delete(key)
    this.#rejected.delete(key)
  }

  #usable(key: string, token: string, expiresAt: number | undefined): boolean {
    if (this.#rejected.get(key)?.has(token)) return false
    return expiresAt === undefined || expiresAt - this.#before > this.#now()
  }

  async #read(cred: OAuthCredential): Promise<V1Secret> {
    try {
      return await this.#core.readNamespacedSecret({ namespace: cred.namespace, name: cred.secretName })
    } catch (err) {
      if (isNotFound(err)) {
        throw new StallingError(
          Reason.SecretNotFound,
          `Secret "${cred.secretName}" not found in namespace "${cred.namespace}"`,
          { field: 'spec.credentialsSecretRef.name' },
        )
      }
      throw new TransientError(
        Reason.ProviderUnavailable,
        `reading Secret "${cred.secretName}" failed: ${describeApiError(err)}`,
      )
    }
  }

  async #refresh(
    cred: OAuthCredential,
    keys: TokenKeys,
    key: string,
    signal?: AbortSignal,
  ): Promise<AccessToken> {
    const log = this.#log.child({ namespace: cred.namespace, secretName: cred.secretName })
    const deadline = this.#now() + this.#raceWindow
    let spentByUs: string | undefined
    for (;;) {
      // a direct read: the resourceVersion to write against, and whatever another replica wrote
      const secret = await this.#read(cred)
      const data = decode(secret)
      const stored = data[keys.accessToken]
      const storedExpiry = data[keys.expiresAt] ? Date.parse(data[keys.expiresAt] as string) : undefined
      const refreshToken = data[keys.refreshToken]
      if (!refreshToken) {
        throw new StallingError(
          Reason.SecretKeyMissing,
          `Secret "${cred.secretName}" has no key "${keys.refreshToken}"`,
          {
            field: keys.refreshToken,
          },
        )
      }
      if (
        stored &&
        storedExpiry !== undefined &&
        !Number.isNaN(storedExpiry) &&
        this.#usable(key, stored, storedExpiry)
      ) {
        // someone refreshed meanwhile (another replica, or a user): use theirs
        this.#entries.set(key, { token: stored, expiresAt: storedExpiry, refreshToken })
        return { token: stored, expiresAt: storedExpiry }
      }
      if (refreshToken === spentByUs) {
        // we were refused with this refresh token and nobody has written a new one yet
        if (this.#now() >= deadline) break
        await sleep(250)
        continue
      }
      let tokens: TokenSet
      try {
        this.refreshes++
        tokens = await cred.refresh(refreshToken, signal)
      } catch (err) {
        const e = toSwitchboardError(err)
        if (e.reason !== Reason.TokenRevoked) throw e
        // Refused. Another replica may have spent this refresh token a moment ago: look again.
        spentByUs = refreshToken
        log.info('the refresh token was refused; checking whether another replica rotated it')
        continue
      }
      const entry: Entry = {
        token: tokens.accessToken,
        expiresAt: tokens.expiresAt,
        refreshToken: tokens.refreshToken,
        unsaved: { tokens, spent: refreshToken, resourceVersion: secret.metadata?.resourceVersion ?? '' },
      }
      this.#entries.set(key, entry)
      log.info(
        { expiresAt: rfc3339(new Date(tokens.expiresAt)), rotated: tokens.rotated },
        'access token refreshed',
      )
      await this.#save(cred, keys, entry)
      return { token: entry.token, expiresAt: entry.expiresAt }
    }
    throw new StallingError(
      Reason.TokenRevoked,
      `the provider refused the refresh token in Secret "${cred.secretName}" (invalid_grant): the grant was revoked; authorise Switchboard again and put the new ${keys.refreshToken} (and ${keys.accessToken}) in the Secret`,
      { field: keys.refreshToken },
    )
  }

  /** Writes unsaved tokens back; conflicts are read again (see the file comment). */
  async #save(cred: OAuthCredential, keys: TokenKeys, entry: Entry): Promise<void> {
    const unsaved = entry.unsaved
    if (!unsaved) return
    const { tokens, spent } = unsaved
    let resourceVersion = unsaved.resourceVersion
    let lastError: SwitchboardError | undefined
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await writeSecretKeys(this.#core, {
          namespace: cred.namespace,
          name: cred.secretName,
          resourceVersion,
          set: {
            [keys.accessToken]: tokens.accessToken,
            [keys.refreshToken]: tokens.refreshToken,
            [keys.expiresAt]: rfc3339(new Date(tokens.expiresAt)),
          },
        })
        entry.unsaved = undefined
        this.#log.info(
          { namespace: cred.namespace, secretName: cred.secretName },
          'rotated tokens written back to the Secret',
        )
        return
      } catch (err) {
        if (!(err instanceof SecretConflictError)) {
          lastError = toSwitchboardError(err)
          break
        }
        const now = await this.#read(cred)
        const current = decode(now)[keys.refreshToken]
        if (current !== spent && current !== tokens.refreshToken) {
          // a refresh token we neither spent nor issued: the user's new grant wins
          entry.unsaved = undefined
          this.#log.info(
            { namespace: cred.namespace, secretName: cred.secretName },
            'the Secret holds a new grant; the rotated tokens are not written over it',
          )
          return
        }
        resourceVersion = now.metadata?.resourceVersion ?? ''
        unsaved.resourceVersion = resourceVersion
      }
    }
    throw (
      lastError ??
      new TransientError(
        Reason.Internal,
        `Secret "${cred.secretName}" kept changing while the rotated tokens were written`,
      )
    )
  }
}
