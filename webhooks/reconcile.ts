/**
 * Webhooks are hints: a verified delivery only asks the controller for a reconcile, by setting
 * the `switchboard.dev/requested-at` annotation on the resource. Bursts are coalesced: at most
 * one patch per resource per interval, and a trailing patch so that the last delivery of a burst
 * always leads to a reconcile that starts after it arrived.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { rfc3339 } from '../connectors/index.ts'
import { formatRequestedStreams, REQUESTED_STREAMS_ANNOTATION } from '../controller/api/index.ts'
import {
  describeApiError,
  isNotFound,
  mergePatch,
  REQUESTED_AT_ANNOTATION,
} from '../controller/runtime/index.ts'
import { keyOfTarget, type TargetRef } from './targets.ts'

export interface ReconcileRequester {
  /**
   * Asks for a reconcile of `target`: of every stream, or (with `stream`) of that stream only.
   * Returns at once; the patch happens later.
   */
  request(target: TargetRef, opts?: { stream?: string }): void
}

/**
 * Writes the request on the resource (the real one is {@link annotationPatcher}): without
 * `streams`, `requestedAt` as the requested-at annotation (every stream); with `streams`, that
 * value (see `formatRequestedStreams`) as the requested-streams annotation, and nothing else.
 */
export type RequestPatcher = (target: TargetRef, requestedAt: string, streams?: string) => Promise<void>

export type PatchResult = 'patched' | 'failed' | 'gone'

export interface CoalescingRequesterOptions {
  patch: RequestPatcher
  /** Least time between two patches of one resource. Default 1000 ms. */
  minIntervalMs?: number
  /** Attempts for one value when the API server fails (then the periodic sync catches up). Default 3. */
  maxAttempts?: number
  logger?: Logger
  /** Called once per patch attempt (metrics). */
  onPatch?(result: PatchResult, target: TargetRef): void
  now?: () => number
}

interface Pending {
  target: TargetRef
  /** Epoch ms of the newest delivery not yet written, if any. */
  pendingMs: number | undefined
  /** Epoch ms written by the last patch (values only go up, so every patch is a change). */
  lastValueMs: number
  lastPatchAt: number
  timer: NodeJS.Timeout | undefined
  inFlight: Promise<void> | undefined
  attempts: number
  /** A request for every stream is pending (else only named streams are). */
  whole: boolean
}

export class CoalescingRequester implements ReconcileRequester {
  readonly #patch: RequestPatcher
  readonly #interval: number
  readonly #maxAttempts: number
  readonly #log: Logger | undefined
  readonly #onPatch: CoalescingRequesterOptions['onPatch']
  readonly #now: () => number
  readonly #state = new Map<string, Pending>()
  /**
   * Per resource, each named stream's latest request time. Kept beyond a burst (bounded, oldest
   * resource first) so that a later patch still carries the streams an earlier one named, in
   * case the controller has not synced them yet: the annotation is one value, overwritten.
   */
  readonly #streams = new Map<string, Map<string, number>>()
  readonly #maxRemembered = 10_000
  #closed = false

  constructor(opts: CoalescingRequesterOptions) {
    this.#patch = opts.patch
    this.#interval = opts.minIntervalMs ?? 1000
    this.#maxAttempts = opts.maxAttempts ?? 3
    this.#log = opts.logger
    this.#onPatch = opts.onPatch
    this.#now = opts.now ?? Date.now
  }

  /** Resources with a patch pending, in flight or within their interval. */
  get active(): number {
    return this.#state.size
  }

  request(target: TargetRef, opts: { stream?: string } = {}): void {
    const key = keyOfTarget(target)
    let st = this.#state.get(key)
    if (!st) {
      st = {
        target,
        pendingMs: undefined,
        lastValueMs: 0,
        lastPatchAt: Number.NEGATIVE_INFINITY,
        timer: undefined,
        inFlight: undefined,
        attempts: 0,
        whole: false,
      }
      this.#state.set(key, st)
    }
    st.target = target
    const base = Math.max(this.#now(), st.lastValueMs + 1)
    st.pendingMs = Math.max(st.pendingMs ?? 0, base)
    if (opts.stream === undefined) st.whole = true
    else {
      const times = this.#streams.get(key) ?? new Map<string, number>()
      this.#streams.delete(key)
      this.#streams.set(key, times)
      times.set(opts.stream, Math.max(base, (times.get(opts.stream) ?? 0) + 1))
      if (this.#streams.size > this.#maxRemembered) {
        const oldest = this.#streams.keys().next().value
        if (oldest !== undefined) this.#streams.delete(oldest)
      }
    }
    this.#schedule(key, st)
  }

  #schedule(key: string, st: Pending): void {
    if (st.inFlight || st.timer) return
    const wait = this.#closed ? 0 : Math.max(0, st.lastPatchAt + this.#interval - this.#now())
    st.timer = setTimeout(() => this.#fire(key, st), wait)
    st.timer.unref()
  }

  #fire(key: string, st: Pending): void {
    st.timer = undefined
    const value = st.pendingMs
    if (value === undefined) {
      // a whole interval passed without a new delivery: forget the resource
      if (this.#state.get(key) === st) this.#state.delete(key)
      return
    }
    st.pendingMs = undefined
    st.lastPatchAt = this.#now()
    const valueMs = Math.max(value, st.lastValueMs + 1)
    const whole = st.whole
    st.whole = false
    const times = this.#streams.get(key)
    const streams =
      whole || !times
        ? undefined
        : formatRequestedStreams(new Map([...times].map(([n, ms]) => [n, rfc3339(ms, 'milliseconds')])))
    st.inFlight = this.#patch(st.target, rfc3339(valueMs, 'milliseconds'), streams).then(
      () => {
        st.lastValueMs = valueMs
        st.attempts = 0
        this.#onPatch?.('patched', st.target)
      },
      (err: unknown) => {
        if (isNotFound(err)) {
          // the resource is gone: nothing to ask for
          st.attempts = 0
          st.pendingMs = undefined
          this.#streams.delete(key)
          this.#onPatch?.('gone', st.target)
          return
        }
        st.attempts++
        this.#onPatch?.('failed', st.target)
        const retry = st.attempts < this.#maxAttempts
        this.#log?.warn(
          {
            err: describeApiError(err),
            object: `${st.target.namespace}/${st.target.name}`,
            kind: st.target.kind,
            retry,
          },
          'could not request a reconcile',
        )
        if (retry) {
          st.pendingMs = Math.max(st.pendingMs ?? 0, valueMs)
          st.whole ||= whole
        } else st.attempts = 0
      },
    )
    void st.inFlight.finally(() => {
      st.inFlight = undefined
      if (this.#state.get(key) !== st) return
      if (this.#closed && st.pendingMs === undefined) {
        this.#state.delete(key)
        return
      }
      // wait out the interval (longer after failures), then send what arrived meanwhile or forget
      const backoff = this.#interval * 2 ** st.attempts
      const wait = this.#closed ? 0 : Math.max(0, st.lastPatchAt + backoff - this.#now())
      st.timer = setTimeout(() => this.#fire(key, st), wait)
      st.timer.unref()
    })
  }

  /**
   * Sends every pending request now (ignoring the interval) and waits for them, bounded by
   * `timeoutMs`. Called on shutdown so that the last deliveries are not lost.
   */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed = true
    for (const [key, st] of this.#state) {
      if (st.timer) {
        clearTimeout(st.timer)
        st.timer = undefined
      }
      if (st.pendingMs !== undefined && !st.inFlight) this.#fire(key, st)
      else if (!st.inFlight) this.#state.delete(key)
    }
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000)
    while (this.#state.size > 0 && Date.now() < deadline) {
      const inFlight = [...this.#state.values()].map((s) => s.inFlight).filter((p) => p !== undefined)
      if (inFlight.length === 0) {
        // only retry timers remain (set with wait 0): let them run
        await new Promise((r) => setTimeout(r, 5))
        continue
      }
      await Promise.race([
        Promise.allSettled(inFlight),
        new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))),
      ])
      await new Promise((r) => setImmediate(r))
    }
    for (const st of this.#state.values()) if (st.timer) clearTimeout(st.timer)
    this.#state.clear()
  }
}

/** Merge-patches the requested-at (or requested-streams) annotation on the resource. */
export function annotationPatcher(custom: CustomObjectsApi): RequestPatcher {
  return async (target, requestedAt, streams) => {
    const [group, version] = splitApiVersion(target.apiVersion)
    const annotations =
      streams === undefined
        ? { [REQUESTED_AT_ANNOTATION]: requestedAt }
        : { [REQUESTED_STREAMS_ANNOTATION]: streams }
    await custom.patchNamespacedCustomObject(
      {
        group,
        version,
        namespace: target.namespace,
        plural: target.plural,
        name: target.name,
        body: { metadata: { annotations } },
      },
      mergePatch,
    )
  }
}

export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const i = apiVersion.lastIndexOf('/')
  return i < 0 ? ['', apiVersion] : [apiVersion.slice(0, i), apiVersion.slice(i + 1)]
}
