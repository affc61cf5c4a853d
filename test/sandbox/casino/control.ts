/**
 * `/_sandbox/casino/*`: the casino plugins' control routes, for tests and demos in another
 * process. Never recorded in the request log.
 *
 * - `GET  /_sandbox/casino/accounts` → `{ accounts: [{ provider, casinoKey, sizes, stats }] }`
 * - `POST /_sandbox/casino/accounts` body = an account spec → 201 `{ provider, casinoKey }`
 * - `POST /_sandbox/casino/append` `{ provider, casinoKey, stream, count }` → 200 `{ size }`
 * - `POST /_sandbox/casino/expire` `{ provider, casinoKey? }` → 200 `{ expired }` (tokens, sessions)
 * - `GET  /_sandbox/casino/:provider/:casinoKey` → `{ sizes, stats }`, 404 if unknown
 */
import type { FastifyInstance } from 'fastify'
import type { CasinoProvider, StreamName } from '../../../connectors/index.ts'
import { CASINO_PROVIDER_IDS, type CasinoAccountSpec, type CasinoSandbox } from './state.ts'

const provider = { type: 'string', enum: [...CASINO_PROVIDER_IDS] } as const
const stream = { type: 'string', enum: ['players', 'transactions', 'games'] } as const
const stringMap = { type: 'object', additionalProperties: { type: 'string', maxLength: 1024 } } as const
const size = { type: 'integer', minimum: 0, maximum: 100_000_000 } as const

export const accountSpecSchema = {
  type: 'object',
  required: ['provider', 'credentials'],
  additionalProperties: false,
  properties: {
    provider,
    credentials: stringMap,
    settings: stringMap,
    size: {
      type: 'object',
      additionalProperties: false,
      properties: { players: size, transactions: size, games: size },
    },
    seed: { type: 'string', maxLength: 256 },
    startAt: { type: 'string', maxLength: 64 },
  },
} as const

function sizesOf(state: CasinoSandbox, p: CasinoProvider, casinoKey: string) {
  const d = state.dataset(p, casinoKey)
  return { players: d.size('players'), transactions: d.size('transactions'), games: d.size('games') }
}

export function casinoControlPlugin(state: CasinoSandbox) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/_sandbox/casino/accounts', async () => ({
      accounts: state.accounts().map((a) => ({
        provider: a.provider,
        casinoKey: a.casinoKey,
        sizes: sizesOf(state, a.provider, a.casinoKey),
        stats: state.stats(a.provider, a.casinoKey),
      })),
    }))

    app.post<{ Body: CasinoAccountSpec }>(
      '/_sandbox/casino/accounts',
      { schema: { body: accountSpecSchema } },
      async (req, reply) => {
        try {
          const casinoKey = state.addAccount(req.body)
          return reply.code(201).send({ provider: req.body.provider, casinoKey })
        } catch (err) {
          return reply.code(400).send({ error: (err as Error).message })
        }
      },
    )

    app.post<{ Body: { provider: CasinoProvider; casinoKey: string; stream: StreamName; count: number } }>(
      '/_sandbox/casino/append',
      {
        schema: {
          body: {
            type: 'object',
            required: ['provider', 'casinoKey', 'stream', 'count'],
            additionalProperties: false,
            properties: { provider, casinoKey: { type: 'string', minLength: 1 }, stream, count: size },
          },
        },
      },
      async (req, reply) => {
        const { provider: p, casinoKey, stream: s, count } = req.body
        if (!state.account(p, casinoKey)) return reply.code(404).send({ error: 'unknown casino' })
        state.append(p, casinoKey, s, count)
        return { size: state.dataset(p, casinoKey).size(s) }
      },
    )

    app.post<{ Body: { provider: CasinoProvider; casinoKey?: string } }>(
      '/_sandbox/casino/expire',
      {
        schema: {
          body: {
            type: 'object',
            required: ['provider'],
            additionalProperties: false,
            properties: { provider, casinoKey: { type: 'string', minLength: 1 } },
          },
        },
      },
      async (req) => ({ expired: state.expireGrants(req.body.provider, req.body.casinoKey) }),
    )

    app.get<{ Params: { provider: CasinoProvider; casinoKey: string } }>(
      '/_sandbox/casino/:provider/:casinoKey',
      async (req, reply) => {
        const { provider: p, casinoKey } = req.params
        if (!CASINO_PROVIDER_IDS.includes(p) || !state.account(p, casinoKey)) {
          return reply.code(404).send({ error: 'unknown casino' })
        }
        return { sizes: sizesOf(state, p, casinoKey), stats: state.stats(p, casinoKey) }
      },
    )
  }
}
