import { describe, expect, it } from 'vitest'
import type { CalendarEvent } from '../google-calendar/index.ts'
import {
  DEFAULT_TEMPLATES,
  eventValues,
  renderAnnouncement,
  renderTemplate,
  validateTemplate,
} from './index.ts'

const event: CalendarEvent = {
  id: 'e1',
  title: 'The Queen Tribute',
  start: '2030-06-01T20:00:00+02:00',
  end: '2030-06-01T23:00:00+02:00',
  timeZone: 'Europe/Berlin',
  allDay: false,
  status: 'confirmed',
  visibility: 'public',
  type: 'tribute-night',
  location: 'Main hall',
  link: 'https://club.example/e1',
  updated: '2030-01-01T00:00:00Z',
}

describe('announcement templates', () => {
  it('fills in the placeholders of the type’s default template', () => {
    expect(renderAnnouncement(event)).toBe(
      '🎤 Tribute night: The Queen Tribute\n📅 Sat, 1 Jun 2030 20:00\n📍 Main hall\nhttps://club.example/e1',
    )
  })

  it('uses default for unknown types and a custom template over the defaults', () => {
    expect(renderAnnouncement({ ...event, type: 'quiz' }).startsWith('📣 The Queen Tribute')).toBe(true)
    expect(
      renderAnnouncement(event, { templates: { 'tribute-night': 'Tonight: {{ title }} at {{time}}' } }),
    ).toBe('Tonight: The Queen Tribute at 20:00')
  })

  it('drops lines whose placeholders are all empty', () => {
    const { location: _l, link: _k, ...bare } = event
    expect(renderAnnouncement({ ...bare, type: 'dj-set' })).toBe(
      '🎧 DJ set: The Queen Tribute\n📅 Sat, 1 Jun 2030 20:00',
    )
  })

  it('inserts values literally, never as templates or code', () => {
    const title = `{{link}} ${'$'}{process.exit()} {{constructor}}`
    const out = renderTemplate('{{title}}', eventValues({ ...event, title }))
    expect(out).toBe(title)
    expect(out).toContain('{process.exit()}')
  })

  it('reports unknown placeholders and refuses to render them', () => {
    expect(validateTemplate('Hi {{title}} {{constructor}} {{__proto__}}')).toEqual([
      'unknown placeholder {{constructor}} (known: title, date, time, location, link)',
    ])
    expect(() => renderTemplate('{{price}}', {})).toThrow(RangeError)
    expect(validateTemplate('')).toContain('template is empty')
    for (const t of Object.values(DEFAULT_TEMPLATES)) expect(validateTemplate(t)).toEqual([])
  })

  it('formats all-day events without a time, in the given locale and zone', () => {
    const allDay = { ...event, allDay: true, start: '2030-06-01', end: '2030-06-02' }
    expect(eventValues(allDay)).toMatchObject({ date: 'Sat, 1 Jun 2030', time: '' })
    expect(eventValues(event, { timeZone: 'UTC' }).time).toBe('18:00')
    expect(eventValues(event, { locale: 'de-DE' }).date).toBe('Sa., 1. Juni 2030')
  })
})
