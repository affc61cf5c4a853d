import { z } from 'zod'

/**
 * Building blocks every kind uses. Each field carries a description: `crds/` turns them into the
 * text `kubectl explain` shows, and the generator refuses a field without one.
 */

/** A Kubernetes object name (DNS-1123 subdomain). */
export const dnsSubdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
/** A Go-style duration such as `90s`, `15m`, `1h30m` or `1.5h`. */
export const durationPattern = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/
/** metav1.Condition `type`: an optional DNS-subdomain prefix and a name. */
export const conditionTypePattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/
/** metav1.Condition `reason`: CamelCase, as Kubernetes requires. */
export const conditionReasonPattern = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/
/** An HTTP header name (letters, digits and dashes). */
export const headerNamePattern = /^[A-Za-z][A-Za-z0-9-]*$/
/** An absolute http:// or https:// URL. */
export const httpUrlPattern = /^https?:\/\/[^\s/?#]+([/?#]\S*)?$/

/** The annotation that asks for a sync now; its value is echoed in `status.lastHandledRequestAt`. */
export const requestedAtAnnotation = 'switchboard.dev/requested-at'

/** A Go-style duration string. */
export function duration(description: string) {
  return z.string().regex(durationPattern).max(64).describe(description)
}

/** An RFC 3339 timestamp, as Kubernetes writes them (`2025-01-31T09:30:00Z`). */
export function dateTime(description: string) {
  return z.iso.datetime({ offset: true }).describe(description)
}

/** An absolute http:// or https:// URL. */
export function httpUrl(description: string) {
  return z
    .url({ protocol: /^https?$/ })
    .regex(httpUrlPattern)
    .max(2048)
    .describe(description)
}

/** A non-negative 64-bit counter or generation. */
export function counter(description: string) {
  return z.int().min(0).describe(description)
}

export const credentialsSecretRef = z
  .object({
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(dnsSubdomainPattern)
      .describe('Name of the Secret. It must be in the same namespace as this resource.'),
  })
  .describe(
    'The Secret that holds the credentials, in the same namespace as this resource. There is no ' +
      'namespace field: a resource can only ever use a Secret from its own namespace. Which keys ' +
      'the Secret must hold depends on the provider.',
  )

/** `spec.interval`: how often the resource is reconciled even if nothing changed. */
export function interval(defaultValue: string, what = 'How often the resource is synced') {
  return duration(
    `${what}, as a Go-style duration (for example \`15m\`, \`1h30m\` or \`90s\`). Each run is ` +
      `spread by a little random jitter so that resources with the same interval do not all ` +
      `call the provider at once. Defaults to \`${defaultValue}\`.`,
  ).default(defaultValue)
}

/** `spec.suspend`: pause reconciliation without deleting anything. */
export const suspend = z
  .boolean()
  .default(false)
  .describe(
    'When true, Switchboard stops reconciling this resource: no syncs run and nothing is ' +
      'changed at the provider until it is set back to false. Defaults to false.',
  )

export const conditionStatus = z.enum(['True', 'False', 'Unknown'])

/** The standard metav1.Condition, with the limits Kubernetes itself applies. */
export const condition = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .regex(conditionTypePattern)
      .describe(
        'Type of condition in CamelCase, for example `Ready`, `Reconciling`, `Stalled` or a ' +
          'kind-specific one such as `CredentialsValid`.',
      ),
    status: conditionStatus.describe('Status of the condition: True, False or Unknown.'),
    observedGeneration: counter(
      'The .metadata.generation the condition was set from. If it is older than the current ' +
        'generation, the condition is out of date.',
    ).optional(),
    lastTransitionTime: dateTime('When the condition last changed from one status to another.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(conditionReasonPattern)
      .describe('A stable, machine-readable CamelCase reason for the last transition.'),
    message: z
      .string()
      .max(32768)
      .describe('A human-readable explanation of the last transition. Never contains credentials.'),
  })
  .describe('One aspect of the current state of the resource, in the standard Kubernetes form.')

export type Condition = z.infer<typeof condition>
export type ConditionStatus = z.infer<typeof conditionStatus>

export const conditions = z.array(condition).meta({
  description:
    'The current state of the resource, one entry per condition type. `Ready` sums it up; ' +
    '`Reconciling` and `Stalled` follow the kstatus convention read by kubectl wait, Flux and Argo CD.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
})

/** Status fields every kind has. Spread them into a kind's status object. */
export const commonStatusFields = {
  observedGeneration: counter(
    'The .metadata.generation the controller last acted on. When it equals .metadata.generation, ' +
      'the status describes the current spec.',
  ).optional(),
  conditions: conditions.optional(),
  lastHandledRequestAt: z
    .string()
    .max(256)
    .describe(
      `The value of the \`${requestedAtAnnotation}\` annotation that was last handled. Setting ` +
        'the annotation to a new value (for example the current time) asks for a sync now; once ' +
        'done, the value shows up here.',
    )
    .optional(),
  lastSyncTime: dateTime('When the last successful sync finished.').optional(),
}

/** A CEL rule for `x-kubernetes-validations`. */
export interface ValidationRule {
  rule: string
  message?: string
  messageExpression?: string
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate'
  fieldPath?: string
}

/** Adds CEL rules to a schema, keeping any it already has. */
export function withValidations<T extends z.ZodType>(schema: T, rules: readonly ValidationRule[]): T {
  const meta = schema.meta() as Record<string, unknown> | undefined
  const existing = (meta?.['x-kubernetes-validations'] as ValidationRule[] | undefined) ?? []
  return schema.meta({ 'x-kubernetes-validations': [...existing, ...rules] })
}

/**
 * Requires exactly one of `keys` to be set, both in zod (the controller) and as a CEL rule (the
 * API server), with the same message.
 */
export function exactlyOneOf<T extends z.ZodObject>(
  schema: T,
  keys: readonly (keyof z.input<T> & string)[],
  message: string,
): T {
  const present = keys.map((key) => `has(self.${key})`).join(', ')
  const rule = `[${present}].filter(x, x).size() == 1`
  const refined = schema.refine(
    (value: Record<string, unknown>) => keys.filter((key) => value[key] !== undefined).length === 1,
    { message },
  )
  return withValidations(refined, [{ rule, message }])
}
