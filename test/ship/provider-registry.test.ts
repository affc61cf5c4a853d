/**
 * A provider is declared once. This test registers a provider that exists only here, a platform
 * that resells the SOFTSWISS API, by adding its description to the one list
 * (controller/api/providers/list.ts) and nothing else, then loads the project afresh and finds it
 * everywhere that lists providers: the CRD enum and settings field, the webhook server's routes
 * and Secret keys, the sandbox and the connector registry, and the docs tables.
 */
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'

const ID = 'acme-casino'
const FIELD = 'acmeCasino'

beforeAll(async () => {
  vi.resetModules()
  vi.doMock('../../controller/api/providers/list.ts', async (importOriginal) => {
    const real = await importOriginal<typeof import('../../controller/api/providers/list.ts')>()
    const { z } = await import('zod')
    // types.ts and fields.ts, not the folder's index: the index reads the list being mocked
    const { defineProvider } = await import('../../controller/api/providers/types.ts')
    const { accountId, secretKey } = await import('../../controller/api/providers/fields.ts')
    const acme = defineProvider({
      id: ID,
      title: 'Acme Casino',
      kind: 'CasinoIntegration',
      protocol: 'softswiss',
      docs: 'connectors/softswiss/README.md',
      credentials: z.object({ apiKey: secretKey('apiKey'), apiSecret: secretKey('apiSecret') }),
      settings: {
        field: FIELD,
        schema: z
          .object({
            casinoId: accountId('The casino identifier Acme issued.'),
            environment: z
              .enum(['staging', 'production'])
              .default('production')
              .describe('Which environment.'),
          })
          .describe('Settings for provider acme-casino.'),
      },
      webhook: {
        verifier: 'casino',
        setup: 'the Acme back office',
        secrets: { signingSecret: ['webhookSecret'] },
      },
      sandbox: { fixture: 'softswiss' },
    })
    return { providers: [...real.providers, acme] }
  })
})

afterAll(() => {
  vi.doUnmock('../../controller/api/providers/list.ts')
  vi.resetModules()
})

describe('a provider registered in one place', () => {
  it('is in the CRD: the provider enum and its settings field, validated as declared', async () => {
    const { renderCrds } = await import('../../crds/index.ts')
    const casino = [...renderCrds().entries()].find(([name]) => name.startsWith('casinointegrations'))
    expect(casino).toBeDefined()
    const text = casino?.[1] ?? ''
    expect(text).toMatch(new RegExp(`- ${ID}\\n`))
    expect(text).toContain(`${FIELD}:`)
    expect(text).toContain(`self.provider == '${ID}' ? has(self.${FIELD}) : !has(self.${FIELD})`)

    const { casinoIntegrationSpec } = await import('../../controller/api/index.ts')
    const spec = {
      provider: ID,
      [FIELD]: { casinoId: 'acme-1' },
      credentialsSecretRef: { name: 'acme' },
      streams: [{ name: 'players' }],
      destinationRefs: [{ name: 'cdp' }],
    }
    expect(casinoIntegrationSpec.safeParse(spec).success).toBe(true)
    expect(casinoIntegrationSpec.safeParse({ ...spec, [FIELD]: { casinoId: 'acme:1' } }).success).toBe(false)
  })

  it('is routed by the webhook server, with its Secret keys, and verified by its plugin', async () => {
    const { WEBHOOK_KINDS, webhookSecretKeys } = await import('../../controller/api/index.ts')
    const casinoKind = WEBHOOK_KINDS.find((k) => k.kind === 'CasinoIntegration')
    expect(Object.keys(casinoKind?.providers ?? {})).toContain(ID)
    expect(webhookSecretKeys(ID as never)).toEqual({ signingSecret: ['webhookSecret'] })

    const { harness } = await import('../webhooks/index.ts')
    const { casinoRequest } = await import('../sandbox/webhooks/index.ts')
    const h = harness()
    const { url } = h.addTarget(ID as never, { signingSecret: 'acme-signing-secret-01' })
    const good = casinoRequest({
      url,
      secret: 'acme-signing-secret-01',
      body: { event: 'x' },
      deliveryId: 'd-1',
    })
    expect((await h.send(good)).statusCode).toBe(204)
    expect(h.requester.requests).toHaveLength(1)
    const forged = casinoRequest({
      url,
      secret: 'another-secret-000000',
      body: { event: 'x' },
      deliveryId: 'd-2',
    })
    expect((await h.send(forged)).statusCode).toBe(401)
    expect(h.requester.requests).toHaveLength(1)
    await h.app.close()
  })

  it('is served by the sandbox and read by the connector its protocol names', async () => {
    const { buildSandbox } = await import('../sandbox/index.ts')
    const { casinoConnectors, createLogger } = await import('../../connectors/index.ts')
    const credentials = { apiKey: 'acme-key', apiSecret: 'acme-secret' }
    const sb = await buildSandbox({
      casino: {
        accounts: [
          { provider: ID as never, credentials, settings: { casinoId: 'acme-1' }, size: { players: 7 } },
        ],
      },
    })
    try {
      await sb.listen(0, '127.0.0.1')
      const connector = casinoConnectors[ID as keyof typeof casinoConnectors]
      expect(connector).toBeDefined()
      const client = connector.create({
        endpoint: sb.casinoEndpoint(ID as never),
        credentials,
        settings: connector.settings.parse({ casinoId: 'acme-1' }),
        logger: createLogger({ level: 'silent' }),
        metrics: new Registry(),
      })
      await client.healthCheck()
      let players = 0
      for await (const page of client.read('players', { pageSize: 5 })) players += page.records.length
      expect(players).toBe(7)
      expect(sb.casinoEndpoint(ID as never)).toMatch(new RegExp(`/${ID}$`))
    } finally {
      await sb.close()
    }
  })

  it('is in the docs tables', async () => {
    const { renderProviderDocs, casinoTable, webhookTable } = await import(
      '../../hack/ship/gen-provider-docs.ts'
    )
    const { allProviders } = await import('../../controller/api/index.ts')
    expect(renderProviderDocs()).toContain(`\`${ID}\` (Acme Casino)`)
    expect(casinoTable(allProviders)).toContain(`\`${FIELD}: {casinoId, environment}\``)
    expect(webhookTable(allProviders)).toContain('the Acme back office')
  })
})
