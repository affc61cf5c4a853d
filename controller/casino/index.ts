export { CredentialsValid, casinoReconciler, Degraded, Synced } from './reconciler.ts'
