/**
 * The Facebook Graph sandbox's state: pages and groups, each with the access token that may
 * post to it (and optionally an app secret whose `appsecret_proof` it requires), and the posts
 * of their feeds, newest first.
 */
import { randomBytes } from 'node:crypto'
import type { Instrumentation, RecordedRequest } from '../recording.ts'

export const FACEBOOK_PROVIDER = 'facebook'
/** Where the Graph routes sit in the sandbox: a client's base URL is `<sandbox URL>/facebook`. */
export const FACEBOOK_PATH_PREFIX = '/facebook'
/** Identical messages among this many newest posts are refused as duplicates (code 506). */
export const DUPLICATE_WINDOW = 10

export interface FacebookTargetConfig {
  /** Numeric page or group id. */
  id: string
  name?: string
  kind?: 'page' | 'group'
  /** The token that may read and post here. */
  accessToken: string
  /** App secret; with `requireAppSecretProof`, calls must carry `appsecret_proof`. */
  appSecret?: string
  requireAppSecretProof?: boolean
}

export interface FacebookSandboxOptions {
  targets?: FacebookTargetConfig[]
}

export interface FacebookPost {
  id: string
  message?: string
  link?: string
  created_time: string
  /** Posted through the API (false: added by hand, as another admin would). */
  viaApi: boolean
}

interface Target {
  config: FacebookTargetConfig
  /** Newest first. */
  posts: (FacebookPost & { seq: number })[]
}

/** Graph's time format: `2030-01-01T10:00:00+0000`. */
export function graphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000')
}

export class FacebookSandbox {
  readonly #targets = new Map<string, Target>()
  readonly #requests: Instrumentation['requests']
  #seq = 0

  constructor(opts: FacebookSandboxOptions, requests: Instrumentation['requests']) {
    for (const t of opts.targets ?? []) this.addTarget(t)
    this.#requests = requests
  }

  /** Adds a page or group (replacing one with the same id). */
  addTarget(config: FacebookTargetConfig): void {
    if (!/^[0-9A-Za-z_.-]{1,128}$/.test(config.id)) throw new TypeError('target id must be a page id')
    if (!config.accessToken) throw new TypeError('accessToken must be non-empty')
    this.#targets.set(config.id, { config: { ...config }, posts: [] })
  }

  /** A page with fresh credentials, for tests. */
  createPage(name = 'Sandbox Page', opts: { appSecret?: boolean } = {}): FacebookTargetConfig {
    const config: FacebookTargetConfig = {
      id: String(100_000_000_000_000n + BigInt(`0x${randomBytes(5).toString('hex')}`)),
      name,
      kind: 'page',
      accessToken: `EAAsb${randomBytes(30).toString('base64url')}`,
    }
    if (opts.appSecret) {
      config.appSecret = randomBytes(16).toString('hex')
      config.requireAppSecretProof = true
    }
    this.addTarget(config)
    return config
  }

  /** Whether a token belongs to any page or group. */
  knowsToken(token: string): boolean {
    for (const t of this.#targets.values()) if (t.config.accessToken === token) return true
    return false
  }

  target(id: string): FacebookTargetConfig | undefined {
    const t = this.#targets.get(id)
    return t ? { ...t.config } : undefined
  }

  /** The feed, newest first. */
  posts(id: string): FacebookPost[] {
    return (this.#targets.get(id)?.posts ?? []).map(({ seq: _seq, ...p }) => ({ ...p }))
  }

  /** Posts made through the API (announcements). */
  postCount(id: string): number {
    return (this.#targets.get(id)?.posts ?? []).filter((p) => p.viaApi).length
  }

  /** A post by someone else (another admin, by hand). */
  postByHand(id: string, message: string): FacebookPost {
    return this.publish(id, { message }, false)
  }

  /** @internal Adds a post; throws `DuplicateMessage` for an identical recent message. */
  publish(id: string, post: { message?: string; link?: string }, viaApi: boolean): FacebookPost {
    const t = this.#targets.get(id)
    if (!t) throw new TypeError(`no page ${id}`)
    if (post.message && t.posts.slice(0, DUPLICATE_WINDOW).some((p) => p.message === post.message)) {
      throw new DuplicateMessage()
    }
    const seq = ++this.#seq
    const stored = {
      id: `${id}_${1_000_000_000 + seq}${randomBytes(2).readUInt16BE(0)}`,
      created_time: graphTime(Date.now()),
      viaApi,
      seq,
      ...(post.message !== undefined ? { message: post.message } : {}),
      ...(post.link !== undefined ? { link: post.link } : {}),
    }
    t.posts.unshift(stored)
    const { seq: _seq, ...out } = stored
    return { ...out }
  }

  /** @internal A page of the feed: posts older than `beforeSeq`, and the cursor of the last. */
  feedPage(id: string, limit: number, beforeSeq: number | undefined) {
    const posts = (this.#targets.get(id)?.posts ?? []).filter(
      (p) => beforeSeq === undefined || p.seq < beforeSeq,
    )
    const slice = posts.slice(0, limit)
    return { items: slice, more: posts.length > limit }
  }

  get requests(): RecordedRequest[] {
    return this.#requests.list(FACEBOOK_PROVIDER)
  }

  /** Forgets every post; keeps the pages and their tokens. */
  reset(): void {
    for (const t of this.#targets.values()) t.posts = []
  }
}

export class DuplicateMessage extends Error {
  constructor() {
    super('Duplicate status message')
  }
}
