import { type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { apiStatus, isConflict, isNotFound } from './kube.ts'

export interface LeaderElectionOptions {
  coordination: CoordinationV1Api
  namespace: string
  name: string
  identity: string
  logger: Logger
  /** How long a lease is valid after its last renewal (default 15 s). */
  leaseDurationMs?: number
  /** How long the leader keeps trying to renew before it gives up leadership (default 10 s). */
  renewDeadlineMs?: number
  /** Interval between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number
  onStartedLeading(): void
  onStoppedLeading(): void
  onChange?(leader: boolean): void
}

/**
 * Leader election on a coordination.k8s.io Lease, with client-go's semantics: a candidate takes
 * the lease only when its holder has not renewed it for a whole lease duration as observed on
 * the candidate's own clock (no clock-skew assumptions), the leader renews every retry period and
 * steps down when it could not renew within the renew deadline, and a graceful stop releases the
 * lease so the next leader does not have to wait it out.
 */
export class LeaderElector {
  readonly #o: Required<Omit<LeaderElectionOptions, 'onChange'>> & Pick<LeaderElectionOptions, 'onChange'>
  #leader = false
  #stopped = false
  #timer: NodeJS.Timeout | undefined
  #observedRecord = ''
  #observedAt = 0
  #lastRenew = 0
  #loop: Promise<void> | undefined

  constructor(opts: LeaderElectionOptions) {
    this.#o = {
      ...opts,
      leaseDurationMs: opts.leaseDurationMs ?? 15_000,
      renewDeadlineMs: opts.renewDeadlineMs ?? 10_000,
      retryPeriodMs: opts.retryPeriodMs ?? 2_000,
    }
  }

  get isLeader(): boolean {
    return this.#leader
  }

  start(): void {
    this.#stopped = false
    this.#loop = this.#tick()
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return
    let acquired = false
    try {
      acquired = await this.#tryAcquireOrRenew()
    } catch (err) {
      this.#o.logger.warn(
        { err: err instanceof Error ? err.message : String(err), lease: this.#o.name },
        'lease update failed',
      )
    }
    if (this.#stopped) return
    const now = Date.now()
    if (acquired) {
      this.#lastRenew = now
      if (!this.#leader) {
        this.#leader = true
        this.#o.logger.info(
          { lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity },
          'became leader',
        )
        this.#o.onChange?.(true)
        this.#o.onStartedLeading()
      }
    } else if (this.#leader && now - this.#lastRenew > this.#o.renewDeadlineMs) {
      this.#leader = false
      this.#o.logger.error(
        { lease: `${this.#o.namespace}/${this.#o.name}` },
        'lost leadership: could not renew the lease',
      )
      this.#o.onChange?.(false)
      this.#o.onStoppedLeading()
    }
    this.#timer = setTimeout(() => {
      this.#loop = this.#tick()
    }, this.#o.retryPeriodMs)
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { coordination, namespace, name, identity } = this.#o
    const now = new Date()
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000)
    let lease: V1Lease
    try {
      lease = await coordination.readNamespacedLease({ name, namespace })
    } catch (err) {
      if (!isNotFound(err)) throw err
      try {
        await coordination.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: toMicroTime(now),
              renewTime: toMicroTime(now),
              leaseTransitions: 0,
            },
          },
        })
        return true
      } catch (createErr) {
        if (isConflict(createErr) || apiStatus(createErr) === 409) return false
        throw createErr
      }
    }
    const spec = lease.spec ?? {}
    const holder = spec.holderIdentity ?? ''
    const record = `${holder}|${String(spec.renewTime ?? '')}|${spec.leaseTransitions ?? 0}`
    if (record !== this.#observedRecord) {
      this.#observedRecord = record
      this.#observedAt = Date.now()
    }
    const heldByOther = holder !== '' && holder !== identity
    const leaseMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000
    if (heldByOther && this.#observedAt + leaseMs > Date.now()) return false

    const transitioning = holder !== identity
    const next: V1Lease = {
      ...lease,
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: transitioning ? toMicroTime(now) : spec.acquireTime,
        renewTime: toMicroTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (transitioning && holder !== '' ? 1 : 0),
      },
    }
    try {
      const updated = await coordination.replaceNamespacedLease({ name, namespace, body: next })
      const u = updated.spec ?? {}
      this.#observedRecord = `${u.holderIdentity ?? ''}|${String(u.renewTime ?? '')}|${u.leaseTransitions ?? 0}`
      this.#observedAt = Date.now()
      return true
    } catch (err) {
      if (isConflict(err)) return false
      throw err
    }
  }

  /** Stops campaigning; a leader releases the lease so a successor can take it at once. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    await this.#loop?.catch(() => {})
    const wasLeader = this.#leader
    this.#leader = false
    if (wasLeader) this.#o.onChange?.(false)
    if (!wasLeader || opts.release === false) return
    const { coordination, namespace, name, identity } = this.#o
    try {
      const lease = await coordination.readNamespacedLease({ name, namespace })
      if (lease.spec?.holderIdentity !== identity) return
      const now = toMicroTime(new Date())
      await coordination.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: now,
            acquireTime: now,
          },
        },
      })
      this.#o.logger.info({ lease: `${namespace}/${name}` }, 'released the lease')
    } catch (err) {
      this.#o.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'could not release the lease',
      )
    }
  }
}

/** Lease times are MicroTime: RFC 3339 with microseconds, which V1MicroTime serialises. */
function toMicroTime(d: Date): V1MicroTime {
  return new V1MicroTime(d.getTime())
}
