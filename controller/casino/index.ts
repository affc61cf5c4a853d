export { CredentialsValid, casinoReconciler, Degraded, RESYNC_ANNOTATION, Synced } from './reconciler.ts'
