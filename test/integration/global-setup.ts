import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startControlPlane } from '../controlplane/index.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Kubeconfig of the API server the integration tests run against. */
    kubeconfigPath: string
  }
}

/**
 * Starts one local control plane for the integration project and hands its kubeconfig to the
 * tests (`inject('kubeconfigPath')`). With SWITCHBOARD_TEST_KUBECONFIG set, that existing
 * cluster is used instead and nothing is started.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const existing = process.env.SWITCHBOARD_TEST_KUBECONFIG
  if (existing) {
    const path = resolve(existing)
    if (!existsSync(path)) {
      throw new Error(`SWITCHBOARD_TEST_KUBECONFIG points at ${path}, which does not exist`)
    }
    project.provide('kubeconfigPath', path)
    return undefined
  }

  const logger = { info: (msg: string) => process.stderr.write(`[controlplane] ${msg}\n`) }
  const cp = await startControlPlane({ logger, keepLogsOnFailure: true })
  project.provide('kubeconfigPath', cp.kubeconfigPath)
  return async () => {
    await cp.stop()
  }
}
