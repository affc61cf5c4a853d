/**
 * The shared OAuth token lifecycle (controller/runtime/oauth-tokens.ts) against the real API
 * server and the Patreon sandbox's token endpoint (refresh tokens rotate: each works once).
 */
import type { V1Secret } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Reason, refreshGrant, SwitchboardError } from '../../connectors/index.ts'
import { type OAuthCredential, OAuthTokens, WRITABLE_LABEL } from '../../controller/runtime/index.ts'
import { buildSandbox, type Sandbox } from '../sandbox/index.ts'
import { type Clients, capturedLogger, clients, createNamespace } from './helpers.ts'

const CAMPAIGN = '3131'
let c: Clients
let sb: Sandbox
let ns: string
const logs = capturedLogger('debug')

beforeAll(async () => {
  c = clients()
  sb = await buildSandbox({ patreon: { campaigns: [{ id: CAMPAIGN, name: 'Tokens', members: 1 }] } })
  await sb.listen()
  ns = await createNamespace(c.core, 'patreon-tokens')
})
afterAll(async () => {
  await c.core.deleteNamespace({ name: ns }).catch(() => {})
  await sb.close()
})

let n = 0
/** A Secret with a spent-looking access token (expired) and a live refresh token. */
async function secretWith(opts: { labelled?: boolean; expired?: boolean } = {}) {
  const name = `creds-${++n}`
  const t = sb.patreon.issueTokens(CAMPAIGN)
  const expired = opts.expired ?? true
  await c.core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: {
        name,
        namespace: ns,
        ...(opts.labelled === false ? {} : { labels: { [WRITABLE_LABEL]: 'true' } }),
      },
      stringData: {
        clientId: 'sandbox-client-id',
        clientSecret: 'sandbox-client-secret',
        accessToken: t.accessToken,
        refreshToken: t.refreshToken,
        accessTokenExpiresAt: new Date(Date.now() + (expired ? -1000 : 3_600_000)).toISOString(),
      },
    },
  })
  if (expired) sb.patreon.expireAccessTokens(CAMPAIGN)
  return { name, initial: t }
}

function credential(name: string, around?: (rt: string) => Promise<void>): OAuthCredential {
  return {
    namespace: ns,
    secretName: name,
    refresh: async (refreshToken, signal) => {
      const out = await refreshGrant({
        provider: 'patreon',
        tokenUrl: `${sb.patreonEndpoint}/api/oauth2/token`,
        clientId: 'sandbox-client-id',
        clientSecret: 'sandbox-client-secret',
        refreshToken,
        logger: logs.logger,
        ...(signal ? { signal } : {}),
      })
      await around?.(out.refreshToken)
      return out
    },
  }
}

const read = (name: string) => c.core.readNamespacedSecret({ namespace: ns, name })
const key = (s: V1Secret, k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8')
const tokens = () => new OAuthTokens({ core: c.core, logger: logs.logger, raceWindowMs: 2_000 })

async function rejection(p: Promise<unknown>): Promise<SwitchboardError> {
  try {
    await p
  } catch (err) {
    if (err instanceof SwitchboardError) return err
    throw err
  }
  throw new Error('expected a rejection')
}

describe('OAuth tokens: cache, single refresh, write-back', () => {
  it('many concurrent gets of an expired token make one refresh; the Secret then holds the rotated pair', async () => {
    const { name, initial } = await secretWith()
    const t = tokens()
    const before = sb.patreon.refreshes
    const got = await Promise.all(
      Array.from({ length: 10 }, async () => t.get(credential(name), await read(name))),
    )
    expect(sb.patreon.refreshes - before).toBe(1)
    expect(new Set(got.map((g) => g.token)).size).toBe(1)
    const s = await read(name)
    expect(key(s, 'accessToken')).toBe(got[0]?.token)
    expect(key(s, 'refreshToken')).not.toBe(initial.refreshToken)
    expect(sb.patreon.refreshTokenValid(key(s, 'refreshToken'))).toBe(true)
    expect(sb.patreon.refreshTokenValid(initial.refreshToken)).toBe(false)
    expect(Date.parse(key(s, 'accessTokenExpiresAt'))).toBeGreaterThan(Date.now() + 30 * 24 * 3600_000)
    // cached: more gets refresh nothing
    await t.get(credential(name))
    expect(sb.patreon.refreshes - before).toBe(1)
  })

  it('a restart uses the rotated tokens from the Secret without refreshing, and they work', async () => {
    const { name } = await secretWith()
    await tokens().get(credential(name), await read(name))
    const before = sb.patreon.refreshes
    const restarted = tokens()
    const got = await restarted.get(credential(name), await read(name))
    expect(sb.patreon.refreshes).toBe(before)
    expect(sb.patreon.accessTokenValid(got.token)).toBe(true)
    // and when that token is refused, the rotated refresh token (not the spent one) renews it
    restarted.reject(credential(name), got.token)
    const renewed = await restarted.get(credential(name), await read(name))
    expect(renewed.token).not.toBe(got.token)
    expect(sb.patreon.refreshes - before).toBe(1)
    expect(sb.patreon.refreshTokenValid(key(await read(name), 'refreshToken'))).toBe(true)
  })

  it('two controllers refreshing at once leave one working pair in the Secret', async () => {
    const { name } = await secretWith()
    const a = tokens()
    const b = tokens()
    const refreshesBefore = sb.patreon.refreshes
    const deniedBefore = sb.patreon.invalidGrants
    const snapshot = await read(name)
    const [ga, gb] = await Promise.all([a.get(credential(name), snapshot), b.get(credential(name), snapshot)])
    // one of them spent the refresh token; the other was refused and took the winner's tokens
    expect(sb.patreon.refreshes - refreshesBefore).toBe(1)
    expect(sb.patreon.invalidGrants - deniedBefore).toBe(1)
    expect(ga.token).toBe(gb.token)
    const s = await read(name)
    expect(key(s, 'accessToken')).toBe(ga.token)
    expect(sb.patreon.refreshTokenValid(key(s, 'refreshToken'))).toBe(true)
  })

  it('a conflict on write-back is read again and written on the new version, keeping the other change', async () => {
    const { name } = await secretWith()
    let edited = false
    const cred = credential(name, async () => {
      if (edited) return
      edited = true
      // someone else writes the Secret between the refresh and the write-back
      const s = await read(name)
      await c.core.replaceNamespacedSecret({
        namespace: ns,
        name,
        body: { ...s, data: { ...s.data, webhookSecret: Buffer.from('set-meanwhile').toString('base64') } },
      })
    })
    const got = await tokens().get(cred, await read(name))
    expect(edited).toBe(true)
    const s = await read(name)
    expect(key(s, 'webhookSecret')).toBe('set-meanwhile')
    expect(key(s, 'accessToken')).toBe(got.token)
    expect(sb.patreon.refreshTokenValid(key(s, 'refreshToken'))).toBe(true)
  })

  it('a new grant the user put in during a refresh is not overwritten', async () => {
    const { name } = await secretWith()
    const fresh = sb.patreon.issueTokens(CAMPAIGN)
    const cred = credential(name, async () => {
      const s = await read(name)
      await c.core.replaceNamespacedSecret({
        namespace: ns,
        name,
        body: { ...s, data: { ...s.data, refreshToken: Buffer.from(fresh.refreshToken).toString('base64') } },
      })
    })
    await tokens().get(cred, await read(name))
    expect(key(await read(name), 'refreshToken')).toBe(fresh.refreshToken)
  })

  it('a Secret without the label: SecretNotWritable, tokens kept in memory, written once labelled', async () => {
    const { name } = await secretWith({ labelled: false })
    const t = tokens()
    const before = sb.patreon.refreshes
    const err = await rejection(t.get(credential(name), await read(name)))
    expect(err.reason).toBe(Reason.SecretNotWritable)
    expect(err.message).toContain(WRITABLE_LABEL)
    const s = await read(name)
    await c.core.replaceNamespacedSecret({
      namespace: ns,
      name,
      body: { ...s, metadata: { ...s.metadata, labels: { [WRITABLE_LABEL]: 'true' } } },
    })
    const got = await t.get(credential(name), await read(name))
    expect(sb.patreon.refreshes - before).toBe(1)
    const after = await read(name)
    expect(key(after, 'accessToken')).toBe(got.token)
    expect(sb.patreon.refreshTokenValid(key(after, 'refreshToken'))).toBe(true)
  })

  it('a revoked grant is TokenRevoked, saying what to do', async () => {
    const { name } = await secretWith()
    sb.patreon.revoke(CAMPAIGN)
    const err = await rejection(tokens().get(credential(name), await read(name)))
    expect(err.reason).toBe(Reason.TokenRevoked)
    expect(err.kind).toBe('stalling')
    expect(err.message).toMatch(/authorise Switchboard again/)
  })

  it('no token value in any log line', async () => {
    const text = logs.text()
    expect(text).toContain('access token refreshed')
    expect(text).not.toMatch(/pat-(at|rt)-/)
  })
})
