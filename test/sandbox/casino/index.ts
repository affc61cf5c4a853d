// The casino-platform plugins of the provider sandbox (see ../README.md, "Casino platforms").
import type { FastifyInstance } from 'fastify'
import type { Instrumentation } from '../recording.ts'
import { altenarPlugin } from './altenar.ts'
import { betsoftwarePlugin } from './betsoftware.ts'
import { casinoControlPlugin } from './control.ts'
import { playtechPamPlugin } from './playtech-pam.ts'
import { softswissPlugin } from './softswiss.ts'
import { CASINO_PREFIX, type CasinoSandbox } from './state.ts'

/** Registers the four platform plugins (each encapsulated, under its prefix) and the controls. */
export async function registerCasinoPlugins(
  app: FastifyInstance,
  state: CasinoSandbox,
  inst: Instrumentation,
): Promise<void> {
  await app.register(softswissPlugin(state, inst), { prefix: CASINO_PREFIX.softswiss })
  await app.register(altenarPlugin(state, inst), { prefix: CASINO_PREFIX.altenar })
  await app.register(betsoftwarePlugin(state, inst), { prefix: CASINO_PREFIX.betsoftware })
  await app.register(playtechPamPlugin(state, inst), { prefix: CASINO_PREFIX['playtech-pam'] })
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
