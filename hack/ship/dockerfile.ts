/**
 * Reads the Dockerfile and .dockerignore the way `docker build` does, for the checks that run
 * without a container engine (hack/ship/check-image.sh, test/ship/dockerfile.test.ts):
 *
 *   node hack/ship/dockerfile.ts plan [--target NAME]        JSON: the stage's RUN lines and COPYs
 *   node hack/ship/dockerfile.ts assemble --out DIR [--target NAME]
 *                                                           copy what the stage's context COPYs take
 *   node hack/ship/dockerfile.ts policy                      the image rules below; exit 1 on a breach
 *
 * The COPY lines are the one list of what goes into the image: the check copies exactly those
 * sources, filtered by .dockerignore, so the two cannot drift apart.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'

export const ROOT = resolve(import.meta.dirname, '../..')
/** What the image's ENTRYPOINT runs: the bundle that hack/ship/bundle.ts writes. */
export const BUNDLE_ENTRY = 'dist/switchboard.mjs'

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string
  /** Flags such as `--from=deps` or `--mount=type=cache,target=/root/.npm`, by name. */
  flags: Record<string, string>
  /** The arguments after the flags: exec form (JSON array) parsed, shell form split on spaces. */
  args: string[]
  /** The text after the keyword and flags, continuation lines joined. */
  text: string
  line: number
}

export interface Stage {
  /** `AS name`, or the stage's index as a string when unnamed. */
  name: string
  /** The image the stage starts from, with ARG defaults substituted. */
  from: string
  instructions: Instruction[]
}

export interface Dockerfile {
  args: Record<string, string>
  stages: Stage[]
}

/** Parses a Dockerfile: continuation lines, comments, global ARGs, stages. */
export function parseDockerfile(text: string): Dockerfile {
  const logical: Array<{ text: string; line: number }> = []
  let current: { text: string; line: number } | undefined
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? ''
    const trimmed = raw.trim()
    if (!current && (trimmed === '' || trimmed.startsWith('#'))) continue
    if (current && trimmed.startsWith('#')) continue
    const continues = trimmed.endsWith('\\')
    const part = continues ? trimmed.slice(0, -1).trim() : trimmed
    if (current) current.text += ` ${part}`
    else current = { text: part, line: i + 1 }
    if (!continues) {
      logical.push(current)
      current = undefined
    }
  }
  if (current) logical.push(current)

  const args: Record<string, string> = {}
  const stages: Stage[] = []
  for (const { text: entry, line } of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(entry)
    if (!m) continue
    const keyword = (m[1] ?? '').toUpperCase()
    let rest = m[2] ?? ''
    const flags: Record<string, string> = {}
    for (;;) {
      const f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)
      if (!f) break
      flags[f[1] ?? ''] = f[2] ?? ''
      rest = rest.slice(f[0].length)
    }
    let parsedArgs: string[]
    if (rest.startsWith('[')) {
      try {
        parsedArgs = JSON.parse(rest) as string[]
      } catch {
        parsedArgs = rest.split(/\s+/).filter(Boolean)
      }
    } else parsedArgs = rest.split(/\s+/).filter(Boolean)
    const instruction: Instruction = { keyword, flags, args: parsedArgs, text: rest, line }
    if (keyword === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = (parsedArgs[0] ?? '').split('=')
      args[name] = value
      continue
    }
    if (keyword === 'FROM') {
      const image = (parsedArgs[0] ?? '').replace(/\$\{?(\w+)\}?/g, (_, n: string) => args[n] ?? '')
      const asIndex = parsedArgs.findIndex((a) => a.toUpperCase() === 'AS')
      const name = asIndex >= 0 ? (parsedArgs[asIndex + 1] ?? '') : String(stages.length)
      stages.push({ name, from: image, instructions: [] })
      continue
    }
    const stage = stages.at(-1)
    if (!stage) throw new Error(`Dockerfile line ${line}: ${keyword} before the first FROM`)
    stage.instructions.push(instruction)
  }
  return { args, stages }
}

/** The stage a build of `target` ends with (the last stage when no target is given). */
export function stageOf(df: Dockerfile, target?: string): Stage {
  const stage = target ? df.stages.find((s) => s.name === target) : df.stages.at(-1)
  if (!stage) throw new Error(`no stage ${target ?? '(last)'} in the Dockerfile`)
  return stage
}

export interface Copy {
  /** The stage the files come from, or undefined for the build context. */
  from?: string
  sources: string[]
  dest: string
}

export function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const dest = i.args.at(-1) ?? ''
      const copy: Copy = { sources: i.args.slice(0, -1), dest }
      if (i.flags.from !== undefined) copy.from = i.flags.from
      return copy
    })
}

/** The shell commands of a stage's RUN lines, without BuildKit's flags (cache mounts). */
export function runsOf(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.text)
}

/** A .dockerignore, with Docker's semantics: the last matching pattern wins; `!` re-includes. */
export class DockerIgnore {
  readonly #rules: Array<{ exclude: boolean; re: RegExp }>

  constructor(text: string) {
    this.#rules = []
    for (const raw of text.split('\n')) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) continue
      const exclude = !line.startsWith('!')
      const pattern = (exclude ? line : line.slice(1)).replace(/^\/+/, '').replace(/\/+$/, '')
      this.#rules.push({ exclude, re: globToRegExp(pattern) })
    }
  }

  /**
   * Whether a path (relative to the context, `/`-separated) is left out. As in Docker, a pattern
   * that matches a parent directory matches everything below it.
   */
  excludes(path: string): boolean {
    const parts = path.split('/')
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
    let excluded = false
    for (const rule of this.#rules) {
      if (prefixes.some((p) => rule.re.test(p))) excluded = rule.exclude
    }
    return excluded
  }
}

function globToRegExp(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? ''
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, including none
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?'
        i += 2
      } else {
        re += '.*'
        i += 1
      }
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

/** Every file under `dir` (relative to `root`), depth first, sorted. */
function walk(root: string, dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name
    if (entry.isDirectory()) out.push(...walk(root, rel))
    else if (entry.isFile()) out.push(rel)
  }
  return out
}

/**
 * The files a stage's context COPYs put into the image: [source path in the context, path in
 * the image relative to the WORKDIR]. Throws when a source is missing or entirely ignored.
 */
export function contextFiles(
  stage: Stage,
  ignore: DockerIgnore,
  context = ROOT,
): Array<{ from: string; to: string }> {
  const files: Array<{ from: string; to: string }> = []
  for (const copy of copiesOf(stage)) {
    if (copy.from !== undefined) continue
    for (const source of copy.sources) {
      const src = source.replace(/^\.\//, '').replace(/\/$/, '')
      if (!existsSync(join(context, src))) throw new Error(`COPY source ${source} does not exist`)
      const dest = copy.dest.replace(/^\.\//, '').replace(/^\.$/, '')
      const isDir = statSync(join(context, src)).isDirectory()
      const candidates = isDir ? walk(context, src) : [src]
      const kept = candidates.filter((f) => !ignore.excludes(f))
      if (kept.length === 0) throw new Error(`COPY source ${source} is entirely left out by .dockerignore`)
      for (const f of kept) {
        let to: string
        if (isDir) to = join(dest, relative(src, f))
        else if (copy.dest.endsWith('/') || copy.sources.length > 1) to = join(dest, f.split('/').pop() ?? f)
        else to = dest
        files.push({ from: f, to })
      }
    }
  }
  return files
}

export function readDockerfile(root = ROOT): { dockerfile: Dockerfile; ignore: DockerIgnore } {
  return {
    dockerfile: parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8')),
    ignore: new DockerIgnore(readFileSync(join(root, '.dockerignore'), 'utf8')),
  }
}

/** The rules the shipped image must keep; returns the breaches (empty when all hold). */
export function policyProblems(df: Dockerfile, ignore: DockerIgnore): string[] {
  const problems: string[] = []
  const final = stageOf(df)
  const instr = (k: string) => final.instructions.filter((i) => i.keyword === k)
  if (!/^node:24-bookworm-slim(@sha256:[a-f0-9]{64})?$/.test(final.from))
    problems.push(`the image must start from node:24-bookworm-slim, not ${final.from}`)
  for (const s of df.stages) {
    if (/:latest$|^[^:@]+$/.test(s.from)) problems.push(`stage ${s.name}: unpinned base image ${s.from}`)
  }
  const user = instr('USER').at(-1)?.args[0]
  if (!user || !/^[1-9][0-9]*(:[0-9]+)?$/.test(user))
    problems.push(`the last USER must be a numeric non-root uid[:gid], got ${user ?? 'none'}`)
  const entry = instr('ENTRYPOINT').at(-1)
  const execForm = entry?.text.startsWith('[') === true
  if (!execForm) problems.push('ENTRYPOINT must be in exec form, so that Node is PID 1 and gets SIGTERM')
  else if (entry?.args[0] !== 'node' || entry.args[1] !== BUNDLE_ENTRY)
    problems.push(`ENTRYPOINT must run node ${BUNDLE_ENTRY} directly (no npm, no shell), got ${entry.text}`)
  const cmd = instr('CMD').at(-1)
  if (!cmd?.text.startsWith('[')) problems.push('CMD must be in exec form')
  if (instr('RUN').length > 0)
    problems.push('the final stage must not RUN anything (no package manager, no shell)')
  for (const copy of copiesOf(final)) {
    if (copy.from === undefined)
      problems.push(
        `the final stage copies ${copy.sources.join(' ')} from the context; it holds the bundle alone`,
      )
    else if (copy.from !== 'build' || copy.sources.join(' ') !== '/app/dist')
      problems.push(
        `the final stage copies ${copy.sources.join(' ')} from stage ${copy.from}; only the bundle (--from=build /app/dist) is expected`,
      )
    for (const s of copy.sources) {
      if (/^(test|hack|bench|examples|docs|charts)(\/|$)/.test(s.replace(/^\.\//, '')))
        problems.push(`the final stage must not contain ${s}`)
    }
  }
  if (!copiesOf(final).some((c) => c.from === 'build' && c.sources.includes('/app/dist')))
    problems.push('the final stage must COPY --from=build /app/dist (the bundle)')
  const build = df.stages.find((s) => s.name === 'build')
  if (!build) problems.push('a build stage must make the bundle')
  else if (!runsOf(build).some((r) => /node hack\/ship\/bundle\.ts --out-dir dist/.test(r)))
    problems.push('the build stage must run node hack/ship/bundle.ts --out-dir dist')
  const deps = df.stages.find((s) => s.name === 'deps')
  const install = deps ? runsOf(deps).join(' ') : ''
  if (deps && !/--omit=dev/.test(install)) problems.push('the deps stage must install with --omit=dev')
  for (const leaked of [
    'controller/runtime/controller.test.ts',
    '.git/HEAD',
    'node_modules/zod/package.json',
    '.env',
  ])
    if (!ignore.excludes(leaked)) problems.push(`.dockerignore lets ${leaked} into the build context`)
  return problems
}

function main(argv: string[]): number {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { target: { type: 'string' }, out: { type: 'string' }, context: { type: 'string' } },
  })
  const context = values.context ? resolve(values.context) : ROOT
  const { dockerfile, ignore } = readDockerfile(context)
  const stage = stageOf(dockerfile, values.target)
  switch (positionals[0]) {
    case 'plan': {
      process.stdout.write(
        `${JSON.stringify(
          {
            stage: stage.name,
            from: stage.from,
            // every stage's RUN lines and COPYs, for the stages the final one copies from
            stages: Object.fromEntries(
              dockerfile.stages.map((s) => [
                s.name,
                {
                  runs: runsOf(s),
                  copies: copiesOf(s),
                  workdir: s.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args[0] ?? '/',
                },
              ]),
            ),
            copies: copiesOf(stage),
            entrypoint: stage.instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1)?.args ?? [],
            cmd: stage.instructions.filter((i) => i.keyword === 'CMD').at(-1)?.args ?? [],
            user: stage.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args[0] ?? '',
            env: stage.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.text),
          },
          null,
          2,
        )}\n`,
      )
      return 0
    }
    case 'assemble': {
      if (!values.out) throw new Error('assemble needs --out DIR')
      const out = resolve(values.out)
      const files = contextFiles(stage, ignore, context)
      for (const f of files) {
        mkdirSync(dirname(join(out, f.to)), { recursive: true })
        cpSync(join(context, f.from), join(out, f.to))
      }
      process.stdout.write(`${files.length} files\n`)
      return 0
    }
    case 'policy': {
      const problems = policyProblems(dockerfile, ignore)
      for (const p of problems) process.stderr.write(`Dockerfile: ${p}\n`)
      if (problems.length === 0) process.stdout.write('Dockerfile policy: ok\n')
      return problems.length === 0 ? 0 : 1
    }
    default:
      process.stderr.write(
        'usage: node hack/ship/dockerfile.ts plan|assemble|policy [--target NAME] [--out DIR]\n',
      )
      return 2
  }
}

if (import.meta.main) {
  try {
    process.exitCode = main(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 1
  }
}
