import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cacheDir, DEFAULT_ETCD_VERSION, DEFAULT_KUBE_VERSION, findBinaries } from './binaries.ts'

describe('findBinaries', () => {
  let root: string
  let assets: string
  let pathDir: string
  let cache: string

  function fakeBinaries(dir: string, names = ['etcd', 'kube-apiserver'], mode = 0o755): void {
    mkdirSync(dir, { recursive: true })
    for (const name of names) {
      const file = join(dir, name)
      writeFileSync(file, '#!/bin/sh\nexit 0\n')
      chmodSync(file, mode)
    }
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'switchboard-binaries-test-'))
    assets = join(root, 'assets')
    pathDir = join(root, 'path-bin')
    cache = join(root, 'cache')
  })

  afterEach(() => {
    rmSync(root, { recursive: true, force: true })
  })

  const cached = () => cacheDir({ SWITCHBOARD_CACHE: cache })

  it('derives the cache directory from SWITCHBOARD_CACHE and the pinned versions', () => {
    expect(cached()).toBe(join(cache, 'bin', `k8s-${DEFAULT_KUBE_VERSION}-etcd-${DEFAULT_ETCD_VERSION}`))
    expect(cacheDir({ HOME: '/home/someone' })).toBe(
      join(
        '/home/someone',
        '.cache',
        'switchboard',
        'bin',
        `k8s-${DEFAULT_KUBE_VERSION}-etcd-${DEFAULT_ETCD_VERSION}`,
      ),
    )
  })

  it('prefers KUBEBUILDER_ASSETS over PATH and the cache', async () => {
    fakeBinaries(assets)
    fakeBinaries(pathDir)
    fakeBinaries(cached())
    const found = await findBinaries({
      build: false,
      env: { KUBEBUILDER_ASSETS: assets, PATH: pathDir, SWITCHBOARD_CACHE: cache },
    })
    expect(found).toEqual({
      etcd: join(assets, 'etcd'),
      kubeApiserver: join(assets, 'kube-apiserver'),
      dir: assets,
    })
  })

  it('prefers PATH over the cache', async () => {
    fakeBinaries(pathDir)
    fakeBinaries(cached())
    const found = await findBinaries({
      build: false,
      env: { PATH: `${join(root, 'missing')}:${pathDir}`, SWITCHBOARD_CACHE: cache },
    })
    expect(found).toEqual({
      etcd: join(pathDir, 'etcd'),
      kubeApiserver: join(pathDir, 'kube-apiserver'),
      dir: pathDir,
    })
  })

  it('falls back to the cache when PATH holds only one of the two', async () => {
    fakeBinaries(pathDir, ['etcd'])
    fakeBinaries(cached())
    const found = await findBinaries({ build: false, env: { PATH: pathDir, SWITCHBOARD_CACHE: cache } })
    expect(found.dir).toBe(cached())
    expect(found.etcd).toBe(join(cached(), 'etcd'))
    expect(found.kubeApiserver).toBe(join(cached(), 'kube-apiserver'))
  })

  it('ignores files that are not executable', async () => {
    fakeBinaries(pathDir, ['etcd', 'kube-apiserver'], 0o644)
    fakeBinaries(cached())
    const found = await findBinaries({ build: false, env: { PATH: pathDir, SWITCHBOARD_CACHE: cache } })
    expect(found.dir).toBe(cached())
  })

  it('names what is missing from KUBEBUILDER_ASSETS instead of looking elsewhere', async () => {
    fakeBinaries(assets, ['etcd'])
    fakeBinaries(pathDir)
    await expect(
      findBinaries({
        build: false,
        env: { KUBEBUILDER_ASSETS: assets, PATH: pathDir, SWITCHBOARD_CACHE: cache },
      }),
    ).rejects.toThrow(
      `KUBEBUILDER_ASSETS is set to ${assets} but kube-apiserver is not an executable file there`,
    )
  })

  it('says what is missing and how to get it when nothing is found and building is off', async () => {
    fakeBinaries(cached(), ['etcd'])
    const err = await findBinaries({ build: false, env: { PATH: pathDir, SWITCHBOARD_CACHE: cache } }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(Error)
    const message = (err as Error).message
    expect(message).toContain(`kube-apiserver not found`)
    expect(message).toContain(`${cached()} has no kube-apiserver`)
    expect(message).toContain('build-binaries.sh')
    expect(message).toContain('KUBEBUILDER_ASSETS')
  })
})
