/**
 * Connect links: a resource that needs a user's OAuth grant publishes a one-time link in
 * `status.connect`; opening it sends the browser to the provider's consent page, and the
 * provider's callback comes back here (through the webhook server and the bridge) to be checked,
 * exchanged and written into the resource's Secret. The contract (paths, answers) is in
 * controller/api/connect.ts; the design in docs/connect.md.
 *
 * What is kept, and where: one controller-owned Secret per resource
 * (`switchboard-connect-<hash of kind/name>`, labelled controller-writable, owned by the resource
 * so it goes with it) holding the SHA-256 of the link and of the state nonce, the expiry, the
 * PKCE verifier where the provider takes PKCE, and the non-secret facts the callback needs (token
 * URL, client id, redirect URI, the account the resource names). A controller restart or another
 * replica reads the same Secret; the link itself is only in the resource's status.
 *
 * - The state is `<namespace>.<name>.<nonce>`, the nonce an HMAC of the link: the callback finds
 *   the resource from it and proves it came from this link's consent page.
 * - A link works once: the first callback that carries its state (consent given or refused) spends
 *   it, with optimistic concurrency, before the code is exchanged; a replay finds it spent.
 * - Nothing is written for a forged state, an expired or spent link, a refused consent, a code
 *   the provider refuses, or a grant for another account than the resource names.
 * - No link, code, state, verifier or token reaches a log line, an Event or an error message.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { CoreV1Api, CustomObjectsApi, V1Secret } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { codeGrant, rfc3339, type TokenSet, toSwitchboardError } from '../../connectors/index.ts'
import {
  CONNECT_LINK_PATTERN,
  type ConnectCallbackAnswer,
  type ConnectFailure,
  type ConnectOpenAnswer,
  type ConnectStatus,
  connectCallbackPath,
  connectLinkPath,
  type KindDefinition,
} from '../api/index.ts'
import { isConflict, isNotFound } from './kube.ts'
import { DEFAULT_TOKEN_KEYS } from './oauth-tokens.ts'
import { createWritableSecret, isWritable, SecretConflictError, writeSecretKeys } from './secret-writes.ts'

/** Default lifetime of a link: 15 minutes. */
export const DEFAULT_CONNECT_TTL_MS = 15 * 60_000
/** A link with less than this left is replaced rather than published again. */
const MIN_LEFT_MS = 30_000
export const CONNECT_FOR_ANNOTATION = 'switchboard.dev/connect-for'

/** What a kind says about a resource that needs authorization. */
export interface ConnectRequest {
  kind: KindDefinition
  provider: string
  namespace: string
  name: string
  uid: string
  /** The resource's credential Secret: holds the client secret, receives the tokens. */
  secretName: string
  clientId: string
  authorizeUrl: string
  tokenUrl: string
  scopes: readonly string[]
  pkce: boolean
  clientAuth: 'body' | 'basic'
  /** The account the resource names (e.g. `{campaignId}`), checked after the exchange. */
  expect?: Record<string, string>
  /** `status.connect` as the object has it now. */
  current?: ConnectStatus | undefined
}

/** A provider's part: the kind its links are for, and the check that the grant is the right one. */
export interface ConnectProvider {
  kind: KindDefinition
  /** A message when the grant is for another account than `expect` names; undefined when right. */
  verify?(grant: {
    accessToken: string
    tokenUrl: string
    expect: Record<string, string>
    signal?: AbortSignal
  }): Promise<string | undefined>
}

export interface ConnectLinksOptions {
  core: CoreV1Api
  custom: CustomObjectsApi
  logger: Logger
  /** The webhook server's public base URL; without it no link is published. */
  publicUrl?: string | undefined
  /** How long a link works. Default 15 minutes. */
  ttlMs?: number | undefined
  registry?: Registry
  timeoutMs?: number | undefined
  now?: () => number
  /** A callback spent a link (connected or not): the resource is reconciled. */
  onSpent?(kind: string, namespace: string, name: string, connected: { secretName: string } | undefined): void
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const sameHash = (a: string, b: string | undefined) =>
  b !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))

function decode(secret: V1Secret | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(secret?.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8')
  return out
}

/** The name of a resource's connect Secret (fits 253 characters whatever the resource's name). */
export function connectSecretName(kind: string, name: string): string {
  return `switchboard-connect-${sha256(`${kind}/${name}`).slice(0, 32)}`
}

const PAGES: Record<ConnectFailure, { status: number; message: string }> = {
  unknown: {
    status: 404,
    message: "This connect link does not exist. Use the link in the resource's status.connect.url.",
  },
  used: {
    status: 410,
    message:
      'This connect link was used already. If the resource still needs authorization, it shows a new link in status.connect.url.',
  },
  expired: {
    status: 410,
    message:
      'This connect link expired. The resource shows a new one in status.connect.url; open it within its expiry.',
  },
  mismatch: {
    status: 400,
    message:
      'This authorization answer does not belong to a connect link of this server. Start again from the link in status.connect.url.',
  },
  refused: {
    status: 403,
    message:
      'Access was not granted at the provider, so nothing was connected. Open the new link in status.connect.url and allow access to connect.',
  },
  exchange_failed: {
    status: 502,
    message:
      'The provider refused to exchange the authorization code, so nothing was connected. Open the new link in status.connect.url and try again.',
  },
  wrong_account: {
    status: 409,
    message:
      'You authorized an account other than the one this resource names, so nothing was connected. Sign in to the right account and open the new link in status.connect.url.',
  },
  not_writable: {
    status: 409,
    message:
      "The resource's Secret may not be written by Switchboard: add the label switchboard.dev/controller-writable=true to it, then open the new link in status.connect.url.",
  },
  unavailable: {
    status: 503,
    message: 'Switchboard could not complete the connection just now. Try the link again in a minute.',
  },
}

function fail(
  outcome: ConnectFailure,
  detail?: string,
): { outcome: ConnectFailure; status: number; message: string } {
  const page = PAGES[outcome]
  return { outcome, status: page.status, message: detail ? `${page.message} (${detail})` : page.message }
}

export class ConnectLinks {
  readonly #o: ConnectLinksOptions
  readonly #log: Logger
  readonly #providers = new Map<string, ConnectProvider>()
  readonly #now: () => number
  /** The last link published per connect Secret (a status read may lag behind its write). */
  readonly #published = new Map<string, { link: string; url: string; expiresAt: string }>()

  constructor(opts: ConnectLinksOptions) {
    this.#o = opts
    this.#log = opts.logger.child({ component: 'connect-links' })
    this.#now = opts.now ?? Date.now
  }

  get enabled(): boolean {
    return this.#o.publicUrl !== undefined
  }

  register(provider: string, p: ConnectProvider): void {
    this.#providers.set(provider, p)
  }

  #base(): string {
    return (this.#o.publicUrl ?? '').replace(/\/+$/, '')
  }

  /**
   * The link to publish for a resource that needs authorization: the one it shows, while that is
   * still good, else a new one (written before it is returned). Undefined without a public URL.
   */
  async ensure(req: ConnectRequest): Promise<ConnectStatus | undefined> {
    if (!this.enabled) return undefined
    const name = connectSecretName(req.kind.kind, req.name)
    const existing = await this.#read(req.namespace, name)
    const data = decode(existing)
    const forUs = `${req.kind.kind}/${req.namespace}/${req.name}`
    if (existing && existing.metadata?.annotations?.[CONNECT_FOR_ANNOTATION] !== forUs) {
      throw new Error(`Secret "${name}" exists and is not this resource's connect Secret`)
    }
    const fromStatus = req.current?.url ? /\/([A-Za-z0-9_-]{43})$/.exec(req.current.url)?.[1] : undefined
    const expiresAt = Date.parse(data.expiresAt ?? '')
    const live = (link: string | undefined): link is string =>
      link !== undefined &&
      data.uid === req.uid &&
      data.provider === req.provider &&
      data.secretName === req.secretName &&
      !data.spentAt &&
      sameHash(sha256(link), data.linkHash) &&
      expiresAt - MIN_LEFT_MS > this.#now() &&
      data.tokenUrl === req.tokenUrl &&
      data.clientId === req.clientId &&
      data.scopes === req.scopes.join(' ')
    if (req.current && live(fromStatus)) return req.current
    // the status read may not show the link published a moment ago yet (a cache behind its own
    // write): the one this process published is still the live one, so it is shown again
    const recent = this.#published.get(`${req.namespace}/${name}`)
    if (recent && live(recent.link)) return { url: recent.url, expiresAt: recent.expiresAt }
    const link = randomBytes(32).toString('base64url')
    const until = rfc3339(new Date(this.#now() + (this.#o.ttlMs ?? DEFAULT_CONNECT_TTL_MS)))
    const set: Record<string, string> = {
      provider: req.provider,
      uid: req.uid,
      secretName: req.secretName,
      linkHash: sha256(link),
      stateHash: sha256(nonceOf(link)),
      expiresAt: until,
      authorizeUrl: req.authorizeUrl,
      tokenUrl: req.tokenUrl,
      clientId: req.clientId,
      clientAuth: req.clientAuth,
      scopes: req.scopes.join(' '),
      redirectUri: `${this.#base()}${connectCallbackPath(req.provider)}`,
      expect: JSON.stringify(req.expect ?? {}),
    }
    if (req.pkce) set.codeVerifier = randomBytes(32).toString('base64url')
    if (existing) {
      const remove = ['spentAt', 'codeVerifier'].filter((k) => !(k in set) && k in data)
      await writeSecretKeys(this.#o.core, {
        namespace: req.namespace,
        name,
        resourceVersion: existing.metadata?.resourceVersion ?? '',
        set,
        remove,
        read: existing,
      })
    } else {
      await createWritableSecret(this.#o.core, {
        metadata: {
          name,
          namespace: req.namespace,
          annotations: { [CONNECT_FOR_ANNOTATION]: forUs },
          ownerReferences: [
            {
              apiVersion: `${req.kind.group}/${req.kind.version}`,
              kind: req.kind.kind,
              name: req.name,
              uid: req.uid,
              controller: true,
            },
          ],
        },
        type: 'Opaque',
        stringData: set,
      })
    }
    this.#log.info(
      { namespace: req.namespace, name: req.name, kind: req.kind.kind, expiresAt: until },
      'connect link published',
    )
    const url = `${this.#base()}${connectLinkPath(req.provider, req.namespace, req.name, link)}`
    this.#published.set(`${req.namespace}/${name}`, { link, url, expiresAt: until })
    // bounded: only links a moment old matter
    if (this.#published.size > 1024) this.#published.delete(this.#published.keys().next().value as string)
    return { url, expiresAt: until }
  }

  /** A link opened: where to send the browser (the provider's consent page), or why not. */
  async open(provider: string, namespace: string, name: string, link: string): Promise<ConnectOpenAnswer> {
    const p = this.#providers.get(provider)
    if (!p || !CONNECT_LINK_PATTERN.test(link)) return fail('unknown')
    try {
      const secret = await this.#read(namespace, connectSecretName(p.kind.kind, name))
      const data = decode(secret)
      if (!secret || data.provider !== provider) return fail('unknown')
      // the last link used is remembered (as its hash) so that opening it again says so
      if (sameHash(sha256(link), data.usedLinkHash)) return fail('used')
      if (data.spentAt || !sameHash(sha256(link), data.linkHash)) return fail('unknown')
      if (!(Date.parse(data.expiresAt ?? '') > this.#now())) return fail('expired')
      if (!(await this.#sameResource(p.kind, namespace, name, data.uid))) return fail('unknown')
      const url = new URL(data.authorizeUrl ?? '')
      url.searchParams.set('response_type', 'code')
      url.searchParams.set('client_id', data.clientId ?? '')
      url.searchParams.set('redirect_uri', data.redirectUri ?? '')
      url.searchParams.set('scope', data.scopes ?? '')
      url.searchParams.set('state', `${namespace}.${name}.${nonceOf(link)}`)
      if (data.codeVerifier) {
        url.searchParams.set(
          'code_challenge',
          createHash('sha256').update(data.codeVerifier).digest('base64url'),
        )
        url.searchParams.set('code_challenge_method', 'S256')
      }
      this.#log.info({ namespace, name, provider }, 'connect link opened')
      return { outcome: 'redirect', location: url.toString() }
    } catch (err) {
      this.#log.warn(
        { namespace, name, provider, err: toSwitchboardError(err).message },
        'connect link could not be opened',
      )
      return fail('unavailable')
    }
  }

  /** The provider's answer: checked, exchanged and written, or refused with nothing written. */
  async callback(
    provider: string,
    params: { code?: string | undefined; state?: string | undefined; error?: string | undefined },
    signal?: AbortSignal,
  ): Promise<ConnectCallbackAnswer> {
    const p = this.#providers.get(provider)
    const parsed = p ? parseState(params.state) : undefined
    if (!p || !parsed) return this.#refuse(provider, undefined, 'mismatch')
    const { namespace, name, nonce } = parsed
    const log = this.#log.child({ namespace, name, provider })
    const secretName = connectSecretName(p.kind.kind, name)
    let secret: V1Secret | undefined
    try {
      secret = await this.#read(namespace, secretName)
    } catch {
      return fail('unavailable')
    }
    const data = decode(secret)
    if (!secret || data.provider !== provider) return this.#refuse(provider, log, 'mismatch')
    if (sameHash(sha256(nonce), data.usedStateHash)) return this.#refuse(provider, log, 'used')
    if (data.spentAt || !sameHash(sha256(nonce), data.stateHash))
      return this.#refuse(provider, log, 'mismatch')
    if (!(Date.parse(data.expiresAt ?? '') > this.#now())) return this.#refuse(provider, log, 'expired')
    // the link is spent before anything else happens: a second answer with this state finds it so
    try {
      await writeSecretKeys(this.#o.core, {
        namespace,
        name: secretName,
        resourceVersion: secret.metadata?.resourceVersion ?? '',
        set: {
          spentAt: rfc3339(new Date(this.#now())),
          usedLinkHash: data.linkHash ?? '',
          usedStateHash: data.stateHash ?? '',
        },
        remove: ['linkHash', 'stateHash', 'codeVerifier'],
        read: secret,
      })
    } catch (err) {
      if (err instanceof SecretConflictError) return this.#refuse(provider, log, 'used')
      // a concurrent callback spent it first: its patch removed the keys ours removes (a 422)
      const now = await this.#read(namespace, secretName).catch(() => undefined)
      if (sameHash(sha256(nonce), decode(now).usedStateHash)) return this.#refuse(provider, log, 'used')
      log.warn({ err: toSwitchboardError(err).message }, 'the connect link could not be marked used')
      return fail('unavailable')
    }
    const answer = await this.#complete(p, namespace, data, params, signal).catch((err: unknown) => {
      log.warn({ err: toSwitchboardError(err).message }, 'connecting failed')
      return fail('unavailable')
    })
    if (answer.outcome === 'connected') log.info('connected: the grant was written to the Secret')
    else log.info({ outcome: answer.outcome }, 'connect callback refused; nothing written')
    this.#o.onSpent?.(
      p.kind.kind,
      namespace,
      name,
      answer.outcome === 'connected' ? { secretName: data.secretName ?? '' } : undefined,
    )
    return answer
  }

  async #complete(
    p: ConnectProvider,
    namespace: string,
    data: Record<string, string>,
    params: { code?: string | undefined; error?: string | undefined },
    signal?: AbortSignal,
  ): Promise<ConnectCallbackAnswer> {
    if (params.error !== undefined) {
      return params.error === 'access_denied'
        ? fail('refused')
        : fail(
            'refused',
            `the provider answered ${/^[a-z_]{1,40}$/.test(params.error) ? params.error : 'an error'}`,
          )
    }
    if (!params.code) return fail('mismatch')
    const credName = data.secretName ?? ''
    const cred = await this.#read(namespace, credName)
    if (!cred) return fail('unavailable', `Secret "${credName}" not found`)
    if (!isWritable(cred)) return fail('not_writable')
    const clientSecret = decode(cred).clientSecret?.trim()
    if (!clientSecret) return fail('unavailable', `Secret "${credName}" has no key "clientSecret"`)
    let tokens: TokenSet
    try {
      tokens = await codeGrant({
        provider: data.provider ?? 'oauth',
        tokenUrl: data.tokenUrl ?? '',
        clientId: data.clientId ?? '',
        clientSecret,
        code: params.code,
        redirectUri: data.redirectUri ?? '',
        codeVerifier: data.codeVerifier,
        clientAuth: data.clientAuth === 'basic' ? 'basic' : 'body',
        logger: this.#log,
        ...(this.#o.registry ? { metrics: this.#o.registry } : {}),
        ...(this.#o.timeoutMs ? { timeoutMs: this.#o.timeoutMs } : {}),
        ...(signal ? { signal } : {}),
      })
    } catch (err) {
      return fail('exchange_failed', toSwitchboardError(err).reason)
    }
    const expect = JSON.parse(data.expect || '{}') as Record<string, string>
    if (p.verify && Object.keys(expect).length > 0) {
      const wrong = await p.verify({
        accessToken: tokens.accessToken,
        tokenUrl: data.tokenUrl ?? '',
        expect,
        ...(signal ? { signal } : {}),
      })
      if (wrong) return fail('wrong_account', wrong)
    }
    let current = cred
    for (let attempt = 0; ; attempt++) {
      try {
        await writeSecretKeys(this.#o.core, {
          namespace,
          name: credName,
          resourceVersion: current.metadata?.resourceVersion ?? '',
          set: {
            [DEFAULT_TOKEN_KEYS.accessToken]: tokens.accessToken,
            [DEFAULT_TOKEN_KEYS.refreshToken]: tokens.refreshToken,
            [DEFAULT_TOKEN_KEYS.expiresAt]: rfc3339(new Date(tokens.expiresAt)),
          },
          read: current,
        })
        return {
          outcome: 'connected',
          status: 200,
          message: 'Switchboard is connected. The resource turns Ready by itself; you can close this page.',
        }
      } catch (err) {
        if (!(err instanceof SecretConflictError) || attempt >= 4) {
          const e = toSwitchboardError(err)
          return e.reason === 'SecretNotWritable' ? fail('not_writable') : fail('unavailable')
        }
        const again = await this.#read(namespace, credName)
        if (!again) return fail('unavailable')
        current = again
      }
    }
  }

  #refuse(provider: string, log: Logger | undefined, outcome: ConnectFailure) {
    ;(log ?? this.#log).info({ provider, outcome }, 'connect callback refused; nothing written')
    return fail(outcome)
  }

  async #read(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.#o.core.readNamespacedSecret({ namespace, name })
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  async #sameResource(kind: KindDefinition, namespace: string, name: string, uid: string | undefined) {
    try {
      const obj = (await this.#o.custom.getNamespacedCustomObject({
        group: kind.group,
        version: kind.version,
        plural: kind.plural,
        namespace,
        name,
      })) as { metadata?: { uid?: string } }
      return uid !== undefined && obj.metadata?.uid === uid
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false
      throw err
    }
  }
}

/** The state nonce of a link: derived, so that neither it nor the link is stored. */
function nonceOf(link: string): string {
  return createHmac('sha256', link).update('switchboard connect state').digest('base64url')
}

/** `<namespace>.<name>.<nonce>`: a namespace has no dots, a name may, a nonce has none. */
export function parseState(
  state: string | undefined,
): { namespace: string; name: string; nonce: string } | undefined {
  if (!state || state.length > 400) return undefined
  const first = state.indexOf('.')
  const last = state.lastIndexOf('.')
  if (first <= 0 || last <= first + 1) return undefined
  const namespace = state.slice(0, first)
  const name = state.slice(first + 1, last)
  const nonce = state.slice(last + 1)
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) return undefined
  if (!/^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/.test(name)) return undefined
  if (!/^[A-Za-z0-9_-]{43}$/.test(nonce)) return undefined
  return { namespace, name, nonce }
}
