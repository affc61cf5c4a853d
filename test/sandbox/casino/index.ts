// The casino-platform plugins of the provider sandbox (see ../README.md, "Casino platforms").
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { CasinoProvider } from '../../../controller/api/index.ts'
import type { Instrumentation } from '../recording.ts'
import { altenarPlugin } from './altenar.ts'
import { betsoftwarePlugin } from './betsoftware.ts'
import { casinoControlPlugin } from './control.ts'
import { playtechPamPlugin } from './playtech-pam.ts'
import { softswissPlugin } from './softswiss.ts'
import { CASINO_PREFIX, CASINO_PROVIDER_IDS, type CasinoSandbox, fixtureOf } from './state.ts'

type Fixture = (state: CasinoSandbox, inst: Instrumentation, provider: CasinoProvider) => FastifyPluginAsync

/** The emulated platform APIs, by the fixture name a provider description gives. */
const FIXTURES: Readonly<Record<string, Fixture>> = {
  softswiss: softswissPlugin,
  altenar: altenarPlugin,
  betsoftware: betsoftwarePlugin,
  'playtech-pam': playtechPamPlugin,
}

/**
 * Registers a plugin for every casino platform that has a sandbox fixture (each encapsulated,
 * under its prefix), and the controls.
 */
export async function registerCasinoPlugins(
  app: FastifyInstance,
  state: CasinoSandbox,
  inst: Instrumentation,
): Promise<void> {
  for (const provider of CASINO_PROVIDER_IDS) {
    const fixture = FIXTURES[fixtureOf(provider)]
    if (!fixture) throw new Error(`casino provider ${provider}: no sandbox fixture "${fixtureOf(provider)}"`)
    await app.register(fixture(state, inst, provider), { prefix: CASINO_PREFIX[provider] })
  }
  await app.register(casinoControlPlugin(state))
}

export { ALTENAR_PROVIDER, altenarPlugin } from './altenar.ts'
export { BETSOFTWARE_PROVIDER, betsoftwarePlugin, betsoftwareStringToSign } from './betsoftware.ts'
export { accountSpecSchema, casinoControlPlugin } from './control.ts'
export {
  CasinoDataset,
  type DatasetOptions,
  type DatasetSizes,
  DEFAULT_START_AT,
  type RecordOf,
} from './dataset.ts'
export { PLAYTECH_PAM_PROVIDER, playtechPamPlugin } from './playtech-pam.ts'
export { SOFTSWISS_PROVIDER, softswissPlugin } from './softswiss.ts'
export {
  CASINO_PREFIX,
  CASINO_PROVIDER_IDS,
  type CasinoAccount,
  type CasinoAccountSpec,
  CasinoSandbox,
  type CasinoSandboxOptions,
  type CasinoStats,
  casinoKeyOf,
} from './state.ts'
