/** What is derived from the provider descriptions: ids, lookups, the providers of a kind. */
import { providers } from './list.ts'
import type { ProviderDescription, ProviderKind } from './types.ts'

type Known = (typeof providers)[number]
/** Every provider id. */
export type ProviderId = Known['id']
/** The casino platforms' ids. */
export type CasinoProvider = Extract<Known, { kind: 'CasinoIntegration' }>['id']

/** The descriptions, as the common type (for code that does not need literal ids). */
export const allProviders: readonly ProviderDescription[] = providers

/** Every provider id; the first segment after `/hooks/`. */
export const PROVIDERS: readonly ProviderId[] = providers.map((p) => p.id)

/** The providers a kind serves, in registry order. */
export function providersOf(kind: ProviderKind): readonly ProviderDescription[] {
  return allProviders.filter((p) => p.kind === kind)
}

/** The casino platforms (the providers of `CasinoIntegration`). */
export const CASINO_PROVIDERS = providersOf('CasinoIntegration').map((p) => p.id) as readonly CasinoProvider[]

export function isProvider(value: unknown): value is ProviderId {
  return typeof value === 'string' && (PROVIDERS as readonly string[]).includes(value)
}

const byId = new Map<string, ProviderDescription>(allProviders.map((p) => [p.id, p]))

/** The description of a provider; throws for an id that is not registered (a programming error). */
export function providerById(id: string): ProviderDescription {
  const p = byId.get(id)
  if (!p) throw new Error(`unknown provider "${id}"`)
  return p
}

/** A provider's settings declaration; throws if it takes none (a programming error). */
export function settingsOf(id: string): NonNullable<ProviderDescription['settings']> {
  const s = providerById(id).settings
  if (!s) throw new Error(`provider "${id}" takes no settings`)
  return s
}
