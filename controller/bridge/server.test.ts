import { describe, expect, it } from 'vitest'
import { createLogger } from '../../connectors/index.ts'
import { buildWebhookBridge } from './server.ts'

const source = {
  objects: () => [],
  secretData: async () => undefined,
  annotate: async () => {},
}
const logger = createLogger({ level: 'silent' })

describe('the TCP webhook bridge token', () => {
  it('refuses a missing, wrong or short token, and follows a rotated one', async () => {
    let current = 'a'.repeat(40)
    const app = buildWebhookBridge({ source, logger, token: () => current })
    const get = (authorization?: string) =>
      app.inject({ method: 'GET', url: '/v1/targets', headers: authorization ? { authorization } : {} })
    expect((await get()).statusCode).toBe(401)
    expect((await get(`Bearer ${'b'.repeat(40)}`)).statusCode).toBe(401)
    expect((await get(`Basic ${current}`)).statusCode).toBe(401)
    expect((await get(`Bearer ${current}`)).statusCode).toBe(200)
    const old = current
    current = 'c'.repeat(48)
    expect((await get(`Bearer ${old}`)).statusCode).toBe(401)
    expect((await get(`Bearer ${current}`)).statusCode).toBe(200)
    // an emptied token file lets nothing in, not even an empty token
    current = ''
    expect((await get('Bearer ')).statusCode).toBe(401)
    await app.close()
    expect(() => buildWebhookBridge({ source, logger, token: 'short' })).toThrow(/at least 32/)
  })
})
