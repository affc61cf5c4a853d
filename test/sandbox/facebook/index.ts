// Facebook Graph sandbox: the public face.

export { facebookConfigSchema } from './config.ts'
export { facebookPlugin, graphErrorBody } from './plugin.ts'
export {
  DUPLICATE_WINDOW,
  DuplicateMessage,
  FACEBOOK_PATH_PREFIX,
  FACEBOOK_PROVIDER,
  type FacebookPost,
  FacebookSandbox,
  type FacebookSandboxOptions,
  type FacebookTargetConfig,
  graphTime,
} from './state.ts'
