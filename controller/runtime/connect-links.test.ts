import { describe, expect, it } from 'vitest'
import { connectSecretName, parseState } from './connect-links.ts'

const NONCE = 'N'.repeat(43)

describe('connect state', () => {
  it('reads namespace, a dotted name and the nonce', () => {
    expect(parseState(`team-a.members.${NONCE}`)).toEqual({
      namespace: 'team-a',
      name: 'members',
      nonce: NONCE,
    })
    expect(parseState(`team-a.venue.patrons.v2.${NONCE}`)).toEqual({
      namespace: 'team-a',
      name: 'venue.patrons.v2',
      nonce: NONCE,
    })
  })

  it('refuses anything else', () => {
    for (const bad of [
      undefined,
      '',
      NONCE,
      `team-a.${NONCE}`,
      `.members.${NONCE}`,
      `Team.members.${NONCE}`,
      `team-a.Members.${NONCE}`,
      `team-a.members.${NONCE.slice(1)}`,
      `team-a.members.${NONCE}x`,
      `team-a.members.${NONCE.slice(1)}+`,
      `${'a'.repeat(64)}.members.${NONCE}`,
      `team-a.${'m'.repeat(400)}.${NONCE}`,
      `team-a.members..${NONCE}`,
      `team a.members.${NONCE}`,
    ]) {
      expect(parseState(bad), String(bad).slice(0, 40)).toBeUndefined()
    }
  })

  it('names the connect Secret by the kind and name, within the length a name may have', () => {
    const a = connectSecretName('PatreonIntegration', 'members')
    expect(a).toMatch(/^switchboard-connect-[0-9a-f]{32}$/)
    expect(connectSecretName('PatreonIntegration', 'members')).toBe(a)
    expect(connectSecretName('TwitchIntegration', 'members')).not.toBe(a)
    expect(connectSecretName('PatreonIntegration', 'x'.repeat(253)).length).toBeLessThan(63)
  })
})
