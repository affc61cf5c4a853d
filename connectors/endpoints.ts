/**
 * Where Switchboard may send credentials. An editor of a resource (who cannot read Secrets) can
 * set a base URL (`spec.endpoint`, a Segment `host`, a CalendarSync's `endpoints`) and name a
 * Secret of the namespace; the controller then sends that Secret's keys to the URL. So every such
 * URL is checked against an allowlist per provider before a client is built:
 *
 * - the provider's own hosts are allowed (a casino platform's: the host of its default endpoint);
 * - more hosts come from the controller's configuration (`--allowed-hosts`), e.g. a proxy;
 * - anything else must be https; loopback (`localhost`, 127.0.0.0/8, `::1`) only when the
 *   controller is started with `--allow-loopback-endpoints` (tests, the demo, the sandbox), and
 *   then http is allowed for it.
 *
 * A refused URL stalls the resource with reason `EndpointNotAllowed`, naming the field and the
 * host (never a credential).
 */
import { Reason, StallingError } from './errors.ts'

/** The providers' own hosts, beyond a casino platform's default endpoint. `*.` matches subdomains. */
export const PROVIDER_HOSTS: Readonly<Record<string, readonly string[]>> = {
  segment: ['api.segment.io', 'events.eu1.segmentapis.com', '*.segmentapis.com'],
  'google-calendar': ['www.googleapis.com', 'oauth2.googleapis.com', 'accounts.google.com'],
  calendly: ['api.calendly.com', 'auth.calendly.com'],
  facebook: ['graph.facebook.com'],
  twitch: ['api.twitch.tv', 'id.twitch.tv'],
  patreon: ['www.patreon.com'],
}

export interface EndpointPolicy {
  /** Loopback hosts (over http too). Default false. */
  allowLoopback?: boolean
  /** More allowed hosts per provider (`*.example.com` matches subdomains). */
  hosts?: Readonly<Record<string, readonly string[]>>
}

/** Parses `softswiss=proxy.example.com,api2.example.com;segment=cdp.example.com`. */
export function parseAllowedHosts(value: string): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const part of value.split(';')) {
    const trimmed = part.trim()
    if (!trimmed) continue
    const eq = trimmed.indexOf('=')
    const provider = trimmed.slice(0, eq).trim()
    const hosts = trimmed
      .slice(eq + 1)
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean)
    if (eq < 1 || hosts.length === 0 || hosts.some((h) => !/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/.test(h))) {
      throw new TypeError(`--allowed-hosts: "${trimmed}" is not PROVIDER=HOST[,HOST...]`)
    }
    out[provider] = [...(out[provider] ?? []), ...hosts]
  }
  return out
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(h) || h === '::1'
}

function matches(pattern: string, host: string, hostWithPort: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1))
  return pattern.includes(':') ? pattern === hostWithPort : pattern === host
}

/**
 * Throws a stalling `EndpointNotAllowed` error unless `url` may receive `provider`'s credentials.
 * `field` names the spec field (for the condition); `ownHosts` adds hosts known only at run time
 * (a casino platform's default endpoint).
 */
export function checkEndpoint(
  policy: EndpointPolicy,
  provider: string,
  field: string,
  url: string,
  ownHosts: readonly string[] = [],
): void {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new StallingError(Reason.InvalidSpec, `${field} is not a valid URL`, { field })
  }
  const host = u.hostname.toLowerCase()
  const hostWithPort = u.host.toLowerCase()
  if (isLoopbackHost(host)) {
    if (policy.allowLoopback) return
    throw new StallingError(
      Reason.EndpointNotAllowed,
      `${field} points to the loopback host "${host}", which the controller allows only with --allow-loopback-endpoints`,
      { field },
    )
  }
  const allowed = [...(PROVIDER_HOSTS[provider] ?? []), ...ownHosts, ...(policy.hosts?.[provider] ?? [])]
  if (!allowed.some((p) => matches(p.toLowerCase(), host, hostWithPort))) {
    throw new StallingError(
      Reason.EndpointNotAllowed,
      `${field} host "${hostWithPort}" is not allowed for ${provider} (allowed: ${allowed.join(', ') || 'none'}; the controller's --allowed-hosts adds hosts)`,
      { field },
    )
  }
  if (u.protocol !== 'https:') {
    throw new StallingError(
      Reason.EndpointNotAllowed,
      `${field} must use https (credentials are sent to it)`,
      {
        field,
      },
    )
  }
}
