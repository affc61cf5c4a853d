/** The metav1.Condition shape, as every Switchboard kind stores it in `status.conditions`. */
export interface Condition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason: string
  message: string
  observedGeneration?: number
  lastTransitionTime: string
}

export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
} as const

const MAX_MESSAGE = 32_768

/**
 * Sets a condition in place. `lastTransitionTime` changes only when the status changes (the
 * apimachinery rule), so rewriting the same condition changes nothing and causes no write.
 */
export function setCondition(
  conditions: Condition[],
  next: Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string },
  now: () => Date = () => new Date(),
): void {
  const message = next.message.length > MAX_MESSAGE ? next.message.slice(0, MAX_MESSAGE) : next.message
  const existing = conditions.find((c) => c.type === next.type)
  if (!existing) {
    conditions.push({
      type: next.type,
      status: next.status,
      reason: next.reason,
      message,
      ...(next.observedGeneration === undefined ? {} : { observedGeneration: next.observedGeneration }),
      lastTransitionTime: next.lastTransitionTime ?? rfc3339(now()),
    })
    return
  }
  if (existing.status !== next.status) {
    existing.status = next.status
    existing.lastTransitionTime = next.lastTransitionTime ?? rfc3339(now())
  }
  existing.reason = next.reason
  existing.message = message
  if (next.observedGeneration !== undefined) existing.observedGeneration = next.observedGeneration
}

export function removeCondition(conditions: Condition[], type: string): void {
  const i = conditions.findIndex((c) => c.type === type)
  if (i >= 0) conditions.splice(i, 1)
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type)
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True'
}

/** Kubernetes timestamps are RFC 3339 with second precision. */
export function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`
}

/** Orders conditions so that Ready comes first, then the rest by type (stable output, stable diffs). */
export function sortConditions(conditions: Condition[]): Condition[] {
  const rank = (t: string) => (t === 'Ready' ? 0 : t === 'Reconciling' ? 1 : t === 'Stalled' ? 2 : 3)
  return conditions.sort((a, b) => rank(a.type) - rank(b.type) || a.type.localeCompare(b.type))
}
