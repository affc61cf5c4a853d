/**
 * Calendly webhook signatures: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where
 * v1 is the HMAC-SHA256, keyed with the subscription's signing key, of `${t}.${rawBody}`: the
 * scheme of Switchboard's signed HTTP deliveries (connectors/signed-http), under Calendly's
 * header name and with a 3-minute tolerance (either way), so a captured delivery cannot be
 * replayed later. The webhook server and the provider sandbox sign and check with
 * `calendlySignature.sign` / `.check` / `.verify`.
 */
import { signatureScheme } from '../signed-http/index.ts'

export const calendlySignature = signatureScheme({
  header: 'Calendly-Webhook-Signature',
  toleranceSeconds: 180,
})

export const CALENDLY_SIGNATURE_HEADER = calendlySignature.header
/** Largest accepted distance between `t` and now. */
export const CALENDLY_TOLERANCE_SECONDS = calendlySignature.toleranceSeconds
