import { isDeepStrictEqual } from 'node:util'
import { z } from 'zod'

/**
 * Turns a zod schema into a Kubernetes *structural* OpenAPI v3 schema, the form a
 * CustomResourceDefinition requires:
 * - every node has a `type` (or `x-kubernetes-int-or-string` / `x-kubernetes-preserve-unknown-fields`);
 * - every field used inside `allOf`/`anyOf`/`oneOf`/`not` is also declared outside them, and the
 *   branches carry only value validations (no `type`, `description`, `default`, `nullable`,
 *   `additionalProperties`);
 * - no `$ref`, `$schema`, `const` or `additionalProperties: false` (the API server prunes unknown
 *   fields instead).
 * Every property must carry a description, so that `kubectl explain` teaches the API.
 *
 * zod's own converter (`z.toJSONSchema`, OpenAPI 3.0 target, input side so that fields with
 * defaults are optional) does the first pass; custom keys given with `.meta()` — for example
 * `x-kubernetes-validations` or `x-kubernetes-list-type` — come through it unchanged.
 */

export interface ValidationRule {
  rule: string
  message?: string
  messageExpression?: string
  reason?: string
  fieldPath?: string
  optionalOldSelf?: boolean
}

export interface StructuralSchema {
  description?: string
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean'
  format?: string
  enum?: unknown[]
  default?: unknown
  nullable?: boolean
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  exclusiveMinimum?: boolean
  maximum?: number
  exclusiveMaximum?: boolean
  multipleOf?: number
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minProperties?: number
  maxProperties?: number
  'x-kubernetes-int-or-string'?: boolean
  'x-kubernetes-preserve-unknown-fields'?: boolean
  'x-kubernetes-embedded-resource'?: boolean
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map'
  'x-kubernetes-list-map-keys'?: string[]
  'x-kubernetes-map-type'?: 'granular' | 'atomic'
  items?: StructuralSchema
  properties?: Record<string, StructuralSchema>
  additionalProperties?: StructuralSchema
  required?: string[]
  allOf?: StructuralSchema[]
  anyOf?: StructuralSchema[]
  oneOf?: StructuralSchema[]
  not?: StructuralSchema
  'x-kubernetes-validations'?: ValidationRule[]
  title?: string
  example?: unknown
}

/** The order keys are written in, so that the generated YAML is stable and reads top-down. */
const keyOrder: readonly (keyof StructuralSchema)[] = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'nullable',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'items',
  'properties',
  'additionalProperties',
  'required',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'x-kubernetes-validations',
  'title',
  'example',
]
const knownKeys = new Set<string>(keyOrder)

/** Keys zod may emit that have no place in a CRD schema; dropped silently. */
const droppedKeys = new Set(['$schema', '$id', 'id', 'readOnly', 'writeOnly', 'examples', 'contentEncoding'])

/** Keys a branch of a logical junctor must not carry (Kubernetes structural schema rules). */
const notInJunctor = [
  'type',
  'description',
  'default',
  'nullable',
  'additionalProperties',
  'title',
  'example',
] as const

/** Formats the API server knows; any other format zod emits is dropped. */
const supportedFormats = new Set([
  'int32',
  'int64',
  'float',
  'double',
  'byte',
  'date',
  'date-time',
  'duration',
  'uri',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'cidr',
  'mac',
  'uuid',
  'password',
])
/** Formats the API server checks on its own: zod's JavaScript pattern for them is not needed. */
const selfCheckedFormats = new Set(['date-time', 'date', 'email', 'uuid', 'ipv4', 'ipv6', 'hostname', 'byte'])

const int32Min = -2147483648
const int32Max = 2147483647

export class SchemaConversionError extends Error {
  readonly path: string
  constructor(path: string, message: string) {
    super(`${path}: ${message}`)
    this.name = 'SchemaConversionError'
    this.path = path
  }
}

export interface ConvertOptions {
  /** Field path of the schema's root, used in error messages (for example `spec`). */
  path?: string
}

type Json = Record<string, unknown>

interface Context {
  defs: Record<string, unknown>
  refs: string[]
}

/** Converts a zod schema into a structural schema; throws {@link SchemaConversionError}. */
export function toStructuralSchema(schema: z.ZodType, options: ConvertOptions = {}): StructuralSchema {
  const path = options.path ?? '<root>'
  let json: Json
  try {
    json = z.toJSONSchema(schema, {
      target: 'openapi-3.0',
      io: 'input',
      unrepresentable: 'throw',
      cycles: 'throw',
      reused: 'inline',
      override: ({ zodSchema, path: at }) => {
        // zod writes a tuple as an array of a union, which would silently lose the positions.
        if (zodSchema._zod.def.type === 'tuple') {
          throw new SchemaConversionError(fieldPath(path, at), 'tuples cannot be expressed in a CRD')
        }
      },
    }) as Json
  } catch (error) {
    if (error instanceof SchemaConversionError) throw error
    throw new SchemaConversionError(path, `zod cannot express this schema: ${(error as Error).message}`)
  }
  const ctx: Context = {
    defs: { ...((json.definitions as Json | undefined) ?? {}), ...((json.$defs as Json | undefined) ?? {}) },
    refs: [],
  }
  delete json.definitions
  delete json.$defs
  const result = convert(json, path, ctx)
  requireDescription(result, path)
  return result
}

/** `['properties', 'a', 'items', 'properties', 'b']` → `spec.a[].b` */
function fieldPath(root: string, at: readonly (string | number)[]): string {
  let out = root
  for (let i = 0; i < at.length; i++) {
    const step = at[i]
    if (step === 'properties') out += `.${String(at[++i])}`
    else if (step === 'items') out += '[]'
    else if (step === 'additionalProperties') out += '.<key>'
    else out += `(${String(step)})`
  }
  return out
}

function requireDescription(node: StructuralSchema, path: string): void {
  if (typeof node.description !== 'string' || node.description.trim() === '') {
    throw new SchemaConversionError(
      path,
      'field has no description: add .describe() or .meta({ description }) to its zod schema ' +
        '(kubectl explain shows it to users)',
    )
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function resolveRef(node: Json, path: string, ctx: Context): Json {
  const ref = node.$ref
  if (typeof ref !== 'string') return node
  const match = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref)
  const name = match?.[1]?.replaceAll('~1', '/').replaceAll('~0', '~')
  const target = name === undefined ? undefined : ctx.defs[name]
  if (!isObject(target)) throw new SchemaConversionError(path, `cannot resolve ${ref}`)
  const { $ref: _, ...siblings } = node
  // The referenced body first, then what the reference adds (a description, a default).
  return { ...target, ...siblings }
}

/** Converts one node. `branch` marks a member of allOf/anyOf/oneOf/not, which may omit its type. */
function convert(input: Json, path: string, ctx: Context, branch = false): StructuralSchema {
  const ref = typeof input.$ref === 'string' ? input.$ref : undefined
  if (ref && ctx.refs.includes(ref)) {
    throw new SchemaConversionError(path, 'recursive schemas cannot be expressed in a CRD')
  }
  if (ref) ctx.refs.push(ref)
  try {
    return convertResolved(resolveRef(input, path, ctx), path, ctx, branch)
  } finally {
    if (ref) ctx.refs.pop()
  }
}

function convertResolved(source: Json, path: string, ctx: Context, branch: boolean): StructuralSchema {
  const node: Json = { ...source }
  for (const key of droppedKeys) delete node[key]

  // const → enum
  if ('const' in node) {
    node.enum = [node.const]
    delete node.const
  }

  // JSON Schema type arrays: only [T, "null"] has a structural form.
  if (Array.isArray(node.type)) {
    const types = node.type.filter((t) => t !== 'null')
    if (types.length !== 1) {
      throw new SchemaConversionError(path, `a field cannot have several types (${node.type.join(', ')})`)
    }
    if (types.length < node.type.length) node.nullable = true
    node.type = types[0]
  }

  if (node.additionalProperties === false || node.additionalProperties === true) {
    // Structural schemas prune unknown fields; `true` means "anything goes".
    if (node.additionalProperties === true) node['x-kubernetes-preserve-unknown-fields'] = true
    delete node.additionalProperties
  }

  const out: StructuralSchema = {}
  for (const key of Object.keys(node)) {
    if (!knownKeys.has(key)) {
      throw new SchemaConversionError(path, `keyword "${key}" is not allowed in a CRD schema`)
    }
  }

  // Copy the scalar keywords as they are.
  for (const key of keyOrder) {
    if (
      key === 'items' ||
      key === 'properties' ||
      key === 'additionalProperties' ||
      key === 'allOf' ||
      key === 'anyOf' ||
      key === 'oneOf' ||
      key === 'not'
    ) {
      continue
    }
    if (node[key] !== undefined) (out as Json)[key] = node[key]
  }

  if (isObject(node.items)) out.items = convert(node.items, `${path}[]`, ctx)

  if (isObject(node.properties)) {
    out.properties = {}
    for (const [name, value] of Object.entries(node.properties)) {
      if (!isObject(value))
        throw new SchemaConversionError(`${path}.${name}`, 'boolean schemas are not supported')
      const converted = convert(value, `${path}.${name}`, ctx)
      requireDescription(converted, `${path}.${name}`)
      out.properties[name] = converted
    }
  }

  if (isObject(node.additionalProperties)) {
    out.additionalProperties = convert(node.additionalProperties, `${path}.<key>`, ctx)
  }

  if (isObject(node.not))
    out.not = junctorBranch(convert(node.not, `${path}(not)`, ctx, true), out, `${path}(not)`)

  for (const junctor of ['anyOf', 'oneOf'] as const) {
    const branches = node[junctor]
    if (Array.isArray(branches)) applyUnion(out, junctor, branches as Json[], path, ctx)
  }
  if (Array.isArray(node.allOf)) applyIntersection(out, node.allOf as Json[], path, ctx)

  fixNumbers(out)
  fixStrings(out, path)
  if (!branch) fixTypeless(out, path)
  checkRules(out, path)
  return order(out)
}

/** A union (`anyOf`/`oneOf`) rewritten into what structural schemas allow. */
function applyUnion(
  out: StructuralSchema,
  junctor: 'anyOf' | 'oneOf',
  raw: Json[],
  path: string,
  ctx: Context,
) {
  const converted: StructuralSchema[] = []
  for (const [i, branch] of raw.entries()) {
    if (isNullBranch(branch)) {
      out.nullable = true
      continue
    }
    converted.push(convert(branch, `${path}(${junctor}[${i}])`, ctx, true))
  }
  if (converted.length === 0) throw new SchemaConversionError(path, 'a field cannot be only null')

  // A single branch left (the other was null): it is the field.
  if (converted.length === 1) {
    mergeInto(out, converted[0] as StructuralSchema, path)
    return
  }

  const types = new Set(converted.map((b) => b.type))

  // integer | string is the one mixed type Kubernetes allows.
  if (types.size === 2 && types.has('integer') && types.has('string') && out.type === undefined) {
    if (!converted.every((b) => onlyKeys(b, ['type', 'format', 'description']))) {
      throw new SchemaConversionError(path, 'an integer-or-string field cannot carry other validations')
    }
    out['x-kubernetes-int-or-string'] = true
    out.anyOf = [{ type: 'integer' }, { type: 'string' }]
    return
  }

  if (types.size !== 1) {
    throw new SchemaConversionError(
      path,
      `a union of different types (${[...types].join(', ')}) cannot be expressed in a CRD; use one ` +
        'object with optional fields and a CEL rule (see exactlyOneOf in controller/api/common.ts)',
    )
  }
  const type = converted[0]?.type
  if (out.type !== undefined && out.type !== type) {
    throw new SchemaConversionError(path, `union branches are ${type} but the field is ${out.type}`)
  }
  if (type !== undefined) out.type = type

  // A union of enums is one enum.
  if (converted.every((b) => Array.isArray(b.enum) && onlyKeys(b, ['enum', 'type', 'description']))) {
    const values: unknown[] = []
    for (const b of converted) {
      for (const v of b.enum ?? []) if (!values.some((seen) => isDeepStrictEqual(seen, v))) values.push(v)
    }
    out.enum = values
    return
  }

  if (type === 'object') {
    // The fields of every branch are declared on the field itself; the branches keep only which
    // fields each of them requires.
    const properties: Record<string, StructuralSchema> = { ...(out.properties ?? {}) }
    for (const b of converted) {
      if (b.additionalProperties || b['x-kubernetes-validations'] || b.allOf || b.anyOf || b.oneOf || b.not) {
        throw new SchemaConversionError(path, 'union branches may only declare fields and required fields')
      }
      for (const [name, schema] of Object.entries(b.properties ?? {})) {
        const existing = properties[name]
        if (existing && !isDeepStrictEqual(existing, schema)) {
          throw new SchemaConversionError(
            `${path}.${name}`,
            'the field is declared differently in two union branches; declare it once',
          )
        }
        properties[name] = schema
      }
    }
    out.properties = properties
    const requiredSets = converted.map((b) => b.required ?? [])
    const common = (requiredSets[0] ?? []).filter((name) => requiredSets.every((set) => set.includes(name)))
    if (common.length > 0) out.required = unique([...(out.required ?? []), ...common])
    const rest = requiredSets.map((set) => set.filter((name) => !common.includes(name)))
    if (rest.some((set) => set.length === 0)) {
      if (junctor === 'anyOf') return // one branch needs nothing more: the union adds no constraint
      throw new SchemaConversionError(path, 'oneOf branches must each require a field of their own')
    }
    out[junctor] = rest.map((set) => ({ required: set }))
    return
  }

  // Scalars or arrays of one type: the branches keep their value validations.
  const branches = converted.map((b) => junctorBranch(b, out, path))
  if (junctor === 'anyOf' && branches.some((b) => Object.keys(b).length === 0)) return
  out[junctor] = branches
}

/** An intersection: object members fold into the field, value validations stay in allOf. */
function applyIntersection(out: StructuralSchema, raw: Json[], path: string, ctx: Context) {
  const kept: StructuralSchema[] = []
  for (const [i, member] of raw.entries()) {
    const converted = convert(member, `${path}(allOf[${i}])`, ctx, true)
    if (converted.type !== undefined) {
      if (out.type !== undefined && out.type !== converted.type) {
        throw new SchemaConversionError(
          path,
          `an intersection of ${out.type} and ${converted.type} matches nothing`,
        )
      }
      out.type = converted.type
    }
    if (converted.properties) {
      out.properties = out.properties ?? {}
      for (const [name, schema] of Object.entries(converted.properties)) {
        const existing = out.properties[name]
        if (existing && !isDeepStrictEqual(existing, schema)) {
          throw new SchemaConversionError(
            `${path}.${name}`,
            'the field is declared differently in an intersection',
          )
        }
        out.properties[name] = schema
      }
      out.required = unique([...(out.required ?? []), ...(converted.required ?? [])])
      if (out.required.length === 0) delete out.required
      const { properties: _p, required: _r, type: _t, description: _d, ...others } = converted
      if (Object.keys(others).length > 0) kept.push(junctorBranch(others, out, path))
      continue
    }
    const branch = junctorBranch(converted, out, path)
    if (Object.keys(branch).length > 0) kept.push(branch)
  }
  if (kept.length > 0) out.allOf = [...(out.allOf ?? []), ...kept]
}

/** Strips what a junctor branch may not carry; the field itself must agree on the type. */
function junctorBranch(branch: StructuralSchema, parent: StructuralSchema, path: string): StructuralSchema {
  if (branch.type !== undefined && parent.type !== undefined && branch.type !== parent.type) {
    throw new SchemaConversionError(
      path,
      `a ${branch.type} branch inside a ${parent.type} field matches nothing`,
    )
  }
  if (branch['x-kubernetes-validations']) {
    throw new SchemaConversionError(
      path,
      'CEL rules (x-kubernetes-validations) cannot sit inside a union branch',
    )
  }
  if (branch.properties || branch.items || branch.additionalProperties) {
    throw new SchemaConversionError(
      path,
      'a union branch cannot declare fields of its own; declare them on the field',
    )
  }
  const stripped: StructuralSchema = { ...branch }
  for (const key of notInJunctor) delete stripped[key]
  return stripped
}

function mergeInto(out: StructuralSchema, branch: StructuralSchema, path: string): void {
  if (out.type !== undefined && branch.type !== undefined && out.type !== branch.type) {
    throw new SchemaConversionError(path, `the field is ${out.type} but its only branch is ${branch.type}`)
  }
  for (const [key, value] of Object.entries(branch)) {
    // The field's own description and default win over the branch's.
    if ((out as Json)[key] === undefined) (out as Json)[key] = value
  }
}

function isNullBranch(branch: Json): boolean {
  if (branch.type === 'null') return true
  return Array.isArray(branch.enum) && branch.enum.length === 1 && branch.enum[0] === null
}

function onlyKeys(node: StructuralSchema, keys: readonly string[]): boolean {
  return Object.keys(node).every((key) => keys.includes(key))
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)]
}

/** Integer formats: zod writes its safe-integer and int32 ranges as bounds; Kubernetes uses formats. */
function fixNumbers(out: StructuralSchema): void {
  if (out.type === 'integer') {
    let format = out.format
    if (out.minimum === int32Min || out.maximum === int32Max) {
      format ??= 'int32'
      if (out.minimum === int32Min) delete out.minimum
      if (out.maximum === int32Max) delete out.maximum
    }
    if (out.minimum === Number.MIN_SAFE_INTEGER || out.maximum === Number.MAX_SAFE_INTEGER) {
      format ??= 'int64'
      if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum
      if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum
    }
    if (format === undefined) {
      const fits = (n: number | undefined) => n === undefined || (n >= int32Min && n <= int32Max)
      format =
        out.minimum !== undefined && out.maximum !== undefined && fits(out.minimum) && fits(out.maximum)
          ? 'int32'
          : 'int64'
    }
    out.format = format
  } else if (out.type === 'number') {
    if (out.minimum === -Number.MAX_VALUE) delete out.minimum
    if (out.maximum === Number.MAX_VALUE) delete out.maximum
  }
}

/** Formats the API server does not know are dropped; JavaScript-only patterns are refused. */
function fixStrings(out: StructuralSchema, path: string): void {
  if (out.format !== undefined && out.type !== 'integer' && out.type !== 'number') {
    if (!supportedFormats.has(out.format)) delete out.format
    else if (selfCheckedFormats.has(out.format)) delete out.pattern
  }
  // JavaScript writes `/` in a regex source as `\/`; RE2 reads both the same, users read `/` better.
  if (out.pattern !== undefined) out.pattern = unescapeSlashes(out.pattern)
  for (const branch of out.allOf ?? [])
    if (branch.pattern !== undefined) branch.pattern = unescapeSlashes(branch.pattern)
  const patterns = [out.pattern, ...(out.allOf ?? []).map((b) => b.pattern)]
  for (const pattern of patterns) {
    if (pattern === undefined) continue
    // The API server matches patterns with Go's RE2, which has no lookaround or backreferences.
    if (/\(\?<?[=!]|\\[1-9]/.test(pattern)) {
      throw new SchemaConversionError(
        path,
        `pattern ${pattern} uses lookaround or backreferences, which Kubernetes cannot check`,
      )
    }
  }
}

function unescapeSlashes(pattern: string): string {
  return pattern.replace(/(?<!\\)((?:\\\\)*)\\\//g, '$1/')
}

/** A node without a type is only valid as "any value kept as it is". */
function fixTypeless(out: StructuralSchema, path: string): void {
  if (
    out.type !== undefined ||
    out['x-kubernetes-int-or-string'] ||
    out['x-kubernetes-preserve-unknown-fields']
  )
    return
  const validations = Object.keys(out).filter(
    (key) => key !== 'description' && key !== 'default' && key !== 'nullable',
  )
  if (validations.length > 0) {
    throw new SchemaConversionError(path, `the field has no type (keywords: ${validations.join(', ')})`)
  }
  out['x-kubernetes-preserve-unknown-fields'] = true
}

function checkRules(out: StructuralSchema, path: string): void {
  if (out['x-kubernetes-list-type'] === 'map') {
    const keys = out['x-kubernetes-list-map-keys'] ?? []
    const required = out.items?.required ?? []
    const missing = keys.filter(
      (key) => !required.includes(key) && out.items?.properties?.[key]?.default === undefined,
    )
    if (keys.length === 0 || out.items?.type !== 'object' || missing.length > 0) {
      throw new SchemaConversionError(
        path,
        'a list of type map needs object items whose x-kubernetes-list-map-keys are required fields',
      )
    }
  }
  for (const rule of out['x-kubernetes-validations'] ?? []) {
    if (typeof rule?.rule !== 'string' || rule.rule.trim() === '') {
      throw new SchemaConversionError(path, 'every x-kubernetes-validations entry needs a rule')
    }
  }
}

function order(out: StructuralSchema): StructuralSchema {
  const sorted: Json = {}
  for (const key of keyOrder) if (out[key] !== undefined) sorted[key] = out[key]
  return sorted as StructuralSchema
}
