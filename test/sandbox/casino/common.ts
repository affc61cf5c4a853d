/**
 * Pieces every casino-platform plugin uses: request attribution (which casino a request was
 * for, counted once it was answered), page serving from a dataset, and constant-time compares.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { CasinoProvider, StreamName } from '../../../connectors/index.ts'
import type { RecordOf } from './dataset.ts'
import type { CasinoAccount, CasinoSandbox } from './state.ts'

const attributed = new WeakMap<object, string>()

/** Marks the request as one for `casinoKey` (counted in its stats when answered). */
export function attribute(req: FastifyRequest, casinoKey: string): void {
  attributed.set(req.raw, casinoKey)
}

/** Counts answered requests per casino; add to a plugin's scope. */
export function countPerCasino(app: FastifyInstance, provider: CasinoProvider, state: CasinoSandbox): void {
  app.addHook('onResponse', async (req, reply) => {
    const key = attributed.get(req.raw)
    if (key !== undefined) state.countRequest(provider, key, reply.statusCode)
  })
}

export interface ListQuery {
  sinceMs: number
  afterId: string | undefined
  limit: number
}

/** Validates the paging parameters; returns an error text for a 400. */
export function checkList(
  state: CasinoSandbox,
  since: unknown,
  afterId: unknown,
  limit: unknown,
): ListQuery | string {
  let sinceMs = 0
  if (since !== undefined && since !== null && since !== '') {
    if (typeof since === 'number' && Number.isSafeInteger(since) && since >= 0) sinceMs = since
    else if (typeof since === 'string' && /^\d+$/.test(since)) sinceMs = Number(since)
    else if (typeof since === 'string' && !Number.isNaN(Date.parse(since)) && /T/.test(since)) {
      sinceMs = Date.parse(since)
    } else return 'invalid updated-since value'
  }
  if (afterId !== undefined && afterId !== null && (typeof afterId !== 'string' || afterId.length > 256)) {
    return 'invalid after-id value'
  }
  const n = typeof limit === 'string' && /^\d+$/.test(limit) ? Number(limit) : limit
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > state.maxPageSize) {
    return `limit must be an integer 1..${state.maxPageSize}`
  }
  return { sinceMs, afterId: afterId === null || afterId === '' ? undefined : (afterId as string), limit: n }
}

/** One page of a casino's stream, rendered with `render`; counts the records served. */
export function servePage<S extends StreamName, Raw>(
  state: CasinoSandbox,
  account: CasinoAccount,
  stream: S,
  q: ListQuery,
  render: (record: RecordOf[S]) => Raw,
): { items: Raw[]; hasMore: boolean } {
  const { dataset } = account
  const { start, end, hasMore } = dataset.page(stream, q.sinceMs, q.afterId, q.limit)
  const items: Raw[] = []
  for (let i = start; i < end; i++) items.push(render(dataset.recordAt(stream, i)))
  state.countServed(account.provider, account.casinoKey, stream, items.length)
  return { items, hasMore }
}

/** Constant-time string compare (false for different lengths). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** A header's single value. */
export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}

/** The raw query string of a request ('' when none). */
export function rawQuery(url: string): string {
  const q = url.indexOf('?')
  return q < 0 ? '' : url.slice(q + 1)
}
