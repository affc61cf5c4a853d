import { ApiException } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CallbackEvent, StatusCallbackSink } from './callbacks.ts'

const target = {
  apiVersion: 'switchboard.dev/v1alpha1',
  kind: 'MessageCampaign',
  plural: 'messagecampaigns',
  namespace: 'ns',
  name: 'spring',
}
const ev = (key: string, status: string, occurredAt: string): CallbackEvent => ({
  provider: 'twilio',
  type: 'message-status',
  key,
  deliveryId: `${key}:${status}`,
  occurredAt,
  data: { status },
})

function fakeApi(fail: Array<number | Error> = []) {
  const calls: Array<Record<string, unknown>> = []
  return {
    calls,
    api: {
      patchNamespacedCustomObjectStatus: async (req: Record<string, unknown>) => {
        calls.push(req)
        const f = fail.shift()
        if (typeof f === 'number') throw new ApiException(f, 'x', {}, {})
        if (f) throw f
        return {}
      },
    } as never,
  }
}

describe('StatusCallbackSink', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('writes the newest event per key under the field, one patch per resource per interval', async () => {
    const { api, calls } = fakeApi()
    const sink = new StatusCallbackSink({ custom: api, fields: { MessageCampaign: 'delivery.messages' } })
    sink.deliver(target, ev('SM1', 'sent', '2030-01-01T00:00:01Z'))
    sink.deliver(target, ev('SM1', 'delivered', '2030-01-01T00:00:03Z'))
    sink.deliver(target, ev('SM1', 'sent', '2030-01-01T00:00:02Z')) // older: ignored
    sink.deliver(target, ev('SM2', 'failed', '2030-01-01T00:00:02Z'))
    sink.deliver({ ...target, kind: 'Other' }, ev('SM3', 'sent', '2030-01-01T00:00:02Z')) // no field: ignored
    expect(calls).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({
      group: 'switchboard.dev',
      version: 'v1alpha1',
      plural: 'messagecampaigns',
      name: 'spring',
    })
    expect(calls[0]?.body).toEqual({
      status: {
        delivery: {
          messages: {
            SM1: { type: 'message-status', occurredAt: '2030-01-01T00:00:03Z', status: 'delivered' },
            SM2: { type: 'message-status', occurredAt: '2030-01-01T00:00:02Z', status: 'failed' },
          },
        },
      },
    })
    await vi.advanceTimersByTimeAsync(5000)
    expect(calls).toHaveLength(1)
  })

  it('retries a failed write (bounded) and stops for a deleted resource', async () => {
    const { api, calls } = fakeApi([new Error('boom'), 404])
    const results: string[] = []
    const sink = new StatusCallbackSink({
      custom: api,
      fields: { MessageCampaign: 'callbacks' },
      onPatch: (r) => results.push(r),
    })
    sink.deliver(target, ev('SM1', 'sent', '2030-01-01T00:00:01Z'))
    await vi.advanceTimersByTimeAsync(10_000)
    expect(results).toEqual(['failed', 'gone'])
    expect(calls).toHaveLength(2)
  })

  it('flushes what is pending on close', async () => {
    const { api, calls } = fakeApi()
    const sink = new StatusCallbackSink({
      custom: api,
      fields: { MessageCampaign: 'callbacks' },
      flushIntervalMs: 60_000,
    })
    sink.deliver(target, ev('SM1', 'sent', '2030-01-01T00:00:01Z'))
    const closing = sink.close({ timeoutMs: 1000 })
    await vi.advanceTimersByTimeAsync(10)
    await closing
    expect(calls).toHaveLength(1)
  })

  it('orders by meaning across batches: a late "sent" never overwrites "delivered"', async () => {
    const { api, calls } = fakeApi()
    const sink = new StatusCallbackSink({ custom: api, fields: { MessageCampaign: 'callbacks' } })
    const ranked = (status: string, rank: number, at: string) => ({ ...ev('SM1', status, at), rank })
    sink.deliver(target, ranked('delivered', 5, '2030-01-01T00:00:03Z'))
    await vi.advanceTimersByTimeAsync(1000)
    // arrives later (so a later arrival time) but is an earlier state
    sink.deliver(target, ranked('sent', 3, '2030-01-01T00:00:09Z'))
    await vi.advanceTimersByTimeAsync(5000)
    expect(calls.map((c) => JSON.stringify(c.body))).toEqual([
      JSON.stringify({
        status: {
          callbacks: {
            SM1: { type: 'message-status', occurredAt: '2030-01-01T00:00:03Z', status: 'delivered' },
          },
        },
      }),
    ])
  })

  it('compares timestamps of mixed precision as instants', async () => {
    const { api, calls } = fakeApi()
    const sink = new StatusCallbackSink({ custom: api, fields: { TwitchIntegration: 'streams' } })
    const t = { ...target, kind: 'TwitchIntegration' }
    const stream = (live: boolean, at: string): CallbackEvent => ({
      provider: 'twitch',
      type: live ? 'stream.online' : 'stream.offline',
      key: '1337',
      deliveryId: `${live}`,
      occurredAt: at,
      data: { live },
    })
    // as strings "00Z" sorts after "00.5Z" ('Z' > '.'), though it is half a second earlier
    sink.deliver(t, stream(false, '2030-01-01T10:00:00.500000000Z'))
    sink.deliver(t, stream(true, '2030-01-01T10:00:00Z'))
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls[0]?.body).toEqual({
      status: {
        streams: {
          1337: { type: 'stream.offline', occurredAt: '2030-01-01T10:00:00.500000000Z', live: false },
        },
      },
    })
    const { compareInstants } = await import('./callbacks.ts')
    expect(
      compareInstants('2030-01-01T10:00:00.000000002Z', '2030-01-01T10:00:00.000000001Z'),
    ).toBeGreaterThan(0)
    expect(compareInstants('2030-01-01T11:00:00+01:00', '2030-01-01T10:00:00.5Z')).toBeLessThan(0)
  })
})
