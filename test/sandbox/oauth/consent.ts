/**
 * The consent page of a provider's authorization endpoint (RFC 6749 §4.1.1), as every sandbox
 * serves it: it answers at once, without a person, with what the test set up (a code for the
 * account it names, or a refusal).
 *
 * - An unknown `client_id`, or a `redirect_uri` that is missing, not http(s) or not one the
 *   client registered (when the provider checks that): a 400 page, never a redirect (§4.1.2.1:
 *   the redirect URI cannot be trusted then).
 * - `response_type` other than `code`: back to the redirect URI with `unsupported_response_type`.
 * - A `code_challenge` with a method other than `S256`, or (for a provider that requires PKCE)
 *   no challenge: back with `invalid_request`.
 * - Otherwise the provider's `consent` decides: back with `code` (and `state`), or with `error`
 *   (`access_denied` for a refusal). `decorate` adds what the provider adds to either answer.
 */
import type { FastifyInstance } from 'fastify'
import type { CodeRequest } from './codes.ts'

export type ConsentAnswer = { code: string } | { error: string }

export interface ConsentPageOptions {
  /** The route, e.g. `/oauth2/authorize`. */
  path: string
  /** The page title of the error pages (the provider's name). */
  title: string
  knownClient(clientId: string): boolean
  /** Whether the client registered this redirect URI; default any http(s) URI. */
  redirectAllowed?(clientId: string, redirectUri: string): boolean
  /** PKCE is required (the provider refuses an authorize request without a challenge). */
  requirePkce?: boolean
  /** The consent: a code issued for the request, or an error. */
  consent(req: CodeRequest, query: Record<string, string | undefined>): ConsentAnswer
  /** Adds what the provider adds to the redirect back (e.g. the scope, an error description). */
  decorate?(back: URL, answer: ConsentAnswer, query: Record<string, string | undefined>): void
}

/** Registers the consent page on `api` (a provider's encapsulated sandbox plugin). */
export function consentPage(api: FastifyInstance, opts: ConsentPageOptions): void {
  api.get<{ Querystring: Record<string, string | undefined> }>(opts.path, async (req, reply) => {
    const q = req.query
    const page = (status: number, text: string) =>
      reply
        .code(status)
        .type('text/html; charset=utf-8')
        .send(`<!doctype html><title>${opts.title}</title><p>${text}</p>`)
    if (!q.client_id || !opts.knownClient(q.client_id)) return page(400, 'Unknown client_id.')
    if (!q.redirect_uri || !/^https?:\/\//.test(q.redirect_uri)) return page(400, 'Invalid redirect_uri.')
    if (opts.redirectAllowed && !opts.redirectAllowed(q.client_id, q.redirect_uri))
      return page(400, 'redirect_uri_mismatch: the redirect URI is not registered for this client.')
    const back = new URL(q.redirect_uri)
    if (q.state !== undefined) back.searchParams.set('state', q.state)
    const answer = (error: string) => {
      back.searchParams.set('error', error)
      return reply.redirect(back.toString(), 302)
    }
    if (q.response_type !== 'code') return answer('unsupported_response_type')
    if (q.code_challenge !== undefined && q.code_challenge_method !== 'S256') return answer('invalid_request')
    if (opts.requirePkce && q.code_challenge === undefined) return answer('invalid_request')
    const consented = opts.consent(
      {
        clientId: q.client_id,
        redirectUri: q.redirect_uri,
        scope: q.scope ?? '',
        codeChallenge: q.code_challenge,
      },
      q,
    )
    if ('error' in consented) back.searchParams.set('error', consented.error)
    else back.searchParams.set('code', consented.code)
    opts.decorate?.(back, consented, q)
    return reply.redirect(back.toString(), 302)
  })
}
