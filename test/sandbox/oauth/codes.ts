/**
 * One-use authorization codes (RFC 6749 §4.1.2), as a provider's consent page issues them and its
 * token endpoint redeems them: each bound to the client, the redirect URI and, when the authorize
 * request carried one, the PKCE challenge (RFC 7636, S256). A code redeemed once is gone, whether
 * the redemption succeeded or not; a code for another client or redirect URI, an expired one, or
 * one whose verifier does not hash to its challenge is refused (the caller answers `invalid_grant`
 * in its provider's shape).
 *
 * `G` is what the consent granted (the campaign, the user...): handed back on redemption.
 */
import { createHash, randomBytes } from 'node:crypto'

interface Issued<G> {
  grant: G
  clientId: string
  redirectUri: string
  scopes: string[]
  challenge?: string
  expiresAt: number
}

export interface CodeRequest {
  clientId: string
  redirectUri: string
  /** The `scope` parameter as sent (space-separated). */
  scope: string
  codeChallenge?: string | undefined
}

export interface RedeemedCode<G> {
  grant: G
  /** The scopes the authorize request asked for (and the consent granted). */
  scopes: string[]
}

/** The S256 challenge of a PKCE verifier (RFC 7636 §4.2). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

export class AuthorizationCodes<G> {
  readonly #codes = new Map<string, Issued<G>>()
  readonly #prefix: string
  readonly #ttlMs: number
  /** Codes issued, codes exchanged for tokens, and codes refused. */
  issued = 0
  redeemed = 0
  refused = 0

  /** `prefix` starts every code (as providers' codes have a recognisable shape); lifetime 10 min. */
  constructor(opts: { prefix?: string; ttlMs?: number } = {}) {
    this.#prefix = opts.prefix ?? ''
    this.#ttlMs = opts.ttlMs ?? 10 * 60_000
  }

  issue(req: CodeRequest, grant: G): string {
    const code = `${this.#prefix}${randomBytes(18).toString('base64url')}`
    this.#codes.set(code, {
      grant,
      clientId: req.clientId,
      redirectUri: req.redirectUri,
      scopes: req.scope.split(/\s+/).filter(Boolean),
      ...(req.codeChallenge ? { challenge: req.codeChallenge } : {}),
      expiresAt: Date.now() + this.#ttlMs,
    })
    this.issued++
    return code
  }

  /** The grant behind a code, once; undefined when it may not be redeemed (see the file comment). */
  redeem(
    clientId: string,
    code: string,
    redirectUri: string,
    verifier?: string,
  ): RedeemedCode<G> | undefined {
    const c = this.#codes.get(code)
    this.#codes.delete(code)
    const pkceOk = c?.challenge === undefined || (verifier !== undefined && s256(verifier) === c.challenge)
    if (
      !c ||
      c.clientId !== clientId ||
      c.redirectUri !== redirectUri ||
      c.expiresAt < Date.now() ||
      !pkceOk
    ) {
      this.refused++
      return undefined
    }
    this.redeemed++
    return { grant: c.grant, scopes: c.scopes }
  }

  reset(): void {
    this.#codes.clear()
    this.issued = 0
    this.redeemed = 0
    this.refused = 0
  }
}
