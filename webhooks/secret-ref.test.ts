import { describe, expect, it } from 'vitest'
import { WEBHOOK_KINDS } from '../controller/api/index.ts'
import { secretNameOf } from './kube-resolver.ts'

describe('secretNameOf', () => {
  const calendar = WEBHOOK_KINDS.find((k) => k.kind === 'CalendarSync')
  if (!calendar) throw new Error('CalendarSync is not in the kind table')

  it("prefers the source's own Secret, then the resource's default", () => {
    const withSource = {
      spec: {
        source: { googleCalendar: { credentialsSecretRef: { name: 'source-google' } } },
        credentialsSecretRef: { name: 'default' },
      },
    }
    expect(secretNameOf(calendar, withSource)).toBe('source-google')
    expect(
      secretNameOf(calendar, { spec: { source: { events: [] }, credentialsSecretRef: { name: 'default' } } }),
    ).toBe('default')
    expect(secretNameOf(calendar, { spec: { source: { events: [] } } })).toBeUndefined()
  })

  it('reads spec.credentialsSecretRef.name for kinds that name no field', () => {
    expect(secretNameOf({}, { spec: { credentialsSecretRef: { name: 'platform' } } })).toBe('platform')
  })
})
