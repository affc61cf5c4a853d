/**
 * Builds the production bundle: `bin/switchboard.ts` and everything it imports (Switchboard's
 * sources and their npm dependencies) as one minified ES module, `dist/switchboard.mjs`, which the
 * image runs instead of the TypeScript sources. What is imported lazily (`import()`: the Twilio
 * SDK, loaded at a Twilio client's first call) goes into `dist/chunks/`, read only when used.
 *
 * Why: Node then reads, resolves and links one module instead of about two thousand (1,908 for
 * `switchboard controller --help`, 868 of them `@kubernetes/client-node`'s), and the unused parts
 * of the libraries (client-node's API classes that Switchboard never calls, for one) are left out.
 * What that saves is measured in bench/README.md.
 *
 *   node hack/ship/bundle.ts [--out-dir dist]      writes DIR/switchboard.mjs and DIR/chunks/
 *
 * The bundler is rolldown (a devDependency; its native binary is the registry package
 * `@rolldown/binding-<platform>`, no install script). The output is ASCII only: V8 keeps a
 * module's source for as long as the module lives, and a source with one character beyond
 * Latin-1 is held at two bytes a character.
 */
import { rmSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { build } from 'rolldown'

export const ROOT = resolve(import.meta.dirname, '../..')
export const DEFAULT_OUT_DIR = resolve(ROOT, 'dist')

/** Builds into `outDir`; returns the entry file (what `node` runs) and its size. */
export async function bundle(outDir = DEFAULT_OUT_DIR): Promise<{ file: string; bytes: number }> {
  await build({
    input: resolve(ROOT, 'bin/switchboard.ts'),
    platform: 'node',
    logLevel: 'warn',
    output: {
      dir: outDir,
      format: 'esm',
      entryFileNames: 'switchboard.mjs',
      chunkFileNames: 'chunks/[name]-[hash].mjs',
      minify: true,
      charset: 'ascii',
      comments: { legal: false },
    },
  })
  const file = resolve(outDir, 'switchboard.mjs')
  return { file, bytes: statSync(file).size }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { 'out-dir': { type: 'string' } } })
  const outDir = values['out-dir'] ? resolve(values['out-dir']) : DEFAULT_OUT_DIR
  rmSync(outDir, { recursive: true, force: true })
  const { file, bytes } = await bundle(outDir)
  process.stdout.write(`${file}: ${(bytes / 2 ** 20).toFixed(1)} MiB\n`)
}
