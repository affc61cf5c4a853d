export { type PatreonReconcilerOptions, patreonReconciler } from './reconciler.ts'
export { type MemberMemory, type SyncResult, syncMembers } from './sync.ts'
