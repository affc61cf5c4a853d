/**
 * Every dependency that ships an install script has been reviewed: npm 11.19 and later skip a
 * dependency's install scripts unless package.json's `allowScripts` names it, so an unreviewed
 * one would silently install broken. This walks the installed tree (what the lock brought) and
 * asks for a decision, approved (true) or denied (false), for each package with such a script.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')
const LIFECYCLE = ['preinstall', 'install', 'postinstall'] as const

interface Manifest {
  name?: string
  version?: string
  scripts?: Record<string, string>
  gypfile?: boolean
  allowScripts?: Record<string, boolean>
}

function read(path: string): Manifest {
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest
}

/** Packages under node_modules (scoped ones included, nested node_modules too). */
function* packages(dir: string): Generator<{ dir: string; manifest: Manifest }> {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue
    const path = join(dir, entry)
    if (entry.startsWith('@')) {
      yield* packages(path)
      continue
    }
    const manifestPath = join(path, 'package.json')
    if (!existsSync(manifestPath)) continue
    yield { dir: path, manifest: read(manifestPath) }
    yield* packages(join(path, 'node_modules'))
  }
}

/** What npm would run at install time (a binding.gyp without an install script means node-gyp). */
function installScripts(dir: string, manifest: Manifest): string[] {
  const scripts = LIFECYCLE.filter((s) => manifest.scripts?.[s])
  if (scripts.length === 0 && manifest.gypfile !== false && existsSync(join(dir, 'binding.gyp')))
    scripts.push('install')
  return scripts
}

function decided(allow: Record<string, boolean>, name: string, version: string | undefined): boolean {
  return Object.keys(allow).some((key) => key === name || key === `${name}@${version}`)
}

describe('dependency install scripts', () => {
  const project = read(join(ROOT, 'package.json'))

  it('package.json records the review (allowScripts)', () => {
    expect(project.allowScripts, 'package.json has no allowScripts field').toBeTypeOf('object')
  })

  it('every installed package with an install script is approved or denied in allowScripts', () => {
    const allow = project.allowScripts ?? {}
    const seen: string[] = []
    const unreviewed: string[] = []
    for (const { dir, manifest } of packages(join(ROOT, 'node_modules'))) {
      if (!manifest.name) continue
      seen.push(manifest.name)
      const scripts = installScripts(dir, manifest)
      if (scripts.length > 0 && !decided(allow, manifest.name, manifest.version))
        unreviewed.push(`${manifest.name}@${manifest.version} (${scripts.join(', ')})`)
    }
    // the walk found the tree (a broken walk would pass on nothing)
    expect(seen).toContain('fastify')
    expect(seen).toContain('@kubernetes/client-node')
    expect(unreviewed, 'review these and record them with `npm install-scripts approve|deny`').toEqual([])
  })

  it('the walk recognises each kind of install script', () => {
    expect(installScripts(ROOT, { scripts: { postinstall: 'node x.js' } })).toEqual(['postinstall'])
    expect(installScripts(ROOT, { scripts: { test: 'vitest' } })).toEqual([])
  })
})
