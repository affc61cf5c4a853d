// Twilio Messaging: the public face.

export {
  createTwilioClient,
  createTwilioSdkClient,
  type SendOutcome,
  type SendRequest,
  type SentMessage,
  TWILIO_DEFAULT_ENDPOINT,
  type TwilioClient,
  type TwilioClientOptions,
  type TwilioCredentials,
} from './client.ts'
