/**
 * kstatus, the status model Flux (and kubectl's apply --wait, kpt, cli-utils) compute for a
 * custom resource, implemented here to check that Switchboard's status reads right to them:
 *
 *   Terminating  metadata.deletionTimestamp is set
 *   InProgress   status.observedGeneration is set and differs from metadata.generation
 *   InProgress   Reconciling=True
 *   Failed       Stalled=True
 *   InProgress   Ready=False (kstatus treats a Ready=False without Stalled as still converging)
 *   Current      otherwise (Ready=True, or no conditions for the current generation)
 */
export type KStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating'

interface Cond {
  type: string
  status: string
  reason?: string
  message?: string
}

export interface KObject {
  metadata: { generation?: number; deletionTimestamp?: string }
  status?: { observedGeneration?: number; conditions?: Cond[] }
}

export function kstatus(obj: KObject): { status: KStatus; message: string } {
  if (obj.metadata.deletionTimestamp)
    return { status: 'Terminating', message: 'Resource scheduled for deletion' }
  const observed = obj.status?.observedGeneration
  const generation = obj.metadata.generation
  if (observed !== undefined && generation !== undefined && observed !== generation) {
    return {
      status: 'InProgress',
      message: `Resource generation ${generation} not observed yet (${observed})`,
    }
  }
  const conditions = obj.status?.conditions ?? []
  const find = (type: string) => conditions.find((c) => c.type === type)
  const reconciling = find('Reconciling')
  if (reconciling?.status === 'True') return { status: 'InProgress', message: reconciling.message ?? '' }
  const stalled = find('Stalled')
  if (stalled?.status === 'True') return { status: 'Failed', message: stalled.message ?? '' }
  const ready = find('Ready')
  if (ready?.status === 'False') return { status: 'InProgress', message: ready.message ?? '' }
  return { status: 'Current', message: 'Resource is current' }
}
