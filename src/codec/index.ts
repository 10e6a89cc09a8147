/**
 * @module codec
 * edgepay's wire format: deterministic CBOR, COSE_Sign1 / COSE_Key with Ed25519, CWT claims.
 */

export { fromBase64Url, toBase64, toBase64Url } from '../base64.js';
export { compareBytes, concatBytes, equalBytes, fromHex, toHex } from '../bytes.js';
export { type CborValue, decode, encode, Tagged } from './cbor.js';
export {
  ALG_EDDSA,
  type CoseKey,
  coseKeyMap,
  coseKeyThumbprint,
  type Ed25519Jwk,
  fromJwk,
  readCoseKey,
  toJwk,
} from './cose-key.js';
export {
  decodeSign1,
  protectedHeader,
  type Sign1,
  type SignOptions,
  signSign1,
  sigStructure,
  TAG_COSE_SIGN1,
  TAG_CWT,
  type VerifyOptions,
  verifySign1,
} from './cose-sign1.js';
export { CLAIM, type CwtClaims, claimsMap, readClaims } from './cwt.js';
export {
  asAmount,
  asArray,
  asBool,
  asBytes,
  asInt,
  asMap,
  asText,
  asTime,
  asUint,
  type CborMap,
  MAX_COUNTER,
  MAX_TIME,
} from './fields.js';
export { DEFAULT_LIMITS, type DecodeLimits, scanDeterministic } from './scan.js';
