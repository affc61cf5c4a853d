// The provider sandbox's public face (see README.md).

export {
  ALTENAR_PROVIDER,
  accountSpecSchema,
  BETSOFTWARE_PROVIDER,
  betsoftwareStringToSign,
  CASINO_PREFIX,
  CASINO_PROVIDER_IDS,
  type CasinoAccount,
  type CasinoAccountSpec,
  CasinoDataset,
  CasinoSandbox,
  type CasinoSandboxOptions,
  type CasinoStats,
  casinoKeyOf,
  type DatasetSizes,
  PLAYTECH_PAM_PROVIDER,
  registerCasinoPlugins,
  SOFTSWISS_PROVIDER,
} from './casino/index.ts'
export { loadConfig } from './cli.ts'
export { type ControlDeps, controlPlugin } from './control.ts'
export { type ActiveFault, FaultInjector, type FaultSpec, faultSpecSchema } from './faults.ts'
export {
  HTTP_PROVIDER,
  HttpReceiverSandbox,
  type HttpReceiverSandboxOptions,
  httpReceiverPlugin,
  type ReceivedRecord,
  type ReceiverConfig,
} from './http-receiver.ts'
export * from './patreon/index.ts'
export { BoundedList, instrument, MessageTally, type RecordedRequest, RequestLog } from './recording.ts'
export { buildSandbox, type Sandbox, type SandboxOptions } from './sandbox.ts'
export {
  basicAuthWriteKey,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  MAX_EVENT_BYTES,
  SEGMENT_PROVIDER,
  type SegmentEvent,
  SegmentSandbox,
  type SegmentSandboxOptions,
  segmentPlugin,
} from './segment.ts'
export * from './twilio/index.ts'
export * from './twitch/index.ts'
export * from './webhooks/index.ts'
