export { pacer } from './pace.ts'
export { CHUNK_ENTRIES, type Entry, Progress, type ProgressOwner } from './progress.ts'
export { maskPhone, render } from './recipients.ts'
export { type CampaignReconcilerOptions, campaignReconciler } from './reconciler.ts'
