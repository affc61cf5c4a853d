import { describe, expect, it } from 'vitest'
import { readWebhookSecrets, webhookSecretValue } from './webhook.ts'

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

describe('the webhook secret reader both sides use', () => {
  it('trims a trailing newline and refuses an empty or blank value', () => {
    expect(webhookSecretValue(b64('channel-token-0001\n'), 'base64')).toBe('channel-token-0001')
    expect(webhookSecretValue(' s3cret\r\n')).toBe('s3cret')
    expect(webhookSecretValue(b64(''), 'base64')).toBeUndefined()
    expect(webhookSecretValue('  \n')).toBeUndefined()
    expect(webhookSecretValue(undefined)).toBeUndefined()
  })

  it('takes the first key with a value for each name, skipping empty ones', () => {
    const data = { webhookSecret: b64('\n'), apiSecret: b64('platform-secret\n'), hashKey: b64('') }
    expect(
      readWebhookSecrets(
        data,
        { signingSecret: ['webhookSecret', 'apiSecret'], other: ['hashKey'] },
        'base64',
      ),
    ).toEqual({ signingSecret: 'platform-secret' })
  })
})
