import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startControlPlane } from '../controlplane/index.ts'
import { type LocalPostgres, startPostgres } from '../postgres/index.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Kubeconfig of the API server the integration tests run against. */
    kubeconfigPath: string
    /** A throwaway PostgreSQL server on loopback (its superuser); tests create databases in it. */
    postgres: { host: string; port: number; user: string; password: string }
  }
}

/**
 * Starts one local control plane for the integration project and hands its kubeconfig to the
 * tests (`inject('kubeconfigPath')`). With SWITCHBOARD_TEST_KUBECONFIG set, that existing
 * cluster is used instead and nothing is started.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // PostgreSQL (Debian's postgresql package) for the Postgres destination's tests, on loopback
  // with a throwaway data directory, as the control plane below.
  const pg: LocalPostgres = await startPostgres({
    logger: { info: (msg: string) => process.stderr.write(`[postgres] ${msg}\n`) },
  })
  project.provide('postgres', { host: pg.host, port: pg.port, user: pg.user, password: pg.password })

  const existing = process.env.SWITCHBOARD_TEST_KUBECONFIG
  if (existing) {
    const path = resolve(existing)
    if (!existsSync(path)) {
      await pg.stop()
      throw new Error(`SWITCHBOARD_TEST_KUBECONFIG points at ${path}, which does not exist`)
    }
    project.provide('kubeconfigPath', path)
    return () => pg.stop()
  }

  const logger = { info: (msg: string) => process.stderr.write(`[controlplane] ${msg}\n`) }
  let cp: Awaited<ReturnType<typeof startControlPlane>>
  try {
    cp = await startControlPlane({ logger, keepLogsOnFailure: true })
  } catch (err) {
    await pg.stop()
    throw err
  }
  project.provide('kubeconfigPath', cp.kubeconfigPath)
  return async () => {
    await cp.stop()
    await pg.stop()
  }
}
