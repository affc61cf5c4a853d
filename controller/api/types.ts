import type { V1ObjectMeta } from '@kubernetes/client-node'
import type { z } from 'zod'

/** API group of every Switchboard kind. */
export const group = 'switchboard.dev'
/** The one version every kind is served and stored in. */
export const version = 'v1alpha1'
/** `apiVersion` of every Switchboard object. */
export const apiVersion = `${group}/${version}` as const

/** Categories every kind belongs to: `kubectl get switchboard` / `kubectl get integrations`. */
export const categories = ['switchboard', 'integrations'] as const

/** One column of `kubectl get` output (a CRD `additionalPrinterColumns` entry). */
export interface PrinterColumn {
  name: string
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date'
  jsonPath: string
  description?: string
  /** 0 shows in `kubectl get`; higher values only with `-o wide`. */
  priority?: number
}

/**
 * Everything Switchboard knows about one custom resource kind. The zod schemas are the one
 * source of truth: the controller validates objects with them and `crds/` is generated from them.
 */
export interface KindDefinition<Spec extends z.ZodType = z.ZodType, Status extends z.ZodType = z.ZodType> {
  readonly group: typeof group
  readonly version: typeof version
  readonly kind: string
  readonly plural: string
  readonly singular: string
  readonly listKind: string
  readonly shortNames: readonly string[]
  readonly categories: readonly string[]
  /** Shown by `kubectl explain <plural>`. */
  readonly description: string
  readonly spec: Spec
  readonly status: Status
  readonly printerColumns: readonly PrinterColumn[]
}

/** What a kind file declares; the rest of a {@link KindDefinition} is derived. */
export interface KindInput<Spec extends z.ZodType, Status extends z.ZodType> {
  kind: string
  plural: string
  /** Defaults to the kind in lower case. */
  singular?: string
  /** Defaults to `<kind>List`. */
  listKind?: string
  shortNames?: readonly string[]
  description: string
  spec: Spec
  status: Status
  printerColumns: readonly PrinterColumn[]
}

/** Declares a kind, filling in the group, version, categories and derived names. */
export function defineKind<Spec extends z.ZodType, Status extends z.ZodType>(
  input: KindInput<Spec, Status>,
): KindDefinition<Spec, Status> {
  return {
    group,
    version,
    kind: input.kind,
    plural: input.plural,
    singular: input.singular ?? input.kind.toLowerCase(),
    listKind: input.listKind ?? `${input.kind}List`,
    shortNames: input.shortNames ?? [],
    categories,
    description: input.description,
    spec: input.spec,
    status: input.status,
    printerColumns: input.printerColumns,
  }
}

/** A Switchboard object as read from the API server. */
export interface Resource<Spec, Status> {
  apiVersion: string
  kind: string
  metadata: V1ObjectMeta
  spec: Spec
  status?: Status
}

/** The resource type of a kind: spec as parsed (defaults applied), status as stored. */
export type ResourceOf<K extends KindDefinition> = Resource<z.output<K['spec']>, z.output<K['status']>>
