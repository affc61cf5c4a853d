/**
 * The CRD and the casino connectors agree on every settings field. The API server validates a
 * CasinoIntegration against the CRD (generated from controller/api); the connector parses the
 * same settings with its own schema when it builds a client. Where they differ, a user's object
 * is accepted by `kubectl apply` and then stalls with InvalidSpec (or the API server refuses what
 * the connector would handle).
 *
 * Driven by the installed CRD and the connector registry, with no list of fields here: for each
 * provider's settings field (`spec.<field>`, found by its "Settings for provider X" description),
 * every property gets candidate values built from what the CRD states (pattern, lengths, enum,
 * integer bounds), and each one goes to the API server as a server-side dry-run create and to
 * `casinoConnectors[provider].settings`. Both must say yes, or both no.
 */
import { randomBytes } from 'node:crypto'
import { ApiException, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { casinoConnectors } from '../../connectors/index.ts'
import { CasinoIntegrationKind } from '../../controller/api/index.ts'
import { buildCrd, installCrds } from '../../crds/index.ts'
import { testKubeConfig } from './helpers.ts'

interface Schema {
  type?: string
  description?: string
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  enum?: unknown[]
  default?: unknown
  properties?: Record<string, Schema>
  required?: string[]
}

const kc = testKubeConfig()
const core = kc.makeApiClient(CoreV1Api)
const custom = kc.makeApiClient(CustomObjectsApi)
const { group, version, plural, kind } = CasinoIntegrationKind
const namespace = `provider-schemas-${randomBytes(3).toString('hex')}`
const ABSENT = Symbol('absent')

let spec: Schema

beforeAll(async () => {
  await installCrds(kc)
  await core.createNamespace({ body: { metadata: { name: namespace } } })
  // The generated CRD, as installCrds just put it on the API server (plain JSON: the client's
  // model of a read-back CRD renames enum and default).
  const served = buildCrd(CasinoIntegrationKind).spec.versions.find((v) => v.name === version)
  spec = (served?.schema.openAPIV3Schema.properties?.spec ?? {}) as Schema
})

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => undefined)
})

/** The spec field that holds a provider's settings, by its description. */
function settingsFields(): Map<string, string> {
  const fields = new Map<string, string>()
  for (const [field, schema] of Object.entries(spec.properties ?? {})) {
    const provider = /^Settings for provider ([^\s.]+)\./.exec(schema.description ?? '')?.[1]
    if (provider) fields.set(provider, field)
  }
  return fields
}

function matches(schema: Schema, value: string): boolean {
  if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) return false
  if (schema.minLength !== undefined && [...value].length < schema.minLength) return false
  if (schema.maxLength !== undefined && [...value].length > schema.maxLength) return false
  return true
}

/** A value the CRD allows for this property, to put in the fields not under test. */
function validValue(name: string, schema: Schema): unknown {
  if (schema.enum) return schema.default ?? schema.enum[0]
  if (schema.type === 'integer' || schema.type === 'number')
    return schema.default ?? schema.minimum ?? Math.min(1, schema.maximum ?? 1)
  if (schema.type === 'boolean') return schema.default ?? false
  const length = Math.min(Math.max(schema.minLength ?? 1, 4), schema.maxLength ?? 4)
  for (const alphabet of ['abcd1234', 'ABCD1234', '12345678', 'abcdefgh']) {
    const value = alphabet.repeat(Math.ceil(length / alphabet.length)).slice(0, length)
    if (matches(schema, value)) return value
  }
  throw new Error(`no plain value fits ${name} (pattern ${schema.pattern}); extend validValue`)
}

/** Lengths worth trying for a string: the bounds, one either side, and powers of two near them. */
function lengths(schema: Schema): number[] {
  const min = schema.minLength ?? 0
  const max = schema.maxLength ?? 256
  const out = new Set([0, min - 1, min, min + 1, max - 1, max, max + 1])
  for (let p = 1; p <= max * 2; p *= 2)
    out
      .add(p)
      .add(p + 1)
      .add(p - 1)
  return [...out].filter((n) => n >= 0 && n <= max + 1).sort((a, b) => a - b)
}

/** Candidate values for one property, from what the CRD says of it. */
function candidates(name: string, schema: Schema): unknown[] {
  if (schema.enum) {
    const members = schema.enum
    const first = String(members[0])
    return [...members, '', `not-${first}`, first.toUpperCase(), ` ${first}`, ABSENT]
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    const lo = schema.minimum ?? 0
    const hi = schema.maximum ?? lo + 1000
    return [lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, 1.5, '1', ABSENT]
  }
  if (schema.type !== 'string') return []
  const base = String(validValue(name, schema))
  // Only strings: the API server refuses any other type before a connector could see it.
  const out: unknown[] = ['', 'royal:1', ABSENT]
  // every printable ASCII character and a few beyond, in the middle and at either end
  const chars = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), 'é', 'ß', '\t', '\n']
  for (const c of chars) {
    const mid = Math.floor(base.length / 2)
    out.push(base.slice(0, mid) + c + base.slice(mid), c + base, base + c)
  }
  const fill = base[0] ?? 'a'
  for (const n of lengths(schema)) out.push(fill.repeat(n))
  return [...new Set(out)]
}

/** The API server's verdict on a CasinoIntegration with these settings (dry run: nothing stays). */
async function apiServer(
  provider: string,
  field: string,
  settings: Record<string, unknown>,
): Promise<{ accepted: boolean; settings?: Record<string, unknown>; message?: string }> {
  try {
    const created = (await custom.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      dryRun: 'All',
      fieldValidation: 'Strict',
      body: {
        apiVersion: `${group}/${version}`,
        kind,
        metadata: { name: `probe-${randomBytes(4).toString('hex')}`, namespace },
        spec: {
          provider,
          [field]: settings,
          credentialsSecretRef: { name: 'platform' },
          streams: [{ name: 'players' }],
          destinationRefs: [{ name: 'lake' }],
        },
      },
    })) as { spec: Record<string, Record<string, unknown>> }
    return { accepted: true, settings: created.spec[field] }
  } catch (error) {
    if (error instanceof ApiException && (error.code === 422 || error.code === 400))
      return { accepted: false, message: String(error.body).slice(0, 300) }
    throw error
  }
}

/** What the connector is handed: the settings after the API server's defaulting. */
function withDefaults(settings: Record<string, unknown>, schema: Schema): Record<string, unknown> {
  const out = { ...settings }
  for (const [name, prop] of Object.entries(schema.properties ?? {}))
    if (out[name] === undefined && prop.default !== undefined) out[name] = prop.default
  return out
}

function show(value: unknown): string {
  if (value === ABSENT) return '(absent)'
  if (typeof value === 'string' && value.length > 20)
    return `${JSON.stringify(value.slice(0, 8))}… (${value.length} chars)`
  return JSON.stringify(value)
}

describe('casino providers: CRD and connector agree on settings', () => {
  it('every connector has a settings field in the CRD, and every such field a connector', () => {
    expect([...settingsFields().keys()].sort()).toEqual(Object.keys(casinoConnectors).sort())
  })

  for (const provider of Object.keys(casinoConnectors) as (keyof typeof casinoConnectors)[]) {
    it(`${provider}: the API server accepts a settings value exactly when the connector does`, async () => {
      const connector = casinoConnectors[provider]
      const field = settingsFields().get(provider)
      expect(field, `no spec field says "Settings for provider ${provider}."`).toBeDefined()
      const schema = spec.properties?.[field as string] as Schema
      const props = Object.entries(schema.properties ?? {})
      expect(props.length, `spec.${field} lists no properties`).toBeGreaterThan(0)
      const base = Object.fromEntries(props.map(([name, prop]) => [name, validValue(name, prop)]))

      // the starting point must pass the API server, or every verdict below means nothing
      const start = await apiServer(provider, field as string, base)
      expect(start.accepted, `API server refuses the base settings: ${start.message}`).toBe(true)
      const mismatches: string[] = []
      const startParsed = connector.settings.safeParse(start.settings)
      if (!startParsed.success)
        mismatches.push(
          `spec.${field} = ${JSON.stringify(base)}: API server accepts, connector rejects ` +
            `(${startParsed.error.issues[0]?.message}); the values below vary one field of it`,
        )
      let tried = 0
      for (const [name, prop] of props) {
        for (const value of candidates(name, prop)) {
          const settings = { ...base }
          if (value === ABSENT) delete settings[name]
          else settings[name] = value
          const api = await apiServer(provider, field as string, settings)
          const parsed = connector.settings.safeParse(api.settings ?? withDefaults(settings, schema))
          tried++
          if (api.accepted !== parsed.success) {
            mismatches.push(
              `spec.${field}.${name} = ${show(value)}: API server ${api.accepted ? 'accepts' : 'rejects'}, ` +
                `connector ${parsed.success ? 'accepts' : `rejects (${parsed.error.issues[0]?.message})`}`,
            )
          }
        }
      }
      expect(tried).toBeGreaterThan(props.length)
      expect(mismatches, `${mismatches.length} of ${tried} values get different verdicts`).toEqual([])
    })
  }

  it('each connector asks for the Secret keys its CRD field documents', () => {
    for (const [provider, field] of settingsFields()) {
      const connector = casinoConnectors[provider as keyof typeof casinoConnectors]
      const description = spec.properties?.[field]?.description ?? ''
      const documented = [...(/Credentials:(.*)$/s.exec(description)?.[1] ?? '').matchAll(/`([^`]+)`/g)]
        .map((m) => m[1])
        .sort()
      const shape = (connector.credentials as unknown as { shape?: Record<string, unknown> }).shape
      expect(shape, `${provider}: credentials is not an object schema`).toBeDefined()
      expect(Object.keys(shape ?? {}).sort(), `${provider}: Secret keys`).toEqual(documented)
    }
  })
})
