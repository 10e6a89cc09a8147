/**
 * @module identity
 * Device keys bound to responsible parties: credentials (CWT in COSE_Sign1), offline chain verification
 * with effective limits, signed revocation lists, the trust store, and the device a channel runs as.
 */

export {
  type ChainFacts,
  type ChainVerifyOptions,
  checkCounterparty,
  type DeferredCheck,
  type VerifiedChain,
  verifyChain,
  verifyParty,
} from './chain.js';
export {
  CREDENTIAL_VERSION,
  type CredentialClaims,
  credentialClaimsMap,
  type DeviceInfo,
  EDGEPAY_CLAIM,
  type Limits,
  type Role,
  readCredentialClaims,
} from './claims.js';
export { type Credential, CWT_CONTENT_TYPE, decodeChain, decodeCredential, encodeChain, issueCredential } from './credential.js';
export { type Device, openDevice } from './device.js';
export {
  decodeRevocationList,
  KID_PREFIX_LENGTH,
  kidPrefix,
  MAX_REVOCATION_BYTES,
  REVOCATION_CONTENT_TYPE,
  type RevocationEntry,
  type RevocationList,
  type RevocationListContent,
  type RevocationState,
  signRevocationList,
} from './revocation.js';
export { memoryPersistence, type Persistence, type TrustRoot, TrustStore } from './trust-store.js';
