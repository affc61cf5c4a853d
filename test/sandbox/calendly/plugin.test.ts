import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FaultInjector } from '../faults.ts'
import { RequestLog } from '../recording.ts'
import { CalendlySandbox, calendlyConfigSchema, calendlyPlugin } from './index.ts'

const PAT = 'pat-sandbox-test'
let app: FastifyInstance
let sb: CalendlySandbox
let faults: FaultInjector
const get = (url: string, token = PAT) =>
  app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} })

beforeAll(async () => {
  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } })
  faults = new FaultInjector()
  const requests = new RequestLog()
  sb = new CalendlySandbox({ personalAccessTokens: [PAT] }, requests)
  await app.register(calendlyPlugin(sb, { faults, requests }))
  await app.ready()
})
afterAll(() => app.close())
beforeEach(() => {
  sb.reset()
  faults.reset()
})

describe('calendly sandbox', () => {
  it('answers 401 in Calendly’s shape without a known token', async () => {
    for (const res of [await get('/calendly/users/me', ''), await get('/calendly/users/me', 'other')]) {
      expect(res.statusCode).toBe(401)
      expect(res.json()).toEqual({ title: 'Unauthenticated', message: 'The access token is invalid' })
    }
  })

  it('books through the control API and lists with validation of count and organization', async () => {
    const booked = await app.inject({
      method: 'POST',
      url: '/_sandbox/calendly/bookings',
      payload: { name: 'Slot', startTime: '2030-01-01T10:00:00Z', endTime: '2030-01-01T11:00:00Z' },
    })
    expect(booked.statusCode).toBe(201)
    const org = (await get('/calendly/users/me')).json().resource.current_organization
    const list = await get(`/calendly/scheduled_events?organization=${encodeURIComponent(org)}`)
    expect(list.json().collection).toHaveLength(1)
    expect(list.json().collection[0]).toMatchObject({
      name: 'Slot',
      status: 'active',
      start_time: '2030-01-01T10:00:00.000000Z',
    })
    expect(
      (await get(`/calendly/scheduled_events?organization=${encodeURIComponent(org)}&count=101`)).statusCode,
    ).toBe(400)
    expect(
      (await get('/calendly/scheduled_events?organization=https%3A%2F%2Fx%2Forganizations%2FOTHER'))
        .statusCode,
    ).toBe(403)
    const uuid = String(booked.json().event.uri).split('/').pop()
    expect(
      (
        await app.inject({
          method: 'POST',
          url: `/_sandbox/calendly/scheduled_events/${uuid}/cancel`,
          payload: {},
        })
      ).statusCode,
    ).toBe(204)
    expect((await get(`/calendly/scheduled_events/${uuid}`)).json().resource).toMatchObject({
      status: 'canceled',
      cancellation: { canceler_type: 'host' },
    })
    expect((await get('/calendly/scheduled_events/NOPE')).json().title).toBe('Resource Not Found')
  })

  it('validates its CLI config section', () => {
    expect(
      calendlyConfigSchema.safeParse({
        personalAccessTokens: ['t'],
        webhooks: [{ url: 'http://127.0.0.1:1/x', signingKey: 'k' }],
      }).success,
    ).toBe(true)
    expect(calendlyConfigSchema.safeParse({ tokens: ['t'] }).success).toBe(false)
  })

  it('answers faults in Calendly’s shape', async () => {
    faults.inject({ provider: 'calendly', status: 429, retryAfterSeconds: 2 })
    const res = await get('/calendly/users/me')
    expect(res.statusCode).toBe(429)
    expect(res.json().title).toBe('Too Many Requests')
    expect(res.headers['retry-after']).toBe('2')
  })
})
