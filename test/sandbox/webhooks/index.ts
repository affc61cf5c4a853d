// Webhook senders of the provider sandbox (see senders.ts).
export * from './senders.ts'
