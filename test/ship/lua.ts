/**
 * Runs the chart's Argo CD health script (charts/switchboard/argocd/health.lua) the way Argo CD
 * does: the object as the global `obj`, the script's return value read as `{status, message}`.
 * Argo CD embeds a Lua 5.1 VM; the tests run every Lua interpreter found on PATH (lua5.1 first,
 * then lua5.4, lua5.3, lua), so the script stays within what 5.1 accepts.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { resolve } from 'node:path'

export const HEALTH_LUA = resolve(import.meta.dirname, '../../charts/switchboard/argocd/health.lua')

export type ArgoHealth = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing' | 'Unknown'

/** Lua interpreters on PATH, best match for Argo CD (5.1) first. */
export function luaInterpreters(): string[] {
  const found: string[] = []
  for (const name of ['lua5.1', 'lua5.4', 'lua5.3', 'lua']) {
    // `lua` is usually an alternative for one of the others
    if (name === 'lua' && found.length > 0) continue
    if (spawnSync(name, ['-v'], { encoding: 'utf8' }).status === 0) found.push(name)
  }
  return found
}

/** A JSON value as a Lua table constructor (null and undefined become absent keys). */
export function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil'
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot pass ${value} to Lua`)
    return String(value)
  }
  if (typeof value === 'string') return luaString(value)
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== null && v !== undefined,
    )
    return `{${entries.map(([k, v]) => `[${luaString(k)}] = ${toLua(v)}`).join(', ')}}`
  }
  throw new Error(`cannot pass a ${typeof value} to Lua`)
}

function luaString(s: string): string {
  let out = '"'
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte)
    else out += `\\${String(byte).padStart(3, '0')}`
  }
  return `${out}"`
}

/** Evaluates the health script for one object with one interpreter. */
export function argoHealth(
  obj: unknown,
  interpreter: string,
  script = HEALTH_LUA,
): { status: ArgoHealth; message: string } {
  const program = [
    `obj = ${toLua(obj)}`,
    `local chunk = assert(loadfile(${luaString(script)}))`,
    'local hs = chunk()',
    'io.write(tostring(hs.status), "\\n", tostring(hs.message or ""))',
  ].join('\n')
  const out = execFileSync(interpreter, ['-'], { input: program, encoding: 'utf8', timeout: 10_000 })
  const i = out.indexOf('\n')
  return { status: out.slice(0, i) as ArgoHealth, message: out.slice(i + 1) }
}
