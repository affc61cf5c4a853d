/**
 * The Argo CD health script and the kstatus reading, on hand-made objects covering every branch
 * (test/integration/health.test.ts checks both on objects the controller really wrote).
 */
import { describe, expect, it } from 'vitest'
import { kstatus } from './kstatus.ts'
import { argoHealth, luaInterpreters, toLua } from './lua.ts'

const interpreters = luaInterpreters()

type Cond = { type: string; status: string; reason: string; message: string }
const cond = (type: string, status: string, reason: string, message = ''): Cond =>
  ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: '2026-01-01T00:00:00Z',
  }) as Cond

function object(opts: {
  generation?: number
  observed?: number
  conditions?: Cond[]
  suspend?: boolean
  noStatus?: boolean
}) {
  return {
    apiVersion: 'switchboard.dev/v1alpha1',
    kind: 'Destination',
    metadata: { name: 'x', namespace: 'y', generation: opts.generation ?? 1 },
    spec: {
      credentialsSecretRef: { name: 's' },
      segment: {},
      ...(opts.suspend === undefined ? {} : { suspend: opts.suspend }),
    },
    ...(opts.noStatus
      ? {}
      : {
          status: {
            observedGeneration: opts.observed ?? opts.generation ?? 1,
            conditions: opts.conditions ?? [],
          },
        }),
  }
}

const cases: Array<{
  name: string
  obj: ReturnType<typeof object>
  argo: string
  message?: RegExp
  k: string
}> = [
  {
    name: 'Ready=True for the current generation',
    obj: object({ conditions: [cond('Ready', 'True', 'Succeeded', 'ok')] }),
    argo: 'Healthy',
    message: /^Succeeded: ok$/,
    k: 'Current',
  },
  {
    name: 'no status yet',
    obj: object({ noStatus: true }),
    argo: 'Progressing',
    message: /report status/,
    k: 'Current',
  },
  { name: 'status without conditions', obj: object({ conditions: [] }), argo: 'Progressing', k: 'Current' },
  {
    name: 'generation not observed yet',
    obj: object({ generation: 3, observed: 2, conditions: [cond('Ready', 'True', 'Succeeded')] }),
    argo: 'Progressing',
    message: /generation 3/,
    k: 'InProgress',
  },
  {
    name: 'Reconciling=True',
    obj: object({
      conditions: [
        cond('Ready', 'False', 'ProviderUnavailable', 'down'),
        cond('Reconciling', 'True', 'ProgressingWithRetry', 'retrying'),
      ],
    }),
    argo: 'Progressing',
    message: /ProgressingWithRetry: retrying/,
    k: 'InProgress',
  },
  {
    name: 'Reconciling=True while Ready=True (a full resync runs)',
    obj: object({
      conditions: [
        cond('Ready', 'True', 'Succeeded'),
        cond('Reconciling', 'True', 'Resyncing', 'full resync'),
      ],
    }),
    argo: 'Progressing',
    k: 'InProgress',
  },
  {
    name: 'Stalled=True',
    obj: object({
      conditions: [
        cond('Ready', 'False', 'SecretNotFound', 'Secret "s" not found'),
        cond('Stalled', 'True', 'SecretNotFound', 'Secret "s" not found'),
      ],
    }),
    argo: 'Degraded',
    message: /^SecretNotFound: Secret "s" not found$/,
    k: 'Failed',
  },
  {
    name: 'Ready=False for a passing reason',
    obj: object({ conditions: [cond('Ready', 'False', 'RateLimited', 'waiting')] }),
    argo: 'Progressing',
    k: 'InProgress',
  },
  {
    name: 'Ready=False for a lasting reason',
    obj: object({ conditions: [cond('Ready', 'False', 'Unauthorized', 'refused')] }),
    argo: 'Degraded',
    message: /Unauthorized/,
    k: 'InProgress',
  },
  {
    name: 'Ready=Unknown',
    obj: object({ conditions: [cond('Ready', 'Unknown', 'Pending')] }),
    argo: 'Progressing',
    k: 'Current',
  },
  {
    name: 'only a kind-specific condition',
    obj: object({ conditions: [cond('CredentialsValid', 'True', 'Succeeded')] }),
    argo: 'Progressing',
    message: /Ready condition/,
    k: 'Current',
  },
  {
    name: 'suspended, even when stalled',
    obj: object({ suspend: true, conditions: [cond('Stalled', 'True', 'SecretNotFound')] }),
    argo: 'Suspended',
    message: /suspend/,
    k: 'Failed',
  },
  {
    name: 'suspend: false is not suspended',
    obj: object({ suspend: false, conditions: [cond('Ready', 'True', 'Succeeded')] }),
    argo: 'Healthy',
    k: 'Current',
  },
]

describe('Argo CD health.lua', () => {
  it('has a Lua interpreter to run on (apt-get install lua5.1)', () => {
    expect(interpreters.length).toBeGreaterThan(0)
  })

  for (const lua of interpreters) {
    describe(lua, () => {
      for (const c of cases) {
        it(c.name, () => {
          const hs = argoHealth(c.obj, lua)
          expect(hs.status).toBe(c.argo)
          if (c.message) expect(hs.message).toMatch(c.message)
        })
      }

      it('passes any text through to the message unchanged', () => {
        const message = 'quotes " and \\ backslash, ünïcödé, newline\nand tab\t'
        const hs = argoHealth(object({ conditions: [cond('Ready', 'True', 'Succeeded', message)] }), lua)
        expect(hs.message).toBe(`Succeeded: ${message}`)
      })
    })
  }
})

describe('kstatus reading', () => {
  for (const c of cases) {
    it(c.name, () => {
      expect(kstatus(c.obj).status).toBe(c.k)
    })
  }

  it('a deleting object is Terminating', () => {
    const obj = { ...object({}), metadata: { generation: 1, deletionTimestamp: '2026-01-01T00:00:00Z' } }
    expect(kstatus(obj).status).toBe('Terminating')
  })
})

describe('toLua', () => {
  it('drops null keys and quotes every key', () => {
    expect(toLua({ a: null, 'b-c': [1, true, 'x'] })).toBe('{["b-c"] = {1, true, "x"}}')
  })
})
