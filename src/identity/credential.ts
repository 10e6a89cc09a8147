/**
 * @module identity/credential
 * Issuing and decoding credentials: CWTs as plain COSE_Sign1 (tag 18, so any COSE library reads them),
 * marked by the protected content type 61 (the CoAP content-format of `application/cwt`, RFC 8392), signed
 * by the parent's key with the parent key's RFC 9679 thumbprint as `kid`.
 */
import { copyRange } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { decodeSign1, type Sign1, signSign1 } from '../codec/cose-sign1.js';
import { asArray, asBytes } from '../codec/fields.js';
import { readBytes } from '../codec/fixed.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { CodecError, IdentityError } from '../errors.js';
import { type CredentialClaims, credentialClaimsMap, readCredentialClaims } from './claims.js';

/** CoAP content-format 61, `application/cwt` (RFC 8392 section 9.2). */
export const CWT_CONTENT_TYPE = 61;

/** A decoded credential. Structure and claims are checked; the signature and chain are not (see verifyChain). */
export interface Credential {
  readonly bytes: Uint8Array;
  readonly sign1: Sign1;
  readonly claims: CredentialClaims;
  /** Thumbprint of the subject's key (the `cnf` key). */
  readonly subjectKid: Uint8Array;
  /** SHA-256 of the credential's bytes: a stable id for caches and logs. */
  readonly hash: Uint8Array;
}

/**
 * Signs `claims` into a credential with `signer` (the issuer's key for a party, the party's for a device).
 * @example const cred = await issueCredential(partySigner, { role: 'device', issuer: 'party:fleet', ... });
 */
export async function issueCredential(signer: Signer, claims: CredentialClaims): Promise<Uint8Array> {
  return signSign1(encode(credentialClaimsMap(claims)), signer, {
    kid: coseKeyThumbprint(signer.publicKey),
    contentType: CWT_CONTENT_TYPE,
  });
}

/**
 * Decodes a credential strictly.
 * @throws CodecError / CoseError for malformed input; IdentityError ID_CLAIMS, ID_CRITICAL_CLAIM.
 */
export function decodeCredential(bytes: Uint8Array): Credential {
  const sign1 = decodeSign1(bytes);
  if (sign1.contentType !== CWT_CONTENT_TYPE)
    throw new IdentityError('ID_CLAIMS', 'not a credential (content type is not application/cwt)', 'protected.content_type');
  if (sign1.payload === null) throw new IdentityError('ID_CLAIMS', 'a credential carries its claims (payload is detached)', 'payload');
  const claims = readCredentialClaims(decode(sign1.payload));
  let hash: Uint8Array | undefined;
  return {
    bytes,
    sign1,
    claims,
    subjectKid: coseKeyThumbprint(claims.publicKey),
    // Worked out when asked for: a ledger decodes thousands of credentials a second and never asks.
    get hash() {
      hash ??= sha256(bytes);
      return hash;
    },
  };
}

/**
 * A chain in canonical form, `[1 to 4 byte strings]` within decodeChain's bounds, read directly (each
 * credential copied out). Undefined for anything else: the general decoder takes it and says what is wrong.
 */
export function fastChain(b: Uint8Array): Uint8Array[] | undefined {
  const n = (b[0] as number) - 0x80;
  if (n < 1 || n > 4 || b.length > 64 * 1024) return undefined;
  const out: Uint8Array[] = [];
  let at = 1;
  for (let i = 0; i < n; i++) {
    const r = readBytes(b, at);
    if (!r || r[1] - r[0] > 16 * 1024) return undefined;
    out.push(copyRange(b, r[0], r[1]));
    at = r[1];
  }
  return at === b.length ? out : undefined;
}

/** A device's credential chain as it travels: `[party credential, device credential]`, each as bytes. */
export function encodeChain(chain: readonly Uint8Array[]): Uint8Array {
  return encode(chain as CborValue[]);
}

/**
 * The credentials of an encoded chain (not yet verified).
 * @throws CodecError FIELD_TYPE unless an array of 1 to 4 byte strings.
 */
export function decodeChain(bytes: Uint8Array): Uint8Array[] {
  const fast = fastChain(bytes);
  if (fast) return fast;
  const arr = asArray(decode(bytes, { maxBytes: 64 * 1024, maxDepth: 4, tags: [] }), 'chain');
  if (arr.length < 1 || arr.length > 4) throw new CodecError('FIELD_RANGE', `a chain holds 1 to 4 credentials, not ${arr.length}`, 'chain');
  // Copied out, as above: a verified chain is cached for long, and a view would keep what it came in alive.
  return arr.map((c, i) => asBytes(c, `chain[${i}]`, { max: 16 * 1024 }).slice());
}
