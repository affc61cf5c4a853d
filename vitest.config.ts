import { defineConfig } from 'vitest/config'

// Two projects: unit tests sit beside the code they test; integration tests run against a
// real kube-apiserver + etcd started once by the global setup (test/controlplane).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{controller,connectors,crds,webhooks,test/sandbox,test/controlplane,test/ship}/**/*.test.ts',
          ],
          environment: 'node',
          // Files run two at a time on a shared 2-core machine: a test that starts a sandbox or
          // spawns a process gets more than the default 5 s under load; none measures time by it.
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Each file runs its own controller against the shared API server; keep the
          // load on a 2-core machine predictable.
          fileParallelism: false,
        },
      },
    ],
  },
})
