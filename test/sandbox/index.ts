// The provider sandbox's public face (see README.md).
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
