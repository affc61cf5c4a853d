import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { exactlyOneOf, withValidations } from '../controller/api/index.ts'
import { SchemaConversionError, toStructuralSchema } from './openapi.ts'
import { structuralViolations } from './structural.ts'

const d = (text: string) => ({ description: text })

function convert(schema: z.ZodType) {
  const result = toStructuralSchema(schema, { path: 'spec' })
  expect(structuralViolations(result, 'spec')).toEqual([])
  return result
}

describe('toStructuralSchema', () => {
  it('turns enums, literals and unions of literals into enum', () => {
    const result = convert(
      z
        .object({
          mode: z.enum(['Delete', 'Orphan']).describe('mode'),
          fixed: z.literal('segment').describe('fixed'),
          either: z.union([z.literal('a'), z.literal('b'), z.enum(['b', 'c'])]).describe('either'),
        })
        .describe('root'),
    )
    expect(result.properties?.mode).toEqual({
      description: 'mode',
      type: 'string',
      enum: ['Delete', 'Orphan'],
    })
    expect(result.properties?.fixed).toEqual({ description: 'fixed', type: 'string', enum: ['segment'] })
    expect(result.properties?.either).toEqual({
      description: 'either',
      type: 'string',
      enum: ['a', 'b', 'c'],
    })
  })

  it('keeps defaults, and a field with a default is not required', () => {
    const result = convert(
      z
        .object({
          interval: z.string().default('10m').describe('interval'),
          retries: z.int().min(0).max(20).default(3).describe('retries'),
          name: z.string().min(1).max(63).describe('name'),
        })
        .describe('root'),
    )
    expect(result.required).toEqual(['name'])
    expect(result.properties?.interval).toEqual({ description: 'interval', type: 'string', default: '10m' })
    expect(result.properties?.retries).toEqual({
      description: 'retries',
      type: 'integer',
      format: 'int32',
      default: 3,
      minimum: 0,
      maximum: 20,
    })
    expect(result.properties?.name).toMatchObject({ minLength: 1, maxLength: 63 })
  })

  it('converts nested objects without additionalProperties: false', () => {
    const result = convert(
      z
        .object({
          outer: z
            .strictObject({
              inner: z.object({ leaf: z.boolean().describe('leaf') }).describe('inner'),
            })
            .describe('outer'),
        })
        .describe('root'),
    )
    expect(result).toEqual({
      description: 'root',
      type: 'object',
      properties: {
        outer: {
          description: 'outer',
          type: 'object',
          properties: {
            inner: {
              description: 'inner',
              type: 'object',
              properties: { leaf: { description: 'leaf', type: 'boolean' } },
              required: ['leaf'],
            },
          },
          required: ['inner'],
        },
      },
      required: ['outer'],
    })
  })

  it('converts arrays, maps and list-type metadata', () => {
    const item = z.object({
      type: z.string().describe('key'),
      value: z.string().optional().describe('value'),
    })
    const result = convert(
      z
        .object({
          tags: z.array(z.string()).max(10).describe('tags'),
          entries: z.array(item.describe('entry')).meta({
            ...d('entries'),
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['type'],
          }),
          labels: z.record(z.string(), z.string()).describe('labels'),
        })
        .describe('root'),
    )
    expect(result.properties?.tags).toEqual({
      description: 'tags',
      type: 'array',
      maxItems: 10,
      items: { type: 'string' },
    })
    expect(result.properties?.entries).toMatchObject({
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: { description: 'entry', type: 'object', required: ['type'] },
    })
    expect(result.properties?.labels).toEqual({
      description: 'labels',
      type: 'object',
      additionalProperties: { type: 'string' },
    })
  })

  it('refuses a map-type list whose key field is optional', () => {
    const schema = z
      .object({
        entries: z
          .array(z.object({ type: z.string().optional().describe('key') }))
          .meta({ ...d('entries'), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
      })
      .describe('root')
    expect(() => toStructuralSchema(schema, { path: 'spec' })).toThrow(/spec\.entries: a list of type map/)
  })

  it('passes CEL rules through, merging rules added in several places', () => {
    const base = z.object({ a: z.string().optional().describe('a'), b: z.string().optional().describe('b') })
    const schema = withValidations(exactlyOneOf(base.describe('root'), ['a', 'b'], 'exactly one of a or b'), [
      { rule: "!has(self.a) || self.a != 'x'", message: 'a must not be x', fieldPath: '.a' },
    ])
    const result = convert(schema)
    expect(result['x-kubernetes-validations']).toEqual([
      { rule: '[has(self.a), has(self.b)].filter(x, x).size() == 1', message: 'exactly one of a or b' },
      { rule: "!has(self.a) || self.a != 'x'", message: 'a must not be x', fieldPath: '.a' },
    ])
    expect(result.description).toBe('root')
    // zod applies the same rule as the API server.
    expect(schema.safeParse({ a: 'y' }).success).toBe(true)
    const both = schema.safeParse({ a: 'y', b: 'z' })
    expect(both.success).toBe(false)
    expect(both.error?.issues[0]?.message).toBe('exactly one of a or b')
    expect(schema.safeParse({}).success).toBe(false)
  })

  it('names the field path when a description is missing', () => {
    const schema = z
      .object({
        http: z.object({ url: z.string() }).describe('http'),
      })
      .describe('root')
    expect(() => toStructuralSchema(schema, { path: 'spec' })).toThrow(SchemaConversionError)
    expect(() => toStructuralSchema(schema, { path: 'spec' })).toThrow(
      /^spec\.http\.url: field has no description/,
    )
    expect(() => toStructuralSchema(z.object({}), { path: 'status' })).toThrow(
      /^status: field has no description/,
    )
  })

  it('writes integer formats instead of zod’s range bounds', () => {
    const result = convert(
      z
        .object({
          generation: z.int().min(0).describe('generation'),
          small: z.int32().describe('small'),
          any: z.int().describe('any'),
          ratio: z.number().min(0).max(1).describe('ratio'),
        })
        .describe('root'),
    )
    expect(result.properties?.generation).toEqual({
      description: 'generation',
      type: 'integer',
      format: 'int64',
      minimum: 0,
    })
    expect(result.properties?.small).toEqual({ description: 'small', type: 'integer', format: 'int32' })
    expect(result.properties?.any).toEqual({ description: 'any', type: 'integer', format: 'int64' })
    expect(result.properties?.ratio).toEqual({ description: 'ratio', type: 'number', minimum: 0, maximum: 1 })
  })

  it('marks nullable fields and keeps only formats Kubernetes knows', () => {
    const result = convert(
      z
        .object({
          maybe: z.string().nullable().describe('maybe'),
          orNull: z.union([z.int(), z.null()]).describe('orNull'),
          at: z.iso.datetime({ offset: true }).describe('at'),
          id: z.uuid().describe('id'),
          token: z.jwt().describe('token'),
        })
        .describe('root'),
    )
    expect(result.properties?.maybe).toEqual({ description: 'maybe', type: 'string', nullable: true })
    expect(result.properties?.orNull).toEqual({
      description: 'orNull',
      type: 'integer',
      format: 'int64',
      nullable: true,
    })
    // The API server checks date-time and uuid itself; zod's JavaScript patterns are left out.
    expect(result.properties?.at).toEqual({ description: 'at', type: 'string', format: 'date-time' })
    expect(result.properties?.id).toEqual({ description: 'id', type: 'string', format: 'uuid' })
    expect(result.properties?.token).toEqual({ description: 'token', type: 'string' })
  })

  it('hoists the fields of a union of objects and keeps which ones each branch requires', () => {
    const schema = z
      .object({
        source: z
          .union([
            z.object({ calendarId: z.string().describe('calendar') }),
            z.object({ pageId: z.string().describe('page'), limit: z.int().optional().describe('limit') }),
          ])
          .describe('source'),
      })
      .describe('root')
    const result = convert(schema)
    expect(result.properties?.source).toEqual({
      description: 'source',
      type: 'object',
      properties: {
        calendarId: { description: 'calendar', type: 'string' },
        pageId: { description: 'page', type: 'string' },
        limit: { description: 'limit', type: 'integer', format: 'int64' },
      },
      anyOf: [{ required: ['calendarId'] }, { required: ['pageId'] }],
    })
  })

  it('keeps several patterns as allOf branches without types', () => {
    const result = convert(
      z
        .object({
          code: z
            .string()
            .regex(/^[a-z]/)
            .regex(/[0-9]$/)
            .describe('code'),
        })
        .describe('root'),
    )
    expect(result.properties?.code).toEqual({
      description: 'code',
      type: 'string',
      allOf: [{ pattern: '^[a-z]' }, { pattern: '[0-9]$' }],
    })
  })

  it('writes slashes in patterns plainly', () => {
    const result = convert(
      z
        .object({
          url: z
            .string()
            .regex(/^https?:\/\/[a-z]+\\\/$/)
            .describe('url'),
        })
        .describe('root'),
    )
    expect(result.properties?.url?.pattern).toBe('^https?://[a-z]+\\\\/$')
    expect(new RegExp(result.properties?.url?.pattern ?? '').test('https://example\\/')).toBe(true)
  })

  it('inlines schemas zod extracts into definitions', () => {
    const ref = z
      .object({ name: z.string().describe('name') })
      .meta({ id: 'SecretRef', description: 'a Secret' })
    const result = convert(
      z.object({ first: ref, second: ref.describe('the second Secret').optional() }).describe('root'),
    )
    expect(JSON.stringify(result)).not.toContain('$ref')
    expect(result.properties?.first).toEqual({
      description: 'a Secret',
      type: 'object',
      properties: { name: { description: 'name', type: 'string' } },
      required: ['name'],
    })
    expect(result.properties?.second?.description).toBe('the second Secret')
    expect(result.properties?.second?.properties?.name?.type).toBe('string')
    expect(result.required).toEqual(['first'])
  })

  it('supports integer-or-string and free-form values', () => {
    const result = convert(
      z
        .object({
          port: z.union([z.int(), z.string()]).describe('port'),
          extra: z.unknown().describe('extra'),
        })
        .describe('root'),
    )
    expect(result.properties?.port).toEqual({
      description: 'port',
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    })
    expect(result.properties?.extra).toEqual({
      description: 'extra',
      'x-kubernetes-preserve-unknown-fields': true,
    })
  })

  it('refuses what a CRD cannot express, naming the field', () => {
    const mixed = z.object({ v: z.union([z.boolean(), z.string()]).describe('v') }).describe('root')
    expect(() => toStructuralSchema(mixed, { path: 'spec' })).toThrow(/^spec\.v: a union of different types/)
    const tuple = z.object({ t: z.tuple([z.string(), z.int()]).describe('t') }).describe('root')
    expect(() => toStructuralSchema(tuple, { path: 'spec' })).toThrow(/^spec\.t: tuples/)
    const lookahead = z
      .object({
        p: z
          .string()
          .regex(/^(?!x)/)
          .describe('p'),
      })
      .describe('root')
    expect(() => toStructuralSchema(lookahead, { path: 'spec' })).toThrow(/^spec\.p: pattern .* lookaround/)
    interface Node {
      children?: Node[]
    }
    const tree: z.ZodType<Node> = z.lazy(() =>
      z.object({ children: z.array(tree).optional().describe('children') }).describe('node'),
    )
    expect(() => toStructuralSchema(z.object({ tree }).describe('root'), { path: 'spec' })).toThrow(/^spec/)
    const date = z.object({ when: z.date().describe('when') }).describe('root')
    expect(() => toStructuralSchema(date, { path: 'spec' })).toThrow(/^spec: zod cannot express/)
  })

  it('refuses CEL rules inside union branches', () => {
    const branch = withValidations(z.object({ a: z.string().describe('a') }), [{ rule: 'true' }])
    const schema = z
      .object({ u: z.union([branch, z.object({ b: z.string().describe('b') })]).describe('u') })
      .describe('root')
    expect(() => toStructuralSchema(schema, { path: 'spec' })).toThrow(
      /spec\.u: union branches may only declare/,
    )
  })
})

describe('structuralViolations', () => {
  it('reports what the API server would reject', () => {
    expect(
      structuralViolations({
        type: 'object',
        properties: { a: { description: 'no type' } },
        anyOf: [{ type: 'object', required: ['b'] }],
      }),
    ).toEqual([
      '<root>.a: has no type',
      '<root>(anyOf[0]): type inside a logical junctor',
      '<root>(anyOf[0]): requires b, which is not declared',
    ])
  })
})
