/**
 * Abort signals and waiting, once for every connector: the retry engine, the request budget and
 * anything else in connectors/ that waits use these, so that an aborted reconcile ends every wait
 * the same way (with the signal's reason when it is a `SwitchboardError`, else a
 * `TransientError(Timeout)` that says what was interrupted).
 */
import { Reason, SwitchboardError, TransientError } from './errors.ts'

/** The error an abort ends a call with; `what` completes the message (`softswiss players.list: aborted`). */
export function abortError(signal: AbortSignal, message: string): SwitchboardError {
  const reason: unknown = signal.reason
  if (reason instanceof SwitchboardError) return reason
  return new TransientError(Reason.Timeout, message, { cause: reason })
}

export function throwIfAborted(signal: AbortSignal | undefined, message: string): void {
  if (signal?.aborted) throw abortError(signal, message)
}

/** The signals given, combined (undefined when none is given). */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined)
  if (present.length <= 1) return present[0]
  return AbortSignal.any(present)
}

/**
 * Waits `ms`, or rejects with `abortError(signal, message)` when the signal aborts first. Uses
 * the global timers, so fake timers drive it in tests.
 */
export function sleep(ms: number, signal: AbortSignal | undefined, message: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal, message))
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortError(signal as AbortSignal, message))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Resolves with `task`, or rejects when `signal` aborts first (the task itself runs on: use it
 * for work that cannot be withdrawn).
 */
export function raceAbort<T>(task: Promise<T>, signal: AbortSignal | undefined, message: string): Promise<T> {
  if (!signal) return task
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, message))
    if (signal.aborted) {
      task.catch(() => {}) // nobody waits for it any more
      return onAbort()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    task.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}
