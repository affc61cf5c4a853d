import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node'

/** The API clients one manager shares between its informers, reconcilers and elector. */
export interface KubeClients {
  readonly kubeConfig: KubeConfig
  readonly core: CoreV1Api
  readonly custom: CustomObjectsApi
  readonly coordination: CoordinationV1Api
  readonly watch: Watch
}

export function makeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    watch: new Watch(kubeConfig),
  }
}

/** Request options for a JSON merge patch (RFC 7386). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

/** Request options for a JSON patch (RFC 6902), used where a test-and-set is needed. */
export const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)

/** The HTTP status of a failed API call, if it was one. */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code
  return typeof code === 'number' ? code : undefined
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409

/** A short, safe description of an API error (API errors never carry Secret data). */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    let body = err.body as { message?: string } | string | undefined
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body) as { message?: string }
      } catch {
        // not JSON: fall back to the first line of the error
      }
    }
    const msg = typeof body === 'object' && body?.message ? body.message : String(err.message).split('\n')[0]
    return `HTTP ${err.code}: ${msg}`
  }
  return err instanceof Error ? err.message : String(err)
}
