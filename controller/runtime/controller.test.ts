import type { KubernetesObject, V1Secret } from '@kubernetes/client-node'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { Reason, StallingError, TransientError } from '../../connectors/index.ts'
import { findCondition } from './conditions.ts'
import { Controller } from './controller.ts'
import {
  type CommonStatus,
  FINALIZER,
  type ReconcileContext,
  type ReconcilerDefinition,
  type SwitchboardObject,
} from './definition.ts'
import type { EventRecorder } from './events.ts'
import type { Cache } from './informer.ts'
import type { KubeClients } from './kube.ts'
import { MemoStore } from './memo.ts'
import { OperatorMetrics } from './metrics.ts'
import type { SecretSource } from './secrets.ts'

const WidgetKind = {
  group: 'switchboard.dev',
  version: 'v1alpha1',
  kind: 'Widget',
  plural: 'widgets',
  spec: z.object({ size: z.number().default(3), interval: z.string().optional() }),
}
type Spec = z.infer<typeof WidgetKind.spec>
type Status = CommonStatus
type Widget = SwitchboardObject<unknown, Status>

function memoryCache<T extends KubernetesObject>(items: Map<string, T>): Cache<T> {
  return {
    synced: true,
    on: () => {},
    start: async () => {},
    stop: async () => {},
    get: (name, namespace) => items.get(`${namespace}/${name}`),
    list: () => [...items.values()],
  }
}

/** Secrets by name in namespace `ns`, counting reads. */
function memorySecrets(items: Map<string, V1Secret>): SecretSource & { reads: string[] } {
  const reads: string[] = []
  return {
    reads,
    synced: true,
    onChange: () => {},
    start: async () => {},
    stop: async () => {},
    read: async (namespace, name) => {
      reads.push(`${namespace}/${name}`)
      return items.get(name)
    },
  }
}

/** A controller around a fake API server: objects in a map, status and finalizer patches applied to it. */
function harness<State>(
  def: Omit<ReconcilerDefinition<Spec, Status, State>, 'kind' | 'secretNames' | 'interval'> &
    Partial<ReconcilerDefinition<Spec, Status, State>>,
) {
  const objects = new Map<string, Widget>()
  const secretItems = new Map<string, V1Secret>()
  const secrets = memorySecrets(secretItems)
  const logs: Array<Record<string, unknown>> = []
  const events: Array<{ type: string; reason: string }> = []
  const written: Status[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) })
  const clients = {
    custom: {
      patchNamespacedCustomObjectStatus: async (req: { namespace: string; name: string }) => {
        return objects.get(`${req.namespace}/${req.name}`)
      },
      patchNamespacedCustomObject: async (req: {
        namespace: string
        name: string
        body: { metadata: { finalizers: string[] } }
      }) => {
        const obj = objects.get(`${req.namespace}/${req.name}`)
        if (obj) obj.metadata.finalizers = req.body.metadata.finalizers
        return obj
      },
    },
  } as unknown as KubeClients
  const full: ReconcilerDefinition<Spec, Status, State> = {
    kind: WidgetKind,
    secretNames: () => [],
    interval: (spec) => spec.interval,
    ...def,
    statusWritten: (ctx) => {
      written.push(structuredClone(ctx.status))
      def.statusWritten?.(ctx)
    },
  }
  const controller = new Controller(full, {
    clients,
    informer: memoryCache(objects),
    secrets,
    events: {
      record: (_o: unknown, type: string, reason: string) => events.push({ type, reason }),
    } as unknown as EventRecorder,
    metrics: new OperatorMetrics({ defaultMetrics: false }),
    logger,
    jitter: 0,
  })
  const put = (spec: unknown, extra: Partial<Widget['metadata']> = {}): Widget => {
    const obj: Widget = {
      apiVersion: 'switchboard.dev/v1alpha1',
      kind: 'Widget',
      metadata: {
        name: 'w',
        namespace: 'ns',
        uid: 'uid-1',
        generation: 1,
        finalizers: [FINALIZER],
        ...extra,
      },
      spec,
    }
    objects.set('ns/w', obj)
    return obj
  }
  /** Enqueues the object and waits until its status was written (or `done` holds). */
  const reconcile = async (done?: () => boolean) => {
    const before = written.length
    controller.start()
    controller.enqueue('ns', 'w')
    await until(done ?? (() => written.length > before))
  }
  return {
    controller,
    objects,
    secretItems,
    secrets,
    logs,
    events,
    written,
    put,
    reconcile,
    last: () => written.at(-1),
  }
}

async function until(ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('per-reconcile state', () => {
  it('is made by init once per reconcile and handed to every step, typed', async () => {
    const seen: number[][] = []
    let made = 0
    const h = harness<{ trail: number[] }>({
      name: 'widget',
      init: () => {
        made++
        return { trail: [] }
      },
      steps: [
        { name: 'one', run: (ctx) => void ctx.state.trail.push(ctx.spec.size) },
        { name: 'two', run: (ctx) => void seen.push([...ctx.state.trail, 2]) },
      ],
    })
    h.put({ size: 7 })
    await h.reconcile()
    await h.reconcile()
    expect(made).toBe(2)
    expect(seen).toEqual([
      [7, 2],
      [7, 2],
    ])
    await h.controller.stop(100)
  })
})

describe('optional steps', () => {
  it('an object asked for is reconciled before the backlog of objects failing against a provider that is down', async () => {
    const started: string[] = []
    const h = harness({
      name: 'widget',
      steps: [
        {
          name: 'call',
          run: async (ctx) => {
            started.push(ctx.obj.metadata.name as string)
            if (ctx.obj.metadata.name === 'ok') return
            await new Promise((r) => setTimeout(r, 30))
            throw new TransientError(Reason.ProviderUnavailable, 'connection refused')
          },
        },
      ],
    })
    const base = h.put({})
    h.objects.delete('ns/w')
    const down = Array.from({ length: 12 }, (_, i) => `down-${i}`)
    for (const name of [...down, 'ok']) {
      h.objects.set(`ns/${name}`, { ...base, metadata: { ...base.metadata, name, uid: `uid-${name}` } })
    }
    // the initial list: every failing object queued, four of them taken at once by the workers
    for (const name of down) h.controller.onObject.add(h.objects.get(`ns/${name}`) as Widget)
    h.controller.start()
    await until(() => started.length >= 4)
    h.controller.enqueue('ns', 'ok') // a webhook delivery for a healthy object
    await until(() => started.includes('ok'))
    // taken by the first worker free, not after the eight still queued
    expect(started.indexOf('ok')).toBe(4)
    await h.controller.stop(200)
  })

  it('a failing optional step lets the later steps run, then ends the reconcile with its reason', async () => {
    const ran: string[] = []
    let failuresSeen = 0
    const h = harness({
      name: 'widget',
      steps: [
        {
          name: 'flaky',
          optional: true,
          run: () => {
            ran.push('flaky')
            throw new TransientError(Reason.ProviderUnavailable, 'the provider answered 503')
          },
        },
        {
          name: 'after',
          run: (ctx) => {
            ran.push('after')
            failuresSeen = ctx.failures.length
          },
        },
      ],
    })
    h.put({})
    await h.reconcile()
    expect(ran).toEqual(['flaky', 'after'])
    expect(failuresSeen).toBe(1)
    const conditions = h.last()?.conditions
    expect(findCondition(conditions, 'Ready')).toMatchObject({
      status: 'False',
      reason: Reason.ProviderUnavailable,
    })
    expect(findCondition(conditions, 'Reconciling')).toMatchObject({ reason: Reason.ProgressingWithRetry })
    expect(findCondition(conditions, 'Stalled')).toBeUndefined()
    expect(h.logs.find((l) => l.msg === 'reconcile failed')).toMatchObject({ step: 'flaky' })
    await h.controller.stop(100)
  })

  it('a configuration error of an optional step is retried on the interval instead of stalling', async () => {
    const h = harness({
      name: 'widget',
      steps: [
        {
          name: 'target',
          optional: true,
          run: () => {
            throw new StallingError(Reason.CalendarNotFound, 'calendar "x" is not shared')
          },
        },
      ],
    })
    h.put({ interval: '7m' })
    await h.reconcile()
    const conditions = h.last()?.conditions
    expect(findCondition(conditions, 'Ready')).toMatchObject({
      status: 'False',
      reason: Reason.CalendarNotFound,
    })
    expect(findCondition(conditions, 'Stalled')).toBeUndefined()
    expect(findCondition(conditions, 'Reconciling')?.status).toBe('True')
    await h.controller.stop(100)
  })

  it('a kind with a partial reason shows it on Ready while the step keeps its own condition', async () => {
    const h = harness({
      name: 'widget',
      partialReason: 'PartiallySynced',
      steps: [
        {
          name: 'part',
          optional: true,
          run: (ctx) => {
            ctx.setCondition('PartSynced', 'False', Reason.Unauthorized, 'refused')
            throw new TransientError(Reason.Unauthorized, 'refused')
          },
        },
        { name: 'rest', run: (ctx) => ctx.setCondition('RestSynced', 'True', Reason.Succeeded, 'fine') },
      ],
    })
    h.put({})
    await h.reconcile()
    const conditions = h.last()?.conditions
    expect(findCondition(conditions, 'Ready')).toMatchObject({ status: 'False', reason: 'PartiallySynced' })
    expect(findCondition(conditions, 'PartSynced')).toMatchObject({ reason: Reason.Unauthorized })
    expect(findCondition(conditions, 'RestSynced')).toMatchObject({ status: 'True' })
    await h.controller.stop(100)
  })

  it('a required step that fails ends the reconcile at once, named in the log', async () => {
    const ran: string[] = []
    const h = harness({
      name: 'widget',
      steps: [
        {
          name: 'connect',
          run: () => {
            throw new StallingError(Reason.InvalidCredentials, 'bad key')
          },
        },
        { name: 'sync', run: () => void ran.push('sync') },
      ],
    })
    h.put({})
    await h.reconcile()
    expect(ran).toEqual([])
    expect(findCondition(h.last()?.conditions, 'Stalled')).toMatchObject({
      reason: Reason.InvalidCredentials,
    })
    expect(h.logs.find((l) => l.msg === 'reconcile failed')).toMatchObject({
      step: 'connect',
      reason: Reason.InvalidCredentials,
    })
    expect(h.logs.find((l) => l.msg === 'step finished')).toMatchObject({ step: 'connect', failed: true })
    await h.controller.stop(100)
  })
})

describe('step logs', () => {
  it('logs each step with its name and duration', async () => {
    const h = harness({
      name: 'widget',
      steps: [
        { name: 'first', run: () => {} },
        { name: 'second', run: async () => new Promise((r) => setTimeout(r, 5)) },
      ],
    })
    h.put({})
    await h.reconcile()
    const steps = h.logs.filter((l) => l.msg === 'step finished')
    expect(steps.map((l) => l.step)).toEqual(['first', 'second'])
    for (const l of steps) expect(typeof l.durationMs).toBe('number')
    expect(steps[0]).toMatchObject({ namespace: 'ns', name: 'w', controller: 'widget' })
    await h.controller.stop(100)
  })
})

describe('finalize', () => {
  it('gets the parsed spec with its defaults, and the memo is dropped afterwards', async () => {
    let specSeen: Spec | undefined
    const disposed: string[] = []
    const h = harness({
      name: 'widget',
      steps: [
        {
          name: 'connect',
          run: (ctx) =>
            void ctx.memo(
              'client',
              'v1',
              () => 'client-1',
              (v) => void disposed.push(v),
            ),
        },
      ],
      finalize: (ctx: ReconcileContext<Spec, Status>) => {
        specSeen = ctx.spec
      },
    })
    h.put({})
    await h.reconcile()
    expect(h.controller.memo.size('ns/w')).toBe(1)
    h.put({}, { deletionTimestamp: new Date() })
    await h.reconcile(() => h.objects.get('ns/w')?.metadata.finalizers?.length === 0)
    expect(specSeen).toEqual({ size: 3 })
    expect(disposed).toEqual(['client-1'])
    expect(h.controller.memo.size('ns/w')).toBe(0)
    expect(h.objects.get('ns/w')?.metadata.finalizers).toEqual([])
    await h.controller.stop(100)
  })
})

describe('memo', () => {
  it('keeps a value while its inputs stay, and replaces it (disposing of the old) when they change', () => {
    const memo = new MemoStore()
    const disposed: string[] = []
    const made: string[] = []
    const get = (inputs: unknown, v: string) =>
      memo.get(
        'ns/w',
        'uid-1',
        'client',
        inputs,
        () => {
          made.push(v)
          return v
        },
        (x) => void disposed.push(x),
      )
    expect(get({ rv: '1' }, 'a')).toBe('a')
    expect(get({ rv: '1' }, 'b')).toBe('a')
    expect(get({ rv: '2' }, 'c')).toBe('c')
    expect(made).toEqual(['a', 'c'])
    expect(disposed).toEqual(['a'])
  })

  it('starts afresh for an object recreated under the same name', () => {
    const memo = new MemoStore()
    const disposed: string[] = []
    memo.get(
      'ns/w',
      'uid-1',
      'client',
      1,
      () => 'old',
      (x) => void disposed.push(x),
    )
    expect(memo.get('ns/w', 'uid-2', 'client', 1, () => 'new')).toBe('new')
    expect(disposed).toEqual(['old'])
  })

  it('is dropped when the object is gone from the cache', async () => {
    const disposed: string[] = []
    const forgotten: string[] = []
    const h = harness({
      name: 'widget',
      steps: [
        {
          name: 'connect',
          run: (ctx) =>
            void ctx.memo(
              'client',
              null,
              () => 'client-1',
              (v) => void disposed.push(v),
            ),
        },
      ],
      forget: (namespace, name) => void forgotten.push(`${namespace}/${name}`),
    })
    h.put({})
    await h.reconcile()
    expect(h.controller.memo.size('ns/w')).toBe(1)
    h.objects.delete('ns/w')
    h.controller.enqueue('ns', 'w')
    await until(() => forgotten.length > 0)
    expect(disposed).toEqual(['client-1'])
    expect(h.controller.memo.size('ns/w')).toBe(0)
    await h.controller.stop(100)
  })
})

describe('writes that matter', () => {
  it('adds no finalizer to a kind without finalize, and removes one an older version left', async () => {
    const h = harness({ name: 'widget', steps: [{ name: 'noop', run: () => {} }] })
    h.put({}, { finalizers: [] })
    await h.reconcile()
    expect(h.objects.get('ns/w')?.metadata.finalizers).toEqual([])
    h.put({}, { finalizers: [FINALIZER, 'example.com/other'] })
    await h.reconcile()
    expect(h.objects.get('ns/w')?.metadata.finalizers).toEqual(['example.com/other'])
    await h.controller.stop(100)
  })

  it('adds the finalizer to a kind with finalize', async () => {
    const h = harness({ name: 'widget', steps: [{ name: 'noop', run: () => {} }], finalize: () => {} })
    h.put({}, { finalizers: [] })
    await h.reconcile(() => (h.objects.get('ns/w')?.metadata.finalizers ?? []).includes(FINALIZER))
    await h.controller.stop(100)
  })

  it('records an Event for a failure and for the recovery, none for a first Ready', async () => {
    let fail = false
    const h = harness({
      name: 'widget',
      steps: [
        {
          name: 'maybe',
          run: () => {
            if (fail) throw new TransientError(Reason.ProviderUnavailable, 'provider down')
          },
        },
      ],
    })
    const reconcileWith = async (status?: Status) => {
      const obj = h.put({})
      if (status) obj.status = structuredClone(status)
      await h.reconcile()
    }
    await reconcileWith()
    expect(h.events).toEqual([])
    fail = true
    await reconcileWith(h.last())
    expect(h.events).toEqual([{ type: 'Warning', reason: Reason.ProviderUnavailable }])
    fail = false
    await reconcileWith(h.last())
    expect(h.events).toEqual([
      { type: 'Warning', reason: Reason.ProviderUnavailable },
      { type: 'Normal', reason: Reason.Succeeded },
    ])
    // Ready again with nothing changed: no further Event.
    await reconcileWith(h.last())
    expect(h.events).toHaveLength(2)
    await h.controller.stop(100)
  })
})

describe('secrets', () => {
  it('reads the Secrets the kind names before the steps, once each, and hands them to the steps', async () => {
    let seen: string | undefined
    const h = harness({
      name: 'widget',
      secretNames: () => ['creds', 'creds'],
      steps: [
        {
          name: 'read',
          run: (ctx) => {
            seen = ctx.secret('creds').data?.token
          },
        },
      ],
    })
    h.secretItems.set('creds', { metadata: { name: 'creds', namespace: 'ns' }, data: { token: 'dG9r' } })
    h.put({})
    await h.reconcile()
    expect(seen).toBe('dG9r')
    expect(h.secrets.reads).toEqual(['ns/creds'])
    await h.controller.stop(100)
  })

  it('stalls naming the Secret when it is absent, and refuses to read one the kind does not name', async () => {
    const h = harness({
      name: 'widget',
      secretNames: () => ['creds'],
      steps: [{ name: 'read', run: (ctx) => void ctx.secret('creds') }],
    })
    h.put({})
    await h.reconcile()
    const stalled = findCondition(h.last()?.conditions, 'Stalled')
    expect(stalled?.reason).toBe(Reason.SecretNotFound)
    expect(stalled?.message).toContain('Secret "creds" not found')

    const other = harness({
      name: 'widget',
      secretNames: () => [],
      steps: [{ name: 'read', run: (ctx) => void ctx.secret('creds') }],
    })
    other.put({})
    await other.reconcile()
    expect(findCondition(other.last()?.conditions, 'Ready')?.message).toContain(
      'not among the Secrets the kind names',
    )
    await h.controller.stop(100)
    await other.controller.stop(100)
  })
})
