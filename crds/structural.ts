import type { StructuralSchema } from './openapi.ts'

/**
 * Checks the Kubernetes structural-schema rules on a converted schema and returns every
 * violation as `path: problem` (empty when the schema is structural). The API server applies the
 * same rules when a CRD is created; this lets tests catch a violation without one.
 */
export function structuralViolations(schema: StructuralSchema, path = '<root>'): string[] {
  const problems: string[] = []
  walk(schema, path, problems)
  return problems
}

const forbiddenInJunctor = ['type', 'description', 'default', 'nullable', 'additionalProperties'] as const

function walk(node: StructuralSchema, path: string, problems: string[]): void {
  const raw = node as Record<string, unknown>
  for (const key of ['$ref', '$schema', '$defs', 'definitions', 'const']) {
    if (key in raw) problems.push(`${path}: has ${key}`)
  }
  const typeless = node['x-kubernetes-int-or-string'] || node['x-kubernetes-preserve-unknown-fields']
  if (node.type === undefined && !typeless) problems.push(`${path}: has no type`)
  if (node.properties && node.additionalProperties) {
    problems.push(`${path}: has both properties and additionalProperties`)
  }
  if ((raw.additionalProperties as unknown) === false) problems.push(`${path}: additionalProperties: false`)
  if (node.type === 'array' && !node.items) problems.push(`${path}: array without items`)
  for (const [name, child] of Object.entries(node.properties ?? {})) walk(child, `${path}.${name}`, problems)
  if (node.items) walk(node.items, `${path}[]`, problems)
  if (node.additionalProperties) walk(node.additionalProperties, `${path}.<key>`, problems)
  const junctors: [string, StructuralSchema[]][] = [
    ['allOf', node.allOf ?? []],
    ['anyOf', node.anyOf ?? []],
    ['oneOf', node.oneOf ?? []],
    ['not', node.not ? [node.not] : []],
  ]
  for (const [name, branches] of junctors) {
    for (const [i, branch] of branches.entries()) {
      checkBranch(
        branch,
        node,
        `${path}(${name}[${i}])`,
        problems,
        Boolean(node['x-kubernetes-int-or-string']),
      )
    }
  }
}

function checkBranch(
  branch: StructuralSchema,
  parent: StructuralSchema,
  path: string,
  problems: string[],
  intOrString: boolean,
): void {
  for (const key of forbiddenInJunctor) {
    // The one exception: `x-kubernetes-int-or-string` with anyOf [{type: integer}, {type: string}].
    if (key === 'type' && intOrString) continue
    if (branch[key] !== undefined) problems.push(`${path}: ${key} inside a logical junctor`)
  }
  if (branch['x-kubernetes-validations']) problems.push(`${path}: CEL rule inside a logical junctor`)
  for (const name of Object.keys(branch.properties ?? {})) {
    if (!parent.properties?.[name]) problems.push(`${path}.${name}: not declared outside the junctor`)
  }
  for (const name of branch.required ?? []) {
    if (!parent.properties?.[name]) problems.push(`${path}: requires ${name}, which is not declared`)
  }
  if (branch.items && !parent.items) problems.push(`${path}: items not declared outside the junctor`)
}
