export { CredentialsValid, destinationReconciler, httpCredentials, segmentCredentials } from './reconciler.ts'
export { type DeliveryDelta, DeliveryRegistry } from './registry.ts'
