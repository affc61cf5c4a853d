export {
  batchBody,
  batchIdFor,
  createHttpDeliverer,
  DEFAULT_SIGNATURE_HEADER,
  DELIVERY_HEADER,
  type HttpDelivererOptions,
  MAX_BATCH_SIZE,
} from './deliverer.ts'
export {
  checkSignature,
  computeSignature,
  DEFAULT_TOLERANCE_SECONDS,
  type SignatureCheck,
  type SignatureFailure,
  type SignatureScheme,
  type SignedBody,
  signatureScheme,
  signPayload,
  type VerifyOptions,
  verifySignature,
} from './signature.ts'
