export {
  createSegmentDeliverer,
  MAX_EVENT_BYTES,
  MAX_EVENTS_PER_BATCH,
  type SegmentDelivererOptions,
} from './deliverer.ts'
