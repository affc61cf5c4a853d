import { describe, expect, it } from 'vitest'
import { advance } from './progress.ts'
import { maskPhone, normalisePhone, parseList, render, splitCsvLine } from './recipients.ts'
import { isOpen, nextOpen } from './window.ts'

describe('recipient lists', () => {
  it('reads CSV with a header, quotes and variables; names malformed lines by number, never by value', () => {
    const text = [
      'phone,name,link',
      '+27821234567,Ada,https://a',
      '"+27 82 123 4568","Bo, Jr.",https://b',
      '0821234569,Cy,x',
      '',
      '+1 (415) 555-0100,Di,y',
    ].join('\n')
    const out = parseList(text, 'csv', 'Secret "l" key "k"', 'uid')
    expect(out.recipients.map((r) => [r.phone, r.variables.name])).toEqual([
      ['+27821234567', 'Ada'],
      ['+27821234568', 'Bo, Jr.'],
      ['+14155550100', 'Di'],
    ])
    expect(out.malformed).toEqual([
      { where: 'Secret "l" key "k" line 4', problem: expect.stringContaining('E.164') },
    ])
    expect(JSON.stringify(out.malformed)).not.toContain('0821234569')
  })

  it('reads JSON lines; a line that is not an object is malformed', () => {
    const out = parseList('{"phone":"+27821234567","name":"Ada"}\n[1]\n{"phone":12}', 'jsonl', 'w', 'uid')
    expect(out.recipients).toHaveLength(1)
    expect(out.malformed.map((m) => m.where)).toEqual(['w line 2', 'w line 3'])
  })

  it('a CSV without a phone column says so', () => {
    expect(parseList('name\nAda', 'csv', 'w', 'uid').malformed[0]?.problem).toContain('"phone"')
  })

  it('ids are keyed hashes: stable for a key, different across campaigns, not the number', () => {
    const a = parseList('phone\n+27821234567', 'csv', 'w', 'uid-1').recipients[0]
    const b = parseList('phone\n+27821234567', 'csv', 'w', 'uid-2').recipients[0]
    expect(a?.id).toHaveLength(16)
    expect(a?.id).not.toBe(b?.id)
    expect(a?.id).not.toContain('821234567')
  })

  it('masks numbers and splits CSV lines', () => {
    expect(maskPhone('+27821234567')).toBe('+2782*****67')
    expect(normalisePhone('27821234567')).toBeUndefined()
    expect(splitCsvLine('a,"b ""c""",d')).toEqual(['a', 'b "c"', 'd'])
    expect(splitCsvLine('"open')).toBeUndefined()
  })

  it('renders placeholders; a missing or empty variable is named and nothing is rendered', () => {
    expect(render('Hey {{name}}, {{ link }}', { name: 'Ada', link: 'x' })).toEqual({ text: 'Hey Ada, x' })
    expect(render('Hey {{name}} {{link}}', { name: '' })).toEqual({ missing: ['name', 'link'] })
  })
})

describe('deliveries never move backwards', () => {
  it('delivered then a late sent stays delivered; read comes after delivered', () => {
    expect(advance('delivered', 'sent')).toBe(false)
    expect(advance('sent', 'delivered')).toBe(true)
    expect(advance('delivered', 'read')).toBe(true)
    expect(advance('read', 'delivered')).toBe(false)
    expect(advance('failed', 'sent')).toBe(false)
    expect(advance('queued', 'undelivered')).toBe(true)
  })
})

describe('the sending window', () => {
  const w = { timeZone: 'Africa/Johannesburg', start: '08:00', end: '20:00' }
  it('is judged on the local clock of its time zone', () => {
    expect(isOpen(w, new Date('2026-12-01T05:59:00Z'))).toBe(false) // 07:59 local
    expect(isOpen(w, new Date('2026-12-01T06:00:00Z'))).toBe(true)
    expect(isOpen(w, new Date('2026-12-01T17:59:00Z'))).toBe(true)
    expect(isOpen(w, new Date('2026-12-01T18:00:00Z'))).toBe(false)
    expect(nextOpen(w, new Date('2026-12-01T20:30:00Z'))?.toISOString()).toBe('2026-12-02T06:00:00.000Z')
  })
  it('spans midnight when it ends before it starts, and keeps to its days', () => {
    const night = { timeZone: 'UTC', start: '22:00', end: '02:00', days: ['Tue' as const] }
    expect(isOpen(night, new Date('2026-12-01T23:00:00Z'))).toBe(true) // Tue 23:00
    expect(isOpen(night, new Date('2026-12-02T01:00:00Z'))).toBe(true) // Wed 01:00, Tuesday's window
    expect(isOpen(night, new Date('2026-12-03T01:00:00Z'))).toBe(false) // Thu 01:00
  })
  it('follows daylight saving', () => {
    const ny = { timeZone: 'America/New_York', start: '09:00', end: '17:00' }
    expect(isOpen(ny, new Date('2026-07-01T13:00:00Z'))).toBe(true) // 09:00 EDT
    expect(isOpen(ny, new Date('2026-12-01T13:00:00Z'))).toBe(false) // 08:00 EST
  })
})
