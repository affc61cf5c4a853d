import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FaultInjector } from '../faults.ts'
import { RequestLog } from '../recording.ts'
import { FacebookSandbox, type FacebookTargetConfig, facebookConfigSchema, facebookPlugin } from './index.ts'

let app: FastifyInstance
let sb: FacebookSandbox
let faults: FaultInjector
let page: FacebookTargetConfig

const post = (path: string, form: Record<string, string>, token?: string) =>
  app.inject({
    method: 'POST',
    url: path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    payload: new URLSearchParams(form).toString(),
  })

beforeAll(async () => {
  app = Fastify({ ajv: { customOptions: { removeAdditional: false } } })
  faults = new FaultInjector()
  const requests = new RequestLog()
  sb = new FacebookSandbox({}, requests)
  await app.register(facebookPlugin(sb, { faults, requests }))
  await app.ready()
  page = sb.createPage('Club')
})
afterAll(() => app.close())
beforeEach(() => {
  sb.reset()
  faults.reset()
})

describe('facebook graph sandbox', () => {
  it('posts with a token from the header, the form or the query, and records the posts', async () => {
    expect(
      (await post(`/facebook/v23.0/${page.id}/feed`, { message: 'a' }, page.accessToken)).statusCode,
    ).toBe(200)
    expect(
      (await post(`/facebook/v23.0/${page.id}/feed`, { message: 'b', access_token: page.accessToken }))
        .statusCode,
    ).toBe(200)
    const q = await app.inject({
      method: 'POST',
      url: `/facebook/v21.0/${page.id}/feed?message=c&access_token=${page.accessToken}`,
    })
    expect(q.json().id).toMatch(new RegExp(`^${page.id}_`))
    expect(sb.postCount(page.id)).toBe(3)
    const listed = await app.inject({ method: 'GET', url: `/_sandbox/facebook/pages/${page.id}/posts` })
    expect(listed.json().posts.map((p: { message: string }) => p.message)).toEqual(['c', 'b', 'a'])
  })

  it('refuses without token (104), with a bad token (190), empty posts (100) and repeats (506)', async () => {
    const codes = async (res: Awaited<ReturnType<typeof post>>) => [res.statusCode, res.json().error.code]
    expect(await codes(await post(`/facebook/v23.0/${page.id}/feed`, { message: 'x' }))).toEqual([400, 104])
    expect(await codes(await post(`/facebook/v23.0/${page.id}/feed`, { message: 'x' }, 'EAAbogus'))).toEqual([
      400, 190,
    ])
    expect(await codes(await post(`/facebook/v23.0/${page.id}/feed`, {}, page.accessToken))).toEqual([
      400, 100,
    ])
    await post(`/facebook/v23.0/${page.id}/feed`, { message: 'same' }, page.accessToken)
    expect(
      await codes(await post(`/facebook/v23.0/${page.id}/feed`, { message: 'same' }, page.accessToken)),
    ).toEqual([400, 506])
    expect(
      await codes(await post('/facebook/v23.0/424242/feed', { message: 'x' }, page.accessToken)),
    ).toEqual([400, 100])
    expect(sb.postCount(page.id)).toBe(1)
  })

  it('validates its CLI config section', () => {
    expect(facebookConfigSchema.safeParse({ targets: [{ id: '123', accessToken: 'EAAx' }] }).success).toBe(
      true,
    )
    expect(facebookConfigSchema.safeParse({ targets: [{ id: '123', token: 'EAAx' }] }).success).toBe(false)
  })

  it('answers faults with Graph errors, by status or by code', async () => {
    faults.inject({ provider: 'facebook', status: 403 })
    const rate = await post(`/facebook/v23.0/${page.id}/feed`, { message: 'x' }, page.accessToken)
    expect(rate.json().error).toMatchObject({ code: 4, type: 'OAuthException', is_transient: true })
    faults.inject({ provider: 'facebook', status: 400, body: { code: 190, error_subcode: 463 } })
    expect(
      (await post(`/facebook/v23.0/${page.id}/feed`, { message: 'x' }, page.accessToken)).json().error,
    ).toMatchObject({
      code: 190,
      error_subcode: 463,
    })
    expect(sb.postCount(page.id)).toBe(0)
  })
})
