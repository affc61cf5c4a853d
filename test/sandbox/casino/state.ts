/**
 * State of the casino-platform plugins: the configured casino accounts (credentials, settings,
 * a lazy dataset each), issued tokens and sessions, and counters per casino (requests, records
 * served, logins). A casino is identified per platform by `casinoKey`:
 *
 * | provider       | casinoKey                 |
 * | -------------- | ------------------------- |
 * | `softswiss`    | `settings.casinoId`       |
 * | `altenar`      | `operatorId:brandId`      |
 * | `betsoftware`  | `partnerId:siteId`        |
 * | `playtech-pam` | `credentials.clientId`    |
 */
import { randomBytes } from 'node:crypto'
import type { StreamName } from '../../../connectors/index.ts'
import { CASINO_PROVIDERS, type CasinoProvider, providerById } from '../../../controller/api/index.ts'
import { CasinoDataset, type DatasetSizes } from './dataset.ts'

/** The casino platforms the sandbox serves: every one whose description names a sandbox fixture. */
export const CASINO_PROVIDER_IDS: readonly CasinoProvider[] = CASINO_PROVIDERS.filter(
  (id) => providerById(id).sandbox !== undefined,
)

/** The fixture (the emulated API) that serves a platform. */
export function fixtureOf(provider: CasinoProvider): string {
  const fixture = providerById(provider).sandbox?.fixture
  if (!fixture) throw new TypeError(`casino provider ${provider} has no sandbox fixture`)
  return fixture
}

/** Route prefix of each platform plugin: a connector's endpoint is `${sandboxUrl}${prefix}`. */
export const CASINO_PREFIX: Readonly<Record<CasinoProvider, string>> = Object.fromEntries(
  CASINO_PROVIDER_IDS.map((id) => [id, `/${id}`]),
) as Record<CasinoProvider, string>

export interface CasinoAccountSpec {
  provider: CasinoProvider
  /** The Secret's keys, as the connector would get them. */
  credentials: Record<string, string>
  /** The spec settings (`casinoId`, `operatorId` + `brandId`, `partnerId` + `siteId`). */
  settings?: Record<string, string>
  /** Records per stream. Default players 100, transactions 300, games 150. */
  size?: Partial<DatasetSizes>
  /** Seeds the generated values. Default `${provider}:${casinoKey}`. */
  seed?: string
  /** updatedAt of the first record, ISO 8601. Default 2024-01-01T00:00:00Z. */
  startAt?: string
}

export interface CasinoSandboxOptions {
  accounts?: CasinoAccountSpec[]
  /** Lifetime of Playtech access tokens. Default 3600. */
  tokenTtlSeconds?: number
  /** Lifetime of Altenar sessions. Default 1800. */
  sessionTtlSeconds?: number
  /** Largest page a platform serves (larger `limit` → 400). Default 1000. */
  maxPageSize?: number
  /** Accepted clock skew of BET Software's `X-Timestamp`, seconds. Default 300. */
  timestampToleranceSeconds?: number
}

export interface CasinoAccount {
  provider: CasinoProvider
  casinoKey: string
  credentials: Readonly<Record<string, string>>
  settings: Readonly<Record<string, string>>
  dataset: CasinoDataset
}

export interface CasinoStats {
  /** Requests attributed to this casino (authenticated or not), faults excluded. */
  requests: number
  /** Records served per stream, repeats included. */
  served: Record<StreamName, number>
  /** Logins (Altenar) or tokens issued (Playtech). */
  logins: number
  /** Requests refused with 401. */
  unauthorized: number
}

interface Grant {
  casinoKey: string
  expiresAt: number
}

const DEFAULT_SIZES: DatasetSizes = { players: 100, transactions: 300, games: 150 }

const emptyStats = (): CasinoStats => ({
  requests: 0,
  served: { players: 0, transactions: 0, games: 0 },
  logins: 0,
  unauthorized: 0,
})

export function casinoKeyOf(
  provider: CasinoProvider,
  credentials: Record<string, string>,
  settings: Record<string, string>,
): string {
  const need = (obj: Record<string, string>, key: string, where: string) => {
    const v = obj[key]
    if (!v) throw new TypeError(`casino account (${provider}): ${where}.${key} is required`)
    return v
  }
  switch (fixtureOf(provider)) {
    case 'softswiss':
      need(credentials, 'apiKey', 'credentials')
      need(credentials, 'apiSecret', 'credentials')
      return need(settings, 'casinoId', 'settings')
    case 'altenar':
      need(credentials, 'username', 'credentials')
      need(credentials, 'password', 'credentials')
      return `${need(settings, 'operatorId', 'settings')}:${need(settings, 'brandId', 'settings')}`
    case 'betsoftware':
      need(credentials, 'apiKey', 'credentials')
      need(credentials, 'hashKey', 'credentials')
      return `${need(settings, 'partnerId', 'settings')}:${need(settings, 'siteId', 'settings')}`
    case 'playtech-pam':
      need(credentials, 'clientSecret', 'credentials')
      need(credentials, 'licenseKey', 'credentials')
      return need(credentials, 'clientId', 'credentials')
    default:
      throw new TypeError(`casino account (${provider}): the sandbox has no fixture "${fixtureOf(provider)}"`)
  }
}

export class CasinoSandbox {
  readonly tokenTtlSeconds: number
  readonly sessionTtlSeconds: number
  readonly maxPageSize: number
  readonly timestampToleranceSeconds: number
  readonly #accounts = new Map<string, CasinoAccount>()
  readonly #stats = new Map<string, CasinoStats>()
  readonly #grants = new Map<string, Grant>()

  constructor(opts: CasinoSandboxOptions = {}) {
    this.tokenTtlSeconds = opts.tokenTtlSeconds ?? 3600
    this.sessionTtlSeconds = opts.sessionTtlSeconds ?? 1800
    this.maxPageSize = opts.maxPageSize ?? 1000
    this.timestampToleranceSeconds = opts.timestampToleranceSeconds ?? 300
    for (const spec of opts.accounts ?? []) this.addAccount(spec)
  }

  /** Adds (or replaces) a casino account; returns its casinoKey. */
  addAccount(spec: CasinoAccountSpec): string {
    const settings = spec.settings ?? {}
    const casinoKey = casinoKeyOf(spec.provider, spec.credentials, settings)
    const startAt = spec.startAt === undefined ? undefined : Date.parse(spec.startAt)
    if (startAt !== undefined && Number.isNaN(startAt))
      throw new TypeError('casino account: startAt is not a date')
    const dataset = new CasinoDataset({
      seed: spec.seed ?? `${spec.provider}:${casinoKey}`,
      sizes: { ...DEFAULT_SIZES, ...spec.size },
      idStyle: fixtureOf(spec.provider) === 'softswiss' ? 'numeric' : 'prefixed',
      ...(startAt !== undefined && { startAt }),
    })
    const key = `${spec.provider}/${casinoKey}`
    this.#accounts.set(key, {
      provider: spec.provider,
      casinoKey,
      credentials: Object.freeze({ ...spec.credentials }),
      settings: Object.freeze({ ...settings }),
      dataset,
    })
    this.#stats.set(key, emptyStats())
    return casinoKey
  }

  account(provider: CasinoProvider, casinoKey: string): CasinoAccount | undefined {
    return this.#accounts.get(`${provider}/${casinoKey}`)
  }

  /** Accounts of a provider (or all). */
  accounts(provider?: CasinoProvider): CasinoAccount[] {
    return [...this.#accounts.values()].filter((a) => provider === undefined || a.provider === provider)
  }

  /** The dataset of a casino; throws for an unknown casino. */
  dataset(provider: CasinoProvider, casinoKey: string): CasinoDataset {
    return this.#require(provider, casinoKey).dataset
  }

  /** Adds `n` records to a stream of a casino (later updatedAt than any before). */
  append(provider: CasinoProvider, casinoKey: string, stream: StreamName, n: number): void {
    this.#require(provider, casinoKey).dataset.append(stream, n)
  }

  /** Serves a new version of record `index` of a stream (see `CasinoDataset.update`); returns its id. */
  update(provider: CasinoProvider, casinoKey: string, stream: StreamName, index: number): string {
    const dataset = this.#require(provider, casinoKey).dataset
    return dataset.id(stream, dataset.update(stream, index))
  }

  stats(provider: CasinoProvider, casinoKey: string): CasinoStats {
    const s = this.#stats.get(`${provider}/${casinoKey}`) ?? emptyStats()
    return { ...s, served: { ...s.served } }
  }

  /** Ends every live token or session of a provider (of one casino, if given): the next use is a 401. */
  expireGrants(provider: CasinoProvider, casinoKey?: string): number {
    let n = 0
    const now = Date.now()
    for (const [value, grant] of this.#grants) {
      if (
        value.startsWith(`${provider}/`) &&
        grant.expiresAt > now &&
        (casinoKey === undefined || grant.casinoKey === casinoKey)
      ) {
        grant.expiresAt = 0
        n++
      }
    }
    return n
  }

  /** Clears counters, tokens, sessions and appended records; keeps the accounts. */
  reset(): void {
    this.#grants.clear()
    for (const [key, account] of this.#accounts) {
      account.dataset.reset()
      this.#stats.set(key, emptyStats())
    }
  }

  /** @internal Issues a token or session for a casino. */
  issueGrant(provider: CasinoProvider, casinoKey: string, ttlSeconds: number): string {
    this.#sweep()
    const value = randomBytes(24).toString('base64url')
    this.#grants.set(`${provider}/${value}`, { casinoKey, expiresAt: Date.now() + ttlSeconds * 1000 })
    this.#count(provider, casinoKey, (s) => s.logins++)
    return value
  }

  /**
   * @internal The casino a token or session was issued to, and whether it is still live
   * (expired ones are remembered for a day, so their 401s count for their casino).
   */
  grantOwner(provider: CasinoProvider, value: string): { casinoKey: string; live: boolean } | undefined {
    const grant = this.#grants.get(`${provider}/${value}`)
    if (!grant) return undefined
    return { casinoKey: grant.casinoKey, live: grant.expiresAt > Date.now() }
  }

  /** Forgets grants that expired more than a day ago. */
  #sweep(): void {
    const horizon = Date.now() - 86_400_000
    for (const [value, grant] of this.#grants) if (grant.expiresAt < horizon) this.#grants.delete(value)
  }

  /** @internal */
  countRequest(provider: CasinoProvider, casinoKey: string, status: number): void {
    this.#count(provider, casinoKey, (s) => {
      s.requests++
      if (status === 401) s.unauthorized++
    })
  }

  /** @internal */
  countServed(provider: CasinoProvider, casinoKey: string, stream: StreamName, n: number): void {
    this.#count(provider, casinoKey, (s) => {
      s.served[stream] += n
    })
  }

  #count(provider: CasinoProvider, casinoKey: string, f: (s: CasinoStats) => void): void {
    const s = this.#stats.get(`${provider}/${casinoKey}`)
    if (s) f(s)
  }

  #require(provider: CasinoProvider, casinoKey: string): CasinoAccount {
    const account = this.account(provider, casinoKey)
    if (!account) throw new Error(`no ${provider} casino ${casinoKey} in the sandbox`)
    return account
  }
}
