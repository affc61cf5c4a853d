// The public face of connectors/: other folders import from here only.
export {
  DEFAULT_RATE_LIMIT_WAIT_MS,
  type Deliverer,
  type DeliverOptions,
  type DeliveryRecord,
  type DeliveryResult,
  describeUrl,
  errorForStatus,
  MAX_MESSAGE_ID_LENGTH,
  parseRetryAfter,
  type StatusErrorContext,
  validateRecords,
} from './delivery.ts'
export * from './errors.ts'
export * from './log.ts'
export { createSegmentDeliverer, type SegmentDelivererOptions } from './segment/index.ts'
export {
  batchIdFor,
  checkSignature,
  createHttpDeliverer,
  DEFAULT_SIGNATURE_HEADER,
  DELIVERY_HEADER,
  type HttpDelivererOptions,
  type SignatureCheck,
  type SignatureFailure,
  signPayload,
  type VerifyOptions,
  verifySignature,
} from './signed-http/index.ts'
