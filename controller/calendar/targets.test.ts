import { describe, expect, it } from 'vitest'
import {
  type CalendarEvent,
  eventIdFor,
  type GoogleEvent,
  OWNER_PROPERTY,
  SOURCE_PROPERTY,
} from '../../connectors/index.ts'
import { DIGEST_PROPERTY, desiredBody, observedDrift, planTarget } from './targets.ts'

const OWNER = 'club/venue'

const source = (over: Partial<CalendarEvent> & { id: string }): CalendarEvent => ({
  title: 'Gig',
  description: 'Doors 19:00. Guest list: ask Sam.',
  location: 'Main room',
  start: '2030-06-01T20:00:00+01:00',
  end: '2030-06-01T23:00:00+01:00',
  timeZone: 'Europe/London',
  allDay: false,
  status: 'confirmed',
  visibility: 'default',
  attendees: [{ email: 'sam@example.com', name: 'Sam' }],
  updated: '2030-05-01T10:00:00Z',
  ...over,
})

/** A copy as Google would return it: the body plus id, etag and server fields. */
const copy = (body: GoogleEvent, over: GoogleEvent = {}): GoogleEvent => ({
  ...structuredClone(body),
  id: eventIdFor(OWNER, body.extendedProperties?.private?.[SOURCE_PROPERTY] ?? ''),
  etag: '"1"',
  status: body.status ?? 'confirmed',
  ...over,
})

describe('desiredBody', () => {
  it('internal targets get everything, public ones neither description nor attendees', () => {
    const e = source({ id: 'e1' })
    const internal = desiredBody(e, { visibility: 'internal' }, OWNER, true)
    expect(internal).toMatchObject({ summary: 'Gig', description: e.description, location: 'Main room' })
    expect(internal?.attendees?.map((a) => a.email)).toEqual(['sam@example.com'])
    const pub = desiredBody(e, { visibility: 'public' }, OWNER, true)
    expect(pub?.description).toBe('')
    expect(pub?.attendees).toEqual([])
    expect(JSON.stringify(pub)).not.toContain('Guest list')
    expect(JSON.stringify(pub)).not.toContain('sam@example.com')
  })

  it('private events never reach public targets; cancelled ones no target', () => {
    expect(
      desiredBody(source({ id: 'p', visibility: 'private' }), { visibility: 'public' }, OWNER, true),
    ).toBe(undefined)
    expect(
      desiredBody(source({ id: 'p', visibility: 'private' }), { visibility: 'internal' }, OWNER, true),
    ).toMatchObject({ visibility: 'private' })
    expect(
      desiredBody(source({ id: 'c', status: 'cancelled' }), { visibility: 'internal' }, OWNER, true),
    ).toBe(undefined)
  })

  it('links the copy to its source and owner, with a digest of the body', () => {
    const body = desiredBody(source({ id: 'e1' }), { visibility: 'internal' }, OWNER, false)
    const props = body?.extendedProperties?.private ?? {}
    expect(props[SOURCE_PROPERTY]).toBe('e1')
    expect(props[OWNER_PROPERTY]).toBe(OWNER)
    expect(props[DIGEST_PROPERTY]).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(body?.attendees).toEqual([])
    // same event, same digest; a change in the source, another digest
    const again = desiredBody(source({ id: 'e1' }), { visibility: 'internal' }, OWNER, false)
    expect(again?.extendedProperties?.private?.[DIGEST_PROPERTY]).toBe(props[DIGEST_PROPERTY])
    const moved = desiredBody(
      source({ id: 'e1', location: 'Garden' }),
      { visibility: 'internal' },
      OWNER,
      false,
    )
    expect(moved?.extendedProperties?.private?.[DIGEST_PROPERTY]).not.toBe(props[DIGEST_PROPERTY])
  })

  it("writes the target's time zone, keeping the instant", () => {
    const body = desiredBody(
      source({ id: 'e1' }),
      { visibility: 'public', timeZone: 'America/New_York' },
      OWNER,
      true,
    )
    expect(body?.start).toEqual({ dateTime: '2030-06-01T20:00:00+01:00', timeZone: 'America/New_York' })
    const allDay = desiredBody(
      source({ id: 'd', start: '2030-06-01', end: '2030-06-02', allDay: true }),
      { visibility: 'public', timeZone: 'America/New_York' },
      OWNER,
      true,
    )
    expect(allDay?.start).toEqual({ date: '2030-06-01' })
  })
})

describe('planTarget', () => {
  const target = { visibility: 'internal' as const }
  const e1 = desiredBody(source({ id: 'e1' }), target, OWNER, false) as GoogleEvent
  const e2 = desiredBody(source({ id: 'e2', title: 'DJ' }), target, OWNER, false) as GoogleEvent

  it('creates what is missing with a deterministic id, and leaves identical copies alone', () => {
    const actions = planTarget(
      new Map([
        ['e1', e1],
        ['e2', e2],
      ]),
      [copy(e1)],
      OWNER,
    )
    expect(actions).toEqual([{ op: 'create', sourceId: 'e2', eventId: eventIdFor(OWNER, 'e2'), body: e2 }])
  })

  it('a copy edited by hand is drift; a copy of an older source version is an ordinary update', () => {
    const edited = copy(e1, { summary: 'Gig (CANCELLED?)', location: 'Elsewhere' })
    const [fix] = planTarget(new Map([['e1', e1]]), [edited], OWNER)
    expect(fix).toMatchObject({ op: 'update', sourceId: 'e1', drift: 'EditedInTarget', etag: '"1"' })
    expect(fix?.op === 'update' ? fix.fields : []).toEqual(['summary', 'location'])

    const newer = desiredBody(source({ id: 'e1', title: 'Gig (moved)' }), target, OWNER, false) as GoogleEvent
    const [update] = planTarget(new Map([['e1', newer]]), [copy(e1)], OWNER)
    expect(update).toMatchObject({ op: 'update', sourceId: 'e1' })
    expect(update && 'drift' in update ? update.drift : undefined).toBeUndefined()
    expect(update && observedDrift(update)).toBe('Outdated')
  })

  it('deletes copies whose source is gone and duplicates of one source event', () => {
    const dup = copy(e1, { id: 'zzzzzzzzzzzz' })
    const actions = planTarget(new Map([['e1', e1]]), [copy(e1), dup, copy(e2)], OWNER)
    expect(actions).toEqual([
      { op: 'delete', sourceId: 'e1', eventId: 'zzzzzzzzzzzz', duplicate: true },
      { op: 'delete', sourceId: 'e2', eventId: eventIdFor(OWNER, 'e2'), duplicate: false },
    ])
    expect(observedDrift(actions[1] as never)).toBe('Extra')
  })

  it('never touches events of another owner or events without the link', () => {
    const theirs = copy(e2, {
      id: 'theirs1',
      extendedProperties: { private: { [SOURCE_PROPERTY]: 'e2', [OWNER_PROPERTY]: 'other/sync' } },
    })
    const byHand: GoogleEvent = { id: 'hand1', summary: 'Birthday', status: 'confirmed' }
    expect(planTarget(new Map([['e1', e1]]), [copy(e1), theirs, byHand], OWNER)).toEqual([])
  })

  it('a copy deleted by hand is brought back under its own id, as drift', () => {
    const gone = copy(e1, { status: 'cancelled' })
    const [back] = planTarget(new Map([['e1', e1]]), [gone], OWNER)
    expect(back).toMatchObject({ op: 'create', undelete: gone.id, drift: 'DeletedInTarget' })
  })
})

describe('planTarget with deleted copies listed as id and status only', () => {
  it('brings back a deleted copy of ours by its id', () => {
    const body = desiredBody(source({ id: 'e1' }), { visibility: 'public' }, OWNER, false) as GoogleEvent
    const gone: GoogleEvent = { id: eventIdFor(OWNER, 'e1'), status: 'cancelled' }
    const unrelated: GoogleEvent = { id: 'abcdefgh', status: 'cancelled' }
    expect(planTarget(new Map([['e1', body]]), [gone, unrelated], OWNER)).toEqual([
      { op: 'create', sourceId: 'e1', eventId: gone.id, body, undelete: gone.id },
    ])
  })
})
