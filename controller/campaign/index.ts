export { maskPhone, render } from './recipients.ts'
export { type CampaignReconcilerOptions, campaignReconciler } from './reconciler.ts'
