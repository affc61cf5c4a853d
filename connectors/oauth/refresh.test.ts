import { describe, expect, it } from 'vitest'
import { tokenResponse, twitchInvalid } from './refresh.ts'

describe('token answers as providers write them', () => {
  it('takes scope as a space-separated string (RFC 6749) or an array (Twitch)', () => {
    expect(tokenResponse.parse({ access_token: 'a', scope: 'x y' }).scope).toBe('x y')
    expect(tokenResponse.parse({ access_token: 'a', scope: ['channel:read:subscriptions', 'y'] }).scope).toBe(
      'channel:read:subscriptions y',
    )
    expect(tokenResponse.safeParse({ access_token: 'a', scope: [1] }).success).toBe(false)
  })

  it("recognises Twitch's refusal of a code or refresh token, and nothing else", () => {
    const body = (message: unknown) => ({ status: 400, message })
    expect(twitchInvalid(400, body('Invalid refresh token'), 'refresh token')).toBe(true)
    expect(twitchInvalid(400, body('Invalid authorization code'), 'authorization code')).toBe(true)
    expect(twitchInvalid(400, body('invalid client'), 'refresh token')).toBe(false)
    expect(twitchInvalid(403, body('Invalid refresh token'), 'refresh token')).toBe(false)
    expect(twitchInvalid(400, body(7), 'refresh token')).toBe(false)
    expect(twitchInvalid(400, 'Invalid refresh token', 'refresh token')).toBe(false)
  })
})
