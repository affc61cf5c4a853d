import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { GoogleCalendarClient, WatchRequest } from '../../connectors/index.ts'
import { CalendarSyncKind, type CalendarSyncSpec, type CalendarSyncStatus } from '../api/index.ts'
import { findCondition } from '../runtime/index.ts'
import type { CalendarClients, Ctx } from './clients.ts'
import { reconcilePush } from './push.ts'

const DAY = 86_400_000
const TOKEN = 'a-channel-token-of-some-length'

/** A Google client that records watch and stop calls, and a context around a status. */
function fixture(spec: Record<string, unknown>, secret: Record<string, string> = { channelToken: TOKEN }) {
  const calls: string[] = []
  const open = new Map<string, WatchRequest>()
  const checkpointedChannels: string[][] = []
  const client = {
    async watch(calendarId: string, req: WatchRequest) {
      calls.push(`watch ${calendarId} ${req.address}`)
      open.set(req.id, req)
      return { id: req.id, resourceId: `res-${calendarId}`, expiration: Number(req.expiration) }
    },
    async stopChannel(c: { id: string; resourceId: string }) {
      calls.push(`stop ${c.id}`)
      open.delete(c.id)
    },
  } as unknown as GoogleCalendarClient
  const clients = { google: () => ({ client }) } as unknown as CalendarClients
  const status: CalendarSyncStatus = { conditions: [] }
  const parsed: CalendarSyncSpec = CalendarSyncKind.spec.parse(spec)
  const ctx = {
    obj: { metadata: { name: 'venue', namespace: 'club', generation: 1 } },
    spec: parsed,
    status,
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    now: () => new Date(),
    secret: () => ({
      data: Object.fromEntries(
        Object.entries(secret).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
    }),
    credentials: () => ({}),
    setCondition: (type: string, s: 'True' | 'False', reason: string, message: string) => {
      const list = status.conditions ?? []
      const i = list.findIndex((x) => x.type === type)
      const next = { type, status: s, reason, message, lastTransitionTime: '2030-01-01T00:00:00Z' }
      if (i >= 0) list[i] = next
      else list.push(next)
      status.conditions = list
    },
    removeCondition: (type: string) => {
      status.conditions = (status.conditions ?? []).filter((x) => x.type !== type)
    },
    ready: () => {},
    requeueAfter: () => {},
    event: () => {},
    addSecretValue: () => {},
    checkpoint: async () => {
      checkpointedChannels.push((status.webhook?.channels ?? []).map((c) => `${c.id}:${c.resourceId ?? ''}`))
    },
  } as unknown as Ctx
  return { ctx, clients, calls, open, status, checkpoints: () => checkpointedChannels }
}

const googleSpec = {
  source: { googleCalendar: { calendarId: 'src@example.com' } },
  credentialsSecretRef: { name: 'google' },
}

describe('reconcilePush', () => {
  it('without a public URL: a path, no channel, WebhookReady False', async () => {
    const f = fixture(googleSpec)
    const out = await reconcilePush(f.ctx, f.clients, { now: () => new Date() })
    expect(f.status.webhook?.path).toMatch(/^\/hooks\/google\/[A-Za-z0-9_-]{43}$/)
    expect(f.status.webhook?.url).toBeUndefined()
    expect(f.calls).toEqual([])
    expect(findCondition(f.status.conditions, 'WebhookReady')).toMatchObject({
      status: 'False',
      reason: 'NoPublicUrl',
    })
    expect(out.renewInMs).toBeUndefined()
  })

  it('opens one channel (recorded before it is opened), keeps it, renews it before it expires', async () => {
    const f = fixture(googleSpec)
    let now = new Date('2030-01-01T00:00:00Z')
    const opts = {
      publicUrl: 'https://hooks.example.com/',
      now: () => now,
      channelTtlMs: 7 * DAY,
      renewBeforeMs: DAY,
    }
    const first = await reconcilePush(f.ctx, f.clients, opts)
    const wh = f.status.webhook
    expect(wh?.url).toBe(`https://hooks.example.com${wh?.path}`)
    expect(f.calls).toEqual([`watch src@example.com ${wh?.url}`])
    const [channel] = wh?.channels ?? []
    expect(channel).toMatchObject({ resourceId: 'res-src@example.com', expiration: '2030-01-08T00:00:00Z' })
    expect(channel?.id).toMatch(/^sb-[A-Za-z0-9]{12}-[A-Za-z0-9]{16}$/)
    // the path first, then the channel id without a resource id: both written before the watch
    expect(f.checkpoints()).toEqual([[], [`${channel?.id}:`]])
    expect(f.open.get(channel?.id ?? '')?.token).toBe(TOKEN)
    expect(first.renewInMs).toBe(6 * DAY)
    expect(findCondition(f.status.conditions, 'WebhookReady')).toMatchObject({
      status: 'True',
      reason: 'ChannelOpen',
    })

    // an hour later: nothing to do
    now = new Date('2030-01-01T01:00:00Z')
    await reconcilePush(f.ctx, f.clients, opts)
    expect(f.calls).toHaveLength(1)

    // within a day of expiry: a new channel, then the old one stopped
    now = new Date('2030-01-07T01:00:00Z')
    const renewed = await reconcilePush(f.ctx, f.clients, opts)
    expect(f.calls.slice(1)).toEqual([`watch src@example.com ${wh?.url}`, `stop ${channel?.id}`])
    expect(f.status.webhook?.channels).toHaveLength(1)
    expect(f.status.webhook?.channels?.[0]?.id).not.toBe(channel?.id)
    expect(renewed.renewInMs).toBe(6 * DAY)
    expect([...f.open.keys()]).toEqual([f.status.webhook?.channels?.[0]?.id])
  })

  it('a new public URL replaces the channel', async () => {
    const f = fixture(googleSpec)
    const now = () => new Date('2030-01-01T00:00:00Z')
    await reconcilePush(f.ctx, f.clients, { publicUrl: 'https://a.example.com', now })
    const old = f.status.webhook?.channels?.[0]?.id
    await reconcilePush(f.ctx, f.clients, { publicUrl: 'https://b.example.com', now })
    expect(f.status.webhook?.url).toMatch(/^https:\/\/b\.example\.com\/hooks\/google\//)
    expect(f.calls.at(-1)).toBe(`stop ${old}`)
    expect(f.open.size).toBe(1)
  })

  it('a new channel token replaces the channel; status never carries anything derived from it', async () => {
    const f = fixture(googleSpec)
    const memory = {}
    const now = () => new Date('2030-01-01T00:00:00Z')
    await reconcilePush(f.ctx, f.clients, { publicUrl: 'https://a.example.com', now, memory })
    const old = f.status.webhook?.channels?.[0]?.id
    await reconcilePush(f.ctx, f.clients, { publicUrl: 'https://a.example.com', now, memory })
    expect(f.status.webhook?.channels?.[0]?.id).toBe(old)
    const rotated = fixture(googleSpec, { channelToken: 'another-channel-token-value' })
    rotated.status.webhook = structuredClone(f.status.webhook)
    await reconcilePush(rotated.ctx, rotated.clients, { publicUrl: 'https://a.example.com', now, memory })
    const next = rotated.status.webhook?.channels?.[0]?.id
    expect(next).not.toBe(old)
    expect(rotated.calls).toEqual([`watch src@example.com ${rotated.status.webhook?.url}`, `stop ${old}`])
    // the channel ids are the same before the random part whatever the token: nothing of it shows
    expect(next?.slice(0, 16)).toBe(old?.slice(0, 16))
  })

  it('without a channel token: no channel, the missing key named', async () => {
    const f = fixture(googleSpec, {})
    await reconcilePush(f.ctx, f.clients, { publicUrl: 'https://hooks.example.com', now: () => new Date() })
    expect(f.calls).toEqual([])
    const c = findCondition(f.status.conditions, 'WebhookReady')
    expect(c).toMatchObject({ status: 'False', reason: 'SecretKeyMissing' })
    expect(c?.message).toContain('"channelToken"')
  })

  it('Calendly: a path and WebhookReady from the signing key; inline events: no webhook at all', async () => {
    const calendly = fixture(
      {
        source: { calendly: { organization: 'https://api.calendly.com/organizations/X' } },
        credentialsSecretRef: { name: 'c' },
      },
      { webhookSigningKey: 'signing-key' },
    )
    await reconcilePush(calendly.ctx, calendly.clients, {
      publicUrl: 'https://h.example.com',
      now: () => new Date(),
    })
    expect(calendly.status.webhook?.path).toMatch(/^\/hooks\/calendly\//)
    expect(findCondition(calendly.status.conditions, 'WebhookReady')?.status).toBe('True')

    const inline = fixture({ source: { events: [] } })
    inline.status.webhook = { path: '/hooks/google/x' }
    await reconcilePush(inline.ctx, inline.clients, { now: () => new Date() })
    expect(inline.status.webhook).toBeUndefined()
    expect(findCondition(inline.status.conditions, 'WebhookReady')).toBeUndefined()
  })
})
