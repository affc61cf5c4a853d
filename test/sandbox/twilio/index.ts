// Twilio sandbox: the public face.

export { twilioConfigSchema } from './config.ts'
export { TWILIO_PATH_PREFIX, twilioPlugin } from './plugin.ts'
export {
  messageResource,
  type SentCallback,
  type StoredMessage,
  TWILIO_API_VERSION,
  TWILIO_PROVIDER,
  type TwilioAccountSpec,
  TwilioSandbox,
  type TwilioSandboxOptions,
} from './state.ts'
