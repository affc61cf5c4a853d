/**
 * Writes the part of Twilio's published OpenAPI description (MIT, Twilio Inc.) that the Twilio
 * sandbox is checked against: the Messages paths and every schema they reference, transitively.
 * The full description (1.8 MB) is not in the repository; this extract is, so the check runs on
 * any machine. `test/sandbox/twilio/openapi.test.ts` compares the extract with the full
 * description whenever that is at hand.
 *
 *   node hack/ship/extract-twilio-openapi.ts [path/to/twilio_api_v2010.json]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'

export const EXTRACT_PATHS = [
  '/2010-04-01/Accounts/{AccountSid}/Messages.json',
  '/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json',
] as const

const ROOT = resolve(import.meta.dirname, '../..')
export const EXTRACT_FILE = resolve(ROOT, 'test/sandbox/twilio/openapi-messages.json')

/** The full description: $TWILIO_OPENAPI, else ../shared/specs beside the repository. */
export function fullSpecPath(): string | undefined {
  return [
    process.env.TWILIO_OPENAPI,
    resolve(ROOT, '../shared/specs/twilio/twilio_api_v2010.json'),
    resolve(ROOT, '../../shared/specs/twilio/twilio_api_v2010.json'),
  ].find((p): p is string => !!p && existsSync(p))
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

export function extract(spec: {
  openapi?: string
  info?: Json
  paths: Record<string, Json>
  components: { schemas: Record<string, Json> }
}) {
  const paths: Record<string, Json> = {}
  for (const p of EXTRACT_PATHS) {
    const item = spec.paths[p]
    if (!item) throw new Error(`the description has no path ${p}`)
    paths[p] = item
  }
  const schemas: Record<string, Json> = {}
  const visit = (node: Json): void => {
    if (Array.isArray(node)) for (const n of node) visit(n)
    else if (node && typeof node === 'object') {
      const ref = node.$ref
      if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
        const name = ref.slice('#/components/schemas/'.length)
        if (!(name in schemas)) {
          const schema = spec.components.schemas[name]
          if (schema === undefined) throw new Error(`the description has no schema ${name}`)
          schemas[name] = schema
          visit(schema)
        }
      }
      for (const v of Object.values(node)) visit(v)
    }
  }
  visit(paths)
  // the message schema itself, which the sandbox's answers are checked against
  const message = spec.components.schemas['api.v2010.account.message']
  if (message !== undefined && !('api.v2010.account.message' in schemas)) {
    schemas['api.v2010.account.message'] = message
    visit(message)
  }
  const sorted = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)))
  return {
    openapi: spec.openapi,
    info: spec.info,
    'x-extract': `Extract of Twilio's twilio_api_v2010.json (MIT, Copyright Twilio Inc.; see openapi-LICENSE): the paths ${EXTRACT_PATHS.join(', ')} and the schemas they reference. Regenerate with node hack/ship/extract-twilio-openapi.ts.`,
    paths,
    components: { schemas: sorted },
  }
}

if (import.meta.main) {
  const from = process.argv[2] ?? fullSpecPath()
  if (!from) {
    process.stderr.write('Twilio OpenAPI description not found: pass its path or set TWILIO_OPENAPI\n')
    process.exit(2)
  }
  const out = extract(JSON.parse(readFileSync(from, 'utf8')))
  writeFileSync(EXTRACT_FILE, `${JSON.stringify(out, null, 2)}\n`)
  process.stdout.write(`wrote ${EXTRACT_FILE} (${Object.keys(out.components.schemas).length} schemas)\n`)
}
