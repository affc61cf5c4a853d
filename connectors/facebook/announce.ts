/**
 * Posting an announcement at most once. The Graph API has no idempotency key, and a crash (or a
 * timeout) between Facebook accepting a post and Switchboard recording it would otherwise post
 * it again. So each announcement carries a marker derived from a stable key (for a CalendarSync:
 * `<namespace>/<name>/<source event id>`), as its last line: `#sb` and 12 base32 characters of a
 * SHA-256 of the key (a hashtag, which Facebook shows as an ordinary tag). Before posting,
 * `announceOnce` reads the newest posts of the feed (`searchDepth`, default 100) and, if one
 * carries the marker, returns it instead of posting.
 *
 * Should Facebook refuse the post as a duplicate of a recent one (506), the feed is searched
 * deeper (500 posts) for the marker.
 *
 * The caller should still record the post id (in status) and skip events already announced;
 * the marker is the safety net for the window in which that record may be lost. The feed
 * search finds posts made within the last `searchDepth` posts, which covers a retry after a
 * crash; it is not meant to deduplicate announcements months apart.
 */
import { createHash } from 'node:crypto'
import type { FacebookClient } from './client.ts'
import { DuplicatePostError } from './graph.ts'

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** The marker of an announcement key: `#sb` + 12 lowercase base32 characters. */
export function announcementMarker(key: string): string {
  if (!key) throw new TypeError('announcement key must be non-empty')
  const digest = createHash('sha256').update(key).digest()
  let out = ''
  for (let i = 0; out.length < 12; i++) out += BASE32[(digest[i] ?? 0) & 31]
  return `#sb${out}`
}

/** The message with the key's marker as its last line. */
export function withMarker(message: string, key: string): string {
  return `${message.trimEnd()}\n\n${announcementMarker(key)}`
}

/** Whether a post's text carries the key's marker (as a whole word). */
export function hasMarker(text: string | undefined, key: string): boolean {
  if (!text) return false
  const marker = announcementMarker(key)
  const at = text.lastIndexOf(marker)
  if (at < 0) return false
  const next = text.charAt(at + marker.length)
  return next === '' || !/[A-Za-z0-9_]/.test(next)
}

export interface AnnounceOptions {
  /** Stable key of what is announced. */
  key: string
  message: string
  link?: string
  /** Newest posts searched for the marker. Default 100. */
  searchDepth?: number
  signal?: AbortSignal
}

export interface AnnounceResult {
  id: string
  /** false: an earlier post with the marker was found, nothing was posted. */
  created: boolean
}

/** Finds the post of `key` among the newest `searchDepth` posts of the feed. */
export async function findAnnouncement(
  client: FacebookClient,
  targetId: string,
  key: string,
  opts: { searchDepth?: number; signal?: AbortSignal } = {},
): Promise<string | undefined> {
  const depth = opts.searchDepth ?? 100
  let seen = 0
  for await (const page of client.listFeed(targetId, {
    limit: Math.min(100, Math.max(1, depth)),
    ...(opts.signal ? { signal: opts.signal } : {}),
  })) {
    for (const post of page.items) {
      if (hasMarker(post.message, key)) return post.id
      if (++seen >= depth) return undefined
    }
  }
  return undefined
}

/** Posts the announcement unless a post with its marker is already in the feed. */
export async function announceOnce(
  client: FacebookClient,
  targetId: string,
  opts: AnnounceOptions,
): Promise<AnnounceResult> {
  const search: { searchDepth?: number; signal?: AbortSignal } = {}
  if (opts.searchDepth !== undefined) search.searchDepth = opts.searchDepth
  if (opts.signal) search.signal = opts.signal
  const existing = await findAnnouncement(client, targetId, opts.key, search)
  if (existing) return { id: existing, created: false }
  const post: { message: string; link?: string } = { message: withMarker(opts.message, opts.key) }
  if (opts.link) post.link = opts.link
  try {
    const { id } = await client.publish(targetId, post, opts.signal ? { signal: opts.signal } : {})
    return { id, created: true }
  } catch (err) {
    // Facebook refuses a repeat of a recent post: the announcement is there, further down
    if (!(err instanceof DuplicatePostError)) throw err
    const deeper = await findAnnouncement(client, targetId, opts.key, { ...search, searchDepth: 500 })
    if (deeper) return { id: deeper, created: false }
    throw err
  }
}
