import { describe, expect, it } from 'vitest'
import { ensureWebhookStatus, parseWebhookPath, webhookPath, webhookStatus } from '../controller/api/index.ts'

describe('ensureWebhookStatus', () => {
  it('generates an unguessable path once and keeps it', () => {
    const status: { webhook?: { path: string; url?: string } } = {}
    const first = ensureWebhookStatus(status, { provider: 'twitch', publicUrl: 'https://hooks.example.com/' })
    expect(first.path).toMatch(/^\/hooks\/twitch\/[A-Za-z0-9_-]{43}$/)
    expect(first.url).toBe(`https://hooks.example.com${first.path}`)
    expect(status.webhook).toBe(first)
    const again = ensureWebhookStatus(status, { provider: 'twitch', publicUrl: 'https://hooks.example.com' })
    expect(again).toEqual(first)
    // tokens differ between resources
    expect(ensureWebhookStatus({}, { provider: 'twitch' }).path).not.toBe(first.path)
  })

  it('keeps a path prefix of the public URL and drops the url when none is configured', () => {
    const status = {}
    const w = ensureWebhookStatus(status, {
      provider: 'google',
      publicUrl: 'https://example.com/switchboard',
    })
    expect(w.url).toBe(`https://example.com/switchboard${w.path}`)
    expect(ensureWebhookStatus(status, { provider: 'google' })).toEqual({ path: w.path })
  })

  it('makes a new token when the provider changed or the stored path is malformed, and keeps channels of a kept path', () => {
    const status = {
      webhook: { path: webhookPath('google', 'a'.repeat(43)), channels: [{ id: 'c1' }] },
    }
    expect(ensureWebhookStatus(status, { provider: 'google' }).channels).toEqual([{ id: 'c1' }])
    const moved = ensureWebhookStatus(status, { provider: 'calendly' })
    expect(moved.path.startsWith('/hooks/calendly/')).toBe(true)
    expect(moved.channels).toBeUndefined()
    const broken = { webhook: { path: '/hooks/calendly/short' } }
    expect(ensureWebhookStatus(broken, { provider: 'calendly' }).path).not.toBe('/hooks/calendly/short')
  })

  it('produces a status that its zod schema accepts', () => {
    const w = ensureWebhookStatus({}, { provider: 'patreon', publicUrl: 'https://hooks.example.com' })
    expect(webhookStatus.parse(w)).toEqual(w)
  })
})

describe('parseWebhookPath', () => {
  it('accepts only /hooks/<known provider>/<43-character token>', () => {
    const token = 'b'.repeat(43)
    expect(parseWebhookPath(`/hooks/playtech-pam/${token}`)).toEqual({ provider: 'playtech-pam', token })
    for (const bad of [
      `/hooks/nope/${token}`,
      `/hooks/twitch/${token}/x`,
      `/hook/twitch/${token}`,
      `/hooks/twitch/${token.slice(1)}`,
      `/hooks/twitch/${token.slice(1)}=`,
      `hooks/twitch/${token}`,
    ]) {
      expect(parseWebhookPath(bad), bad).toBeUndefined()
    }
  })
})
