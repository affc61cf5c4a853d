import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { AuthorizationCodes, consentPage, s256, tokenClient, UserTokens } from './index.ts'

describe('sandbox OAuth: the consent page', () => {
  async function app(opts: { refuse?: boolean; requirePkce?: boolean } = {}) {
    const codes = new AuthorizationCodes<string>({ prefix: 'c-' })
    const a = Fastify()
    consentPage(a, {
      path: '/authorize',
      title: 'Provider',
      knownClient: (id) => id === 'client',
      redirectAllowed: (_id, uri) => uri.startsWith('https://app.example/'),
      ...(opts.requirePkce ? { requirePkce: true } : {}),
      consent: (req) => (opts.refuse ? { error: 'access_denied' } : { code: codes.issue(req, 'user-1') }),
    })
    await a.ready()
    return { a, codes }
  }
  const q = (p: Record<string, string>) => `/authorize?${new URLSearchParams(p)}`
  const good = {
    response_type: 'code',
    client_id: 'client',
    redirect_uri: 'https://app.example/cb',
    scope: 'a b',
    state: 's1',
    code_challenge: s256('verifier'),
    code_challenge_method: 'S256',
  }

  it('answers with a one-use code bound to client, redirect URI and challenge', async () => {
    const { a, codes } = await app()
    const res = await a.inject(q(good))
    expect(res.statusCode).toBe(302)
    const back = new URL(res.headers.location as string)
    expect(back.origin + back.pathname).toBe('https://app.example/cb')
    expect(back.searchParams.get('state')).toBe('s1')
    const code = back.searchParams.get('code') as string
    expect(code).toMatch(/^c-/)
    expect(codes.redeem('client', code, 'https://app.example/cb', 'wrong')).toBeUndefined()
    // refused once: spent
    expect(codes.redeem('client', code, 'https://app.example/cb', 'verifier')).toBeUndefined()
    const again = new URL((await a.inject(q(good))).headers.location as string).searchParams.get(
      'code',
    ) as string
    expect(codes.redeem('other', again, 'https://app.example/cb', 'verifier')).toBeUndefined()
    const third = new URL((await a.inject(q(good))).headers.location as string).searchParams.get(
      'code',
    ) as string
    expect(codes.redeem('client', third, 'https://app.example/cb', 'verifier')).toEqual({
      grant: 'user-1',
      scopes: ['a', 'b'],
    })
    expect(codes.redeem('client', third, 'https://app.example/cb', 'verifier')).toBeUndefined()
    expect(codes).toMatchObject({ issued: 3, redeemed: 1, refused: 4 })
  })

  it('refuses with a page (no redirect) for an unknown client or an unregistered redirect URI', async () => {
    const { a } = await app()
    for (const bad of [
      { ...good, client_id: 'nobody' },
      { ...good, redirect_uri: 'javascript:alert(1)' },
      { ...good, redirect_uri: 'https://evil.example/cb' },
    ]) {
      const res = await a.inject(q(bad))
      expect(res.statusCode).toBe(400)
      expect(res.headers.location).toBeUndefined()
    }
  })

  it('sends errors back to the redirect URI: response type, PKCE method, PKCE required, a refusal', async () => {
    const err = async (p: Record<string, string>, o = {}) => {
      const { a } = await app(o)
      return new URL((await a.inject(q(p))).headers.location as string).searchParams.get('error')
    }
    expect(await err({ ...good, response_type: 'token' })).toBe('unsupported_response_type')
    expect(await err({ ...good, code_challenge_method: 'plain' })).toBe('invalid_request')
    const { code_challenge: _c, code_challenge_method: _m, ...noPkce } = good
    expect(await err(noPkce, { requirePkce: true })).toBe('invalid_request')
    expect(await err(good, { refuse: true })).toBe('access_denied')
  })
})

describe('sandbox OAuth: user tokens', () => {
  it('rotates refresh tokens when asked to, and keeps them otherwise', () => {
    const rotating = new UserTokens<string>({ ttlSeconds: 60 })
    const first = rotating.issue({ clientId: 'c', grant: 'u', scopes: ['s'] })
    expect(rotating.lookup(first.accessToken)?.grant).toBe('u')
    expect(rotating.refresh('other', first.refreshToken)).toBeUndefined()
    const next = rotating.refresh('c', first.refreshToken)
    expect(next?.refreshToken).toBeDefined()
    expect(next?.refreshToken).not.toBe(first.refreshToken)
    expect(rotating.refreshTokenValid(first.refreshToken)).toBe(false)
    expect(rotating.refresh('c', first.refreshToken)).toBeUndefined()
    const kept = new UserTokens<string>({ rotate: false })
    const k = kept.issue({ clientId: 'c', grant: 'u', scopes: [] })
    expect(kept.refresh('c', k.refreshToken)?.refreshToken).toBeUndefined()
    expect(kept.refresh('c', k.refreshToken)?.accessToken).toBeDefined()
    kept.revoke((g) => g.grant === 'u')
    expect(kept.refresh('c', k.refreshToken)).toBeUndefined()
    expect(kept.refusedRefreshes).toBe(1)
  })

  it('reads the client from Basic auth or the form', () => {
    const basic = `Basic ${Buffer.from('id%3A1:se%25cret').toString('base64')}`
    expect(tokenClient({ client_id: 'x' }, basic)).toEqual({
      clientId: 'id:1',
      clientSecret: 'se%cret',
      basic: true,
    })
    expect(tokenClient({ client_id: 'x', client_secret: 'y' }, undefined)).toEqual({
      clientId: 'x',
      clientSecret: 'y',
      basic: false,
    })
  })
})
