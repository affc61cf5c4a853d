// OAuth 2.0 pieces shared by the connectors whose user tokens expire (see refresh.ts).

export { type CodeGrantOptions, codeGrant } from './code.ts'
export { type RefreshGrantOptions, refreshGrant, type TokenSet } from './refresh.ts'
