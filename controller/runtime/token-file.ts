/**
 * A token kept in a file (a mounted Secret), read again at most every `everyMs`, so that a token
 * the kubelet rewrote after the Secret changed is picked up without a restart. Trimmed. The first
 * read throws if the file cannot be read; a later failed read keeps the last value.
 */
import { readFileSync } from 'node:fs'

export function tokenFile(path: string, everyMs = 10_000, now: () => number = Date.now): () => string {
  let value = readFileSync(path, 'utf8').trim()
  let readAt = now()
  return () => {
    if (now() - readAt >= everyMs) {
      readAt = now()
      try {
        value = readFileSync(path, 'utf8').trim()
      } catch {
        // a file being swapped by the kubelet: the last value until the next read
      }
    }
    return value
  }
}
