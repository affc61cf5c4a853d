export { maskPhone } from './recipients.ts'
export { type CampaignReconcilerOptions, campaignReconciler } from './reconciler.ts'
