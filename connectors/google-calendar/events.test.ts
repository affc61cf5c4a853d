import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Reason, type StallingError } from '../errors.ts'
import {
  type CalendarEvent,
  changedFields,
  detectType,
  differs,
  eventIdFor,
  fromGoogleEvent,
  type GoogleEvent,
  googleCredentialsSchema,
  parseGoogleCredentials,
  switchboardLink,
  toGoogleEvent,
} from './index.ts'

const base: CalendarEvent = {
  id: 'src-1',
  title: 'Friday DJ set',
  description: 'Warm-up from 21:00 #DJ_Set',
  location: 'Basement',
  start: '2030-02-01T21:00:00+01:00',
  end: '2030-02-02T02:00:00+01:00',
  timeZone: 'Europe/Berlin',
  allDay: false,
  status: 'confirmed',
  visibility: 'default',
  attendees: [{ email: 'dj@example.com', name: 'DJ' }],
  link: 'https://club.example/fri',
  updated: '2030-01-01T00:00:00Z',
}
const target = { sourceId: 'src-1', owner: 'ns/sync' }

describe('event mapping', () => {
  it('copies everything to an internal target, with the link to the source', () => {
    const g = toGoogleEvent(base, { visibility: 'internal', ...target })
    expect(g).toMatchObject({
      summary: 'Friday DJ set',
      description: 'Warm-up from 21:00 #DJ_Set',
      attendees: [{ email: 'dj@example.com', displayName: 'DJ' }],
      start: { dateTime: base.start, timeZone: 'Europe/Berlin' },
      extendedProperties: { private: { switchboardSource: 'src-1', switchboardOwner: 'ns/sync' } },
      source: { url: 'https://club.example/fri' },
    })
    expect(switchboardLink(g as GoogleEvent)).toEqual({ sourceId: 'src-1', owner: 'ns/sync' })
  })

  it('drops description and attendees for a public target, and private events entirely', () => {
    const g = toGoogleEvent(base, { visibility: 'public', ...target })
    expect(g?.description).toBe('')
    expect(g?.attendees).toEqual([])
    expect(g?.visibility).toBe('public')
    expect(
      toGoogleEvent({ ...base, visibility: 'private' }, { visibility: 'public', ...target }),
    ).toBeUndefined()
    expect(
      toGoogleEvent({ ...base, visibility: 'private' }, { visibility: 'internal', ...target })?.visibility,
    ).toBe('private')
    expect(
      toGoogleEvent({ ...base, status: 'cancelled' }, { visibility: 'internal', ...target }),
    ).toBeUndefined()
  })

  it('round-trips through Google’s shape', () => {
    const g = toGoogleEvent({ ...base, type: 'dj-set' }, { visibility: 'internal', ...target }) as GoogleEvent
    const back = fromGoogleEvent({ ...g, id: 'abc', updated: '2030-01-02T00:00:00Z' })
    expect(back).toMatchObject({
      id: 'abc',
      title: base.title,
      start: base.start,
      type: 'dj-set',
      allDay: false,
    })
    const allDay = fromGoogleEvent({
      id: 'd',
      start: { date: '2030-03-01' },
      end: { date: '2030-03-02' },
      visibility: 'confidential',
    })
    expect(allDay).toMatchObject({
      allDay: true,
      start: '2030-03-01',
      end: '2030-03-02',
      visibility: 'private',
    })
  })

  it('compares on managed fields only: offsets, empty strings and foreign properties do not count', () => {
    const desired = toGoogleEvent(base, { visibility: 'internal', ...target }) as GoogleEvent
    const asRead: GoogleEvent = {
      ...desired,
      id: 'x',
      etag: '"1"',
      description: 'Warm-up from 21:00 #DJ_Set',
      start: { dateTime: '2030-02-01T20:00:00Z', timeZone: 'Europe/Berlin' },
      end: { dateTime: '2030-02-02T01:00:00.000Z' },
      attendees: [{ email: 'DJ@example.com', displayName: 'DJ', responseStatus: 'needsAction' }],
      extendedProperties: { private: { ...desired.extendedProperties?.private, otherTool: 'x' } },
      reminders: { useDefault: true },
    }
    expect(changedFields(asRead, desired)).toEqual([])
    expect(differs(asRead, desired)).toBe(false)
    expect(changedFields({ ...asRead, summary: 'Changed by hand', location: '' }, desired)).toEqual([
      'summary',
      'location',
    ])
    expect(changedFields({ ...asRead, start: { dateTime: '2030-02-01T21:30:00+01:00' } }, desired)).toEqual([
      'start',
    ])
    expect(changedFields({ ...asRead, status: 'cancelled' }, desired)).toEqual(['status'])
    expect(changedFields({ ...asRead, attendees: [] }, desired)).toEqual(['attendees'])
  })

  it('detects the type from a known #tag only', () => {
    expect(detectType('Tonight #LiveMusic!')).toBe('live-music')
    expect(detectType('#summer #tribute_night')).toBe('tribute-night')
    expect(detectType('We are #1 in town, C#minor')).toBeUndefined()
    expect(detectType('no tags')).toBeUndefined()
    expect(detectType('#quiz night', ['quiz'])).toBe('quiz')
    expect(
      fromGoogleEvent({
        id: 'x',
        description: '#dj-set',
        extendedProperties: { private: { switchboardType: 'quiz' } },
      }).type,
    ).toBe('quiz')
  })

  it('makes event ids Google accepts, stable per owner and source', () => {
    const id = eventIdFor('ns/sync', 'src-1')
    expect(id).toMatch(/^[a-v0-9]{32}$/)
    expect(eventIdFor('ns/sync', 'src-1')).toBe(id)
    expect(eventIdFor('ns/other', 'src-1')).not.toBe(id)
  })
})

describe('google credentials', () => {
  const pem = generateKeyPairSync('rsa', { modulusLength: 1024 })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString()
  const key = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      type: 'service_account',
      client_email: 'sa@p.iam.gserviceaccount.com',
      private_key: pem,
      ...extra,
    })

  const failure = (data: Record<string, string>) => {
    try {
      parseGoogleCredentials(data)
    } catch (e) {
      return e as StallingError
    }
    throw new Error('expected a failure')
  }

  it('reads a service account key or an OAuth refresh token', () => {
    expect(parseGoogleCredentials({ serviceAccountKey: key(), subject: 'me@example.com' })).toMatchObject({
      kind: 'serviceAccount',
      clientEmail: 'sa@p.iam.gserviceaccount.com',
      subject: 'me@example.com',
    })
    expect(parseGoogleCredentials({ clientId: 'c', clientSecret: 's', refreshToken: 'r' })).toEqual({
      kind: 'oauth',
      clientId: 'c',
      clientSecret: 's',
      refreshToken: 'r',
    })
  })

  it('names the key that is missing or wrong, never a value', () => {
    expect(failure({})).toMatchObject({ reason: Reason.SecretKeyMissing, field: 'serviceAccountKey' })
    expect(failure({ clientId: 'c', clientSecret: 'sekrit-value' })).toMatchObject({
      reason: Reason.SecretKeyMissing,
      field: 'refreshToken',
    })
    const notJson = failure({ serviceAccountKey: '{"private_key": "sekrit-value' })
    expect(notJson).toMatchObject({ reason: Reason.InvalidCredentials, field: 'serviceAccountKey' })
    expect(notJson.message).not.toContain('sekrit')
    const badPem = failure({ serviceAccountKey: key({ private_key: 'sekrit-value' }) })
    expect(badPem.message).toContain('private_key')
    expect(badPem.message).not.toContain('sekrit')
    const parsed = googleCredentialsSchema.safeParse({ clientId: 'c' })
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues[0]?.path).toEqual(['clientSecret'])
  })
})
