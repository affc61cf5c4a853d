/**
 * The Dockerfile and .dockerignore, read the way docker build reads them (hack/ship/dockerfile.ts):
 * the image rules hold, the build stage gets the sources and nothing else, and the image gets the
 * bundle built from them and nothing else.
 * hack/ship/check-image.sh goes further (installs, runs read-only as uid 65532); it needs root
 * and the registry, so it runs as `make check-image`, not here.
 */
import { describe, expect, it } from 'vitest'
import {
  BUNDLE_ENTRY,
  contextFiles,
  DockerIgnore,
  parseDockerfile,
  policyProblems,
  readDockerfile,
  stageOf,
} from '../../hack/ship/dockerfile.ts'

describe('Dockerfile', () => {
  const { dockerfile, ignore } = readDockerfile()

  it('keeps the image rules (numeric non-root user, node as PID 1, the bundle alone, pinned base)', () => {
    expect(policyProblems(dockerfile, ignore)).toEqual([])
  })

  it('builds the bundle from the .ts sources of bin, controller, connectors, crds and webhooks, no tests', () => {
    const files = contextFiles(stageOf(dockerfile, 'build'), ignore).map((f) => f.to)
    for (const dir of ['bin', 'controller', 'connectors', 'crds', 'webhooks']) {
      expect(
        files.some((f) => f.startsWith(`${dir}/`) && f.endsWith('.ts')),
        dir,
      ).toBe(true)
    }
    expect(files).toContain('package-lock.json')
    expect(files).toContain('bin/switchboard.ts')
    expect(files).toContain('hack/ship/bundle.ts')
    expect(files.filter((f) => /\.(test|bench)\.ts$/.test(f))).toEqual([])
    expect(files.filter((f) => /^hack\//.test(f))).toEqual(['hack/ship/bundle.ts'])
    expect(files.filter((f) => /^(test|docs|charts|examples|bench|node_modules)\//.test(f))).toEqual([])
  })

  it('puts nothing from the context into the image: only the bundle, from the build stage', () => {
    expect(contextFiles(stageOf(dockerfile), ignore)).toEqual([])
    const entry = stageOf(dockerfile).instructions.find((i) => i.keyword === 'ENTRYPOINT')
    expect(entry?.args).toEqual(['node', BUNDLE_ENTRY])
  })

  it('builds a sandbox image for the kind e2e from the same dependencies', () => {
    const files = contextFiles(stageOf(dockerfile, 'sandbox'), ignore).map((f) => f.to)
    expect(files).toContain('hack/ship/e2e/sandbox-server.ts')
    expect(files.some((f) => f.startsWith('test/sandbox/'))).toBe(true)
  })

  it('catches what the rules forbid', () => {
    const bad = parseDockerfile(
      [
        'FROM node:latest AS deps',
        'RUN npm install',
        'FROM node:20',
        'COPY --from=deps /app/node_modules ./node_modules',
        'COPY test ./test',
        'RUN echo hi',
        'USER node',
        'ENTRYPOINT npm start',
      ].join('\n'),
    )
    const problems = policyProblems(bad, new DockerIgnore('*\n!test/\n'))
    for (const expected of [
      /node:24-bookworm-slim/,
      /unpinned base image node:latest/,
      /numeric non-root/,
      /exec form/,
      /must not RUN/,
      /must not contain test/,
      /--omit=dev/,
      /from the context; it holds the bundle alone/,
      /only the bundle \(--from=build \/app\/dist\) is expected/,
      /must COPY --from=build \/app\/dist/,
      /a build stage must make the bundle/,
    ]) {
      expect(
        problems.some((p) => expected.test(p)),
        String(expected),
      ).toBe(true)
    }
  })
})

describe('DockerIgnore', () => {
  const ig = new DockerIgnore('*\n!src/\n**/*.test.ts\n!src/keep.test.ts\n')
  it('applies the last matching rule, and a directory rule to everything below it', () => {
    expect(ig.excludes('README.md')).toBe(true)
    expect(ig.excludes('src/a/b.ts')).toBe(false)
    expect(ig.excludes('src/a/b.test.ts')).toBe(true)
    expect(ig.excludes('src/keep.test.ts')).toBe(false)
    expect(ig.excludes('other/x.ts')).toBe(true)
  })
})
