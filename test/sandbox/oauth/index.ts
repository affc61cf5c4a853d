// The OAuth parts every provider sandbox shares: the consent page of the authorization endpoint,
// one-use authorization codes with the PKCE check, and user tokens that expire and rotate.
export { AuthorizationCodes, type CodeRequest, type RedeemedCode, s256 } from './codes.ts'
export { type ConsentAnswer, type ConsentPageOptions, consentPage } from './consent.ts'
export {
  type IssuedTokens,
  tokenClient,
  type UserGrant,
  UserTokens,
  type UserTokensOptions,
} from './tokens.ts'
