import { describe, expect, it } from 'vitest'
import {
  allKinds,
  apiVersion,
  condition,
  credentialsSecretRef,
  DestinationKind,
  destinationSpec,
  destinationStatus,
  exactlyOneDestinationMessage,
} from './index.ts'

describe('Destination spec', () => {
  it('applies defaults to a segment destination', () => {
    const spec = destinationSpec.parse({ credentialsSecretRef: { name: 'segment-creds' }, segment: {} })
    expect(spec).toEqual({
      credentialsSecretRef: { name: 'segment-creds' },
      suspend: false,
      interval: '10m',
      segment: { host: 'https://api.segment.io', path: '/v1/batch', maxRetries: 3, timeout: '10s' },
    })
  })

  it('applies defaults to an http destination', () => {
    const spec = destinationSpec.parse({
      credentialsSecretRef: { name: 'hook' },
      interval: '1h30m',
      http: { url: 'https://hooks.example.com/switchboard' },
    })
    expect(spec.interval).toBe('1h30m')
    expect(spec.http).toEqual({
      url: 'https://hooks.example.com/switchboard',
      signatureHeader: 'X-Switchboard-Signature',
      batchSize: 100,
      maxRetries: 3,
      timeout: '10s',
    })
  })

  it.each([
    ['both set', { segment: {}, http: { url: 'https://a.example' } }],
    ['neither set', {}],
  ])('requires exactly one of segment or http (%s)', (_, body) => {
    const result = destinationSpec.safeParse({ credentialsSecretRef: { name: 'x' }, ...body })
    expect(result.success).toBe(false)
    expect(result.error?.issues.map((i) => i.message)).toContain(exactlyOneDestinationMessage)
  })

  it.each([
    ['a non-http URL scheme', { http: { url: 'ftp://files.example.com/in' } }, ['http', 'url']],
    [
      'a batch size above 2500',
      { http: { url: 'https://a.example', batchSize: 5000 } },
      ['http', 'batchSize'],
    ],
    ['a malformed interval', { interval: 'ten minutes', segment: {} }, ['interval']],
    [
      'a header name with spaces',
      { http: { url: 'https://a.example', signatureHeader: 'X Sig' } },
      ['http', 'signatureHeader'],
    ],
    ['a negative retry count', { segment: { maxRetries: -1 } }, ['segment', 'maxRetries']],
  ])('rejects %s, naming the field', (_, body, path) => {
    const result = destinationSpec.safeParse({ credentialsSecretRef: { name: 'x' }, ...body })
    expect(result.success).toBe(false)
    expect(result.error?.issues.map((i) => i.path)).toContainEqual(path)
  })

  it('requires credentialsSecretRef with a valid Secret name', () => {
    expect(destinationSpec.safeParse({ segment: {} }).error?.issues[0]?.path).toEqual([
      'credentialsSecretRef',
    ])
    expect(credentialsSecretRef.safeParse({ name: 'Not_A_Name' }).success).toBe(false)
    expect(credentialsSecretRef.safeParse({ name: 'a'.repeat(254) }).success).toBe(false)
    // There is no namespace field: a reference is always to the resource's own namespace.
    expect(credentialsSecretRef.parse({ name: 'creds', namespace: 'other' })).toEqual({ name: 'creds' })
  })
})

describe('Destination status', () => {
  it('accepts what the controller writes', () => {
    const status = {
      observedGeneration: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Succeeded',
          message: 'delivering to Segment',
          lastTransitionTime: '2025-03-01T10:00:00Z',
          observedGeneration: 3,
        },
      ],
      lastHandledRequestAt: '2025-03-01T09:59:00Z',
      lastSyncTime: '2025-03-01T10:00:00Z',
      type: 'segment',
      delivery: {
        recordsDelivered: 1200,
        recordsFailed: 0,
        batchesDelivered: 12,
        lastDeliveryTime: '2025-03-01T10:00:00Z',
        lastError: { reason: 'DestinationUnavailable', message: 'HTTP 503', time: '2025-03-01T09:00:00Z' },
      },
    }
    expect(destinationStatus.parse(status)).toEqual(status)
    expect(destinationStatus.parse({})).toEqual({})
  })

  it('checks conditions the way Kubernetes does', () => {
    const base = {
      type: 'Ready',
      status: 'False',
      reason: 'SecretNotFound',
      message: '',
      lastTransitionTime: '2025-03-01T10:00:00Z',
    }
    expect(condition.safeParse(base).success).toBe(true)
    expect(condition.safeParse({ ...base, status: 'Maybe' }).success).toBe(false)
    expect(condition.safeParse({ ...base, reason: 'not camel case' }).success).toBe(false)
    expect(condition.safeParse({ ...base, reason: '' }).success).toBe(false)
    expect(condition.safeParse({ ...base, lastTransitionTime: 'yesterday' }).success).toBe(false)
    expect(condition.safeParse({ ...base, type: 'example.com/Custom' }).success).toBe(true)
  })
})

describe('kind definitions', () => {
  it('declares Destination', () => {
    expect(DestinationKind).toMatchObject({
      group: 'switchboard.dev',
      version: 'v1alpha1',
      kind: 'Destination',
      plural: 'destinations',
      singular: 'destination',
      listKind: 'DestinationList',
      shortNames: ['dest', 'sbdest'],
      categories: ['switchboard', 'integrations'],
    })
    expect(apiVersion).toBe('switchboard.dev/v1alpha1')
  })

  it('lists every kind once, with unique names', () => {
    expect(allKinds).toContain(DestinationKind)
    const names = allKinds.flatMap((k) => [k.plural, k.singular, ...k.shortNames])
    expect(new Set(names).size).toBe(names.length)
    for (const kind of allKinds) {
      expect(kind.plural).toMatch(/^[a-z]+$/)
      expect(kind.description.length).toBeGreaterThan(20)
    }
  })
})
