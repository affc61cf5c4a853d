import { describe, expect, it } from 'vitest'
import { RecordingEvents } from '../test/webhooks/index.ts'
import { REJECT_REASONS, REJECTS, RejectEvents } from './rejects.ts'

const target = (name: string) => ({
  apiVersion: 'switchboard.dev/v1alpha1',
  kind: 'PatreonIntegration',
  plural: 'patreonintegrations',
  namespace: 'ns',
  name,
  uid: `uid-${name}`,
})

describe('RejectEvents', () => {
  it('records one event per resource and reason per window, and caps the overall rate', () => {
    let now = 0
    const sink = new RecordingEvents()
    const results: string[] = []
    const e = new RejectEvents({
      sink,
      minIntervalMs: 60_000,
      maxPerSecond: 2,
      now: () => now,
      onResult: (r) => results.push(r),
    })
    for (let i = 0; i < 10; i++) e.reject(target('a'), 'patreon', 'bad_signature')
    expect(sink.events).toHaveLength(1)
    e.reject(target('b'), 'patreon', 'bad_signature')
    e.reject(target('c'), 'patreon', 'bad_signature') // over 2/s: suppressed
    expect(sink.events.map((x) => x.name)).toEqual(['ns/a', 'ns/b'])
    now += 1000
    e.reject(target('c'), 'patreon', 'bad_signature')
    now += 60_000
    e.reject(target('a'), 'patreon', 'bad_signature')
    expect(sink.events.map((x) => x.name)).toEqual(['ns/a', 'ns/b', 'ns/c', 'ns/a'])
    expect(results.filter((r) => r === 'suppressed')).toHaveLength(10)
    expect(sink.events[0]).toMatchObject({ type: 'Warning', reason: 'WebhookRejected' })
    expect(sink.events[0]?.message).toContain('HTTP 401')
  })

  it('has a status for every reason, all of them errors', () => {
    for (const r of REJECT_REASONS) expect(REJECTS[r].status).toBeGreaterThanOrEqual(400)
  })
})
