/**
 * @module codec/cose-sign1
 * COSE_Sign1 (RFC 9052 section 4.2, tag 18) with EdDSA/Ed25519 (alg -8; -19, RFC 9864, is accepted when
 * verifying), attached or detached payload.
 *
 * Decoding is strict: the outer structure must be deterministic CBOR, tagged 18 (optionally inside the
 * CWT tag 61), the protected header a deterministic map with alg -8 or -19; a `crit` header naming anything this
 * code does not process, a label in both buckets, or a signature that is not 64 bytes is rejected.
 */

import { abytes, copyRange, equalBytes, viewRange } from '../bytes.js';
import type { Ed25519Provider, Signer } from '../crypto/ed25519.js';
import type { Es256Provider } from '../crypto/es256.js';
import { keyAlgorithm, verifyWithKey } from '../crypto/index.js';
import { CodecError, CoseError } from '../errors.js';
import { type CborValue, decode, encode, Tagged } from './cbor.js';
import { type ALG_ED25519, ALG_EDDSA, ALG_ES256, ED25519_ALGS } from './cose-key.js';
import { readBytes, uintSize, writeBytes } from './fixed.js';
import { DEFAULT_LIMITS, type DecodeLimits, scanDeterministic } from './scan.js';

export const TAG_COSE_SIGN1 = 18;
export const TAG_CWT = 61;
export const HDR_ALG = 1;
export const HDR_CRIT = 2;
export const HDR_CONTENT_TYPE = 3;
export const HDR_KID = 4;

/** Header labels this implementation processes; `crit` may name only these. */
const UNDERSTOOD = [HDR_ALG, HDR_CRIT, HDR_CONTENT_TYPE, HDR_KID];

/** A decoded, structurally valid (not yet verified) COSE_Sign1. */
export interface Sign1 {
  /** The protected header exactly as signed. */
  readonly protectedBytes: Uint8Array;
  /**
   * EdDSA (-8) as edgepay signs Ed25519, or Ed25519 (-19, RFC 9864) as another signer may; ES256 (-7) for
   * P-256 keys. Which one must fit the key it is verified under (a key's form names its algorithm).
   */
  readonly alg: typeof ALG_EDDSA | typeof ALG_ED25519 | typeof ALG_ES256;
  readonly kid: Uint8Array | undefined;
  readonly contentType: number | string | undefined;
  readonly unprotected: ReadonlyMap<number | string, CborValue>;
  /** `null` when the payload is detached. */
  readonly payload: Uint8Array | null;
  readonly signature: Uint8Array;
}

export interface SignOptions {
  /** Key id carried in the protected header (edgepay uses the RFC 9679 thumbprint). */
  kid?: Uint8Array;
  contentType?: number | string;
  /** Leave the payload out of the message; the verifier supplies it. */
  detached?: boolean;
  externalAad?: Uint8Array;
  /** Wrap in the CWT tag 61 as well (RFC 8392 section 6). */
  cwtTag?: boolean;
}

/** The bytes Ed25519 signs: Sig_structure ["Signature1", protected, external_aad, payload]. */
export function sigStructure(protectedBytes: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return writeParts(SIG1_HEAD, [protectedBytes, externalAad, payload], undefined);
}

const SIG1_HEAD = new Uint8Array([0x84, 0x6a, 0x53, 0x69, 0x67, 0x6e, 0x61, 0x74, 0x75, 0x72, 0x65, 0x31]);

/**
 * `head` then each part as a byte string, with `between` (raw bytes) after the first part: one
 * allocation for a whole Sig_structure or COSE_Sign1 (they are written once per payment).
 * A part that is `null` is written as CBOR nil (a detached payload).
 */
function writeParts(head: Uint8Array, parts: readonly (Uint8Array | null)[], between: Uint8Array | undefined): Uint8Array {
  let size = head.length + (between?.length ?? 0);
  for (const p of parts) size += p === null ? 1 : uintSize(p.length) + p.length;
  const out = new Uint8Array(size);
  out.set(head, 0);
  let at = head.length;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as Uint8Array | null;
    if (p === null) out[at++] = 0xf6;
    else at = writeBytes(out, at, p);
    if (i === 0 && between) {
      out.set(between, at);
      at += between.length;
    }
  }
  return out;
}

/** `{1: -8}` (and `{1: -7}`): the protected header of messages whose receiver knows the key (vouchers). */
const ALG_ONLY = new Uint8Array([0xa1, 0x01, 0x27]);
const ALG_ONLY_MAP: ReadonlyMap<number | string, CborValue> = new Map([[HDR_ALG, ALG_EDDSA]]);
const ES256_ONLY = new Uint8Array([0xa1, 0x01, 0x26]);
const ES256_ONLY_MAP: ReadonlyMap<number | string, CborValue> = new Map([[HDR_ALG, ALG_ES256]]);

/** The algorithms this implementation verifies. */
const ALGS: readonly number[] = [...ED25519_ALGS, ALG_ES256];

/** The deterministic protected header for `options` (`alg` -8 unless ES256 is named). */
export function protectedHeader(options: Pick<SignOptions, 'kid' | 'contentType'> & { alg?: number } = {}): Uint8Array {
  const alg = options.alg ?? ALG_EDDSA;
  if (options.kid === undefined && options.contentType === undefined) return (alg === ALG_ES256 ? ES256_ONLY : ALG_ONLY).slice();
  const h = new Map<number, CborValue>([[HDR_ALG, alg]]);
  if (options.contentType !== undefined) h.set(HDR_CONTENT_TYPE, options.contentType);
  if (options.kid !== undefined) h.set(HDR_KID, abytes(options.kid, 'kid'));
  return encode(h);
}

/**
 * Signs `payload` into a tagged COSE_Sign1.
 * @example const msg = await signSign1(payload, signer, { kid });
 */
export async function signSign1(payload: Uint8Array, signer: Signer, options: SignOptions = {}): Promise<Uint8Array> {
  abytes(payload, 'payload');
  const prot = protectedHeader({ ...options, alg: keyAlgorithm(signer.publicKey) === 'ES256' ? ALG_ES256 : ALG_EDDSA });
  const signature = await signer.sign(sigStructure(prot, options.externalAad ?? new Uint8Array(0), payload));
  // 18([protected, {}, payload / nil, signature]), written directly: the same bytes encode() would write
  // (a test checks), without building and normalising a value for it.
  return writeParts(options.cwtTag ? CWT_SIGN1_HEAD : SIGN1_HEAD, [prot, options.detached ? null : payload, signature], EMPTY_MAP);
}

const CWT_SIGN1_HEAD = new Uint8Array([0xd8, 0x3d, 0xd2, 0x84]);
const SIGN1_HEAD = new Uint8Array([0xd2, 0x84]);
const EMPTY_MAP = new Uint8Array([0xa0]);

/**
 * The common layout, `[61(]18([bstr, {}, bstr / nil, bstr])[)]`, read directly: every head must be the
 * shortest form and the last item must end the input, which is all the deterministic scan would check of
 * these items (byte strings' contents are opaque to it). Undefined for anything else, or outside
 * `limits`: the scan and the general path take it, and say what is wrong.
 */
function fastSign1(
  b: Uint8Array,
  limits: DecodeLimits,
  views: boolean,
): { prot: Uint8Array; payload: Uint8Array | null; signature: Uint8Array } | undefined {
  const out = views ? viewRange : copyRange;
  if (b.length > limits.maxBytes || !limits.tags.includes(TAG_COSE_SIGN1)) return undefined;
  let p = b[0] === 0xd8 && b[1] === 0x3d ? 2 : 0;
  // The scan's depth: tag 0, array 1, the empty map 2 (one more under a CWT tag); each container needs one more.
  if (p === 2 && !limits.tags.includes(TAG_CWT)) return undefined;
  if (limits.maxDepth < p / 2 + 3) return undefined;
  if (b[p] !== 0xd2 || b[p + 1] !== 0x84) return undefined;
  const prot = readBytes(b, p + 2);
  if (!prot || b[prot[1]] !== 0xa0) return undefined;
  p = prot[1] + 1;
  let payload: Uint8Array | null = null;
  if (b[p] === 0xf6) p++;
  else {
    const pl = readBytes(b, p);
    if (!pl) return undefined;
    payload = out(b, pl[0], pl[1]);
    p = pl[1];
  }
  const sig = readBytes(b, p);
  if (!sig || sig[1] !== b.length) return undefined;
  return { prot: out(b, prot[0], prot[1]), payload, signature: out(b, sig[0], sig[1]) };
}

/**
 * Decodes and checks the structure of a COSE_Sign1 without verifying its signature. With `views`, the
 * caller owns `bytes` and will not change them, so the protected header, payload and signature may be
 * views into it rather than copies (a ledger copies each record once, then reads it in place).
 * @throws CodecError for non-deterministic or malformed CBOR; CoseError COSE_TAG, COSE_STRUCTURE,
 *   COSE_HEADER, COSE_ALG, COSE_CRIT.
 */
export function decodeSign1(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS, views = false): Sign1 {
  const fast = fastSign1(bytes, limits, views);
  if (fast) {
    if (fast.signature.length !== 64) throw new CoseError('COSE_STRUCTURE', 'signature must be 64 bytes', 'signature');
    return withHeaders(fast.prot, new Map(), fast.payload, fast.signature, limits);
  }
  scanDeterministic(bytes, limits);
  let v = decode(bytes, limits);
  if (v instanceof Tagged && v.tag === TAG_CWT) v = v.value;
  if (!(v instanceof Tagged) || v.tag !== TAG_COSE_SIGN1) throw new CoseError('COSE_TAG', 'expected a COSE_Sign1 (tag 18)', '$');
  const a = v.value;
  if (!Array.isArray(a) || a.length !== 4) throw new CoseError('COSE_STRUCTURE', 'COSE_Sign1 must be an array of 4', '$');
  const [prot, unprot, payload, signature] = a as CborValue[];
  if (!(prot instanceof Uint8Array)) throw new CoseError('COSE_STRUCTURE', 'protected header must be a byte string', 'protected');
  if (!(unprot instanceof Map)) throw new CoseError('COSE_STRUCTURE', 'unprotected header must be a map', 'unprotected');
  if (payload !== null && !(payload instanceof Uint8Array))
    throw new CoseError('COSE_STRUCTURE', 'payload must be a byte string or nil', 'payload');
  if (!(signature instanceof Uint8Array) || signature.length !== 64)
    throw new CoseError('COSE_STRUCTURE', 'signature must be 64 bytes', 'signature');
  return withHeaders(prot, unprot as ReadonlyMap<number | string, CborValue>, payload, signature, limits);
}

function withHeaders(
  prot: Uint8Array,
  unprot: ReadonlyMap<number | string, CborValue>,
  payload: Uint8Array | null,
  signature: Uint8Array,
  limits: DecodeLimits,
): Sign1 {
  const h = readProtected(prot, limits);
  for (const k of unprot.keys()) {
    if (h.has(k)) throw new CoseError('COSE_HEADER', 'label appears in both header buckets', `unprotected.${String(k)}`);
    if (k === HDR_CRIT || k === HDR_ALG) throw new CoseError('COSE_HEADER', 'alg and crit must be protected', `unprotected.${String(k)}`);
  }
  const kid = h.get(HDR_KID);
  if (kid !== undefined && !(kid instanceof Uint8Array)) throw new CoseError('COSE_HEADER', 'kid must be bytes', 'protected.kid');
  const ct = h.get(HDR_CONTENT_TYPE);
  if (ct !== undefined && typeof ct !== 'number' && typeof ct !== 'string')
    throw new CoseError('COSE_HEADER', 'content type must be uint or text', 'protected.content_type');
  return {
    protectedBytes: prot,
    alg: h.get(HDR_ALG) as Sign1['alg'],
    kid,
    contentType: ct,
    unprotected: unprot as ReadonlyMap<number | string, CborValue>,
    payload,
    signature,
  };
}

/**
 * `{1: -8, 3: content type (24..255), 4: kid (32 bytes)}` in canonical form, read directly: the header of
 * every credential (a ledger decodes two per new device). Undefined for anything else.
 */
export function fastKidHeader(p: Uint8Array): Map<number | string, CborValue> | undefined {
  if (p.length !== 41 || p[0] !== 0xa3 || p[1] !== 0x01 || p[2] !== 0x27 || p[3] !== 0x03 || p[4] !== 0x18) return undefined;
  const ct = p[5] as number;
  if (ct < 24 || p[6] !== 0x04 || p[7] !== 0x58 || p[8] !== 0x20) return undefined;
  return new Map<number | string, CborValue>([
    [HDR_ALG, ALG_EDDSA],
    [HDR_CONTENT_TYPE, ct],
    [HDR_KID, copyRange(p, 9, p.length)],
  ]);
}

function readProtected(prot: Uint8Array, limits: DecodeLimits): ReadonlyMap<number | string, CborValue> {
  // RFC 9052 section 3: an empty protected header is a zero-length bstr (then alg is missing, below).
  if (equalBytes(prot, ALG_ONLY)) return ALG_ONLY_MAP; // the common case, known canonical
  if (equalBytes(prot, ES256_ONLY)) return ES256_ONLY_MAP;
  const withKid = fastKidHeader(prot);
  if (withKid) return withKid;
  let h: CborValue = new Map();
  try {
    if (prot.length > 0) h = decode(prot, { ...limits, tags: [] });
  } catch (e) {
    if (e instanceof CodecError) throw new CoseError('COSE_HEADER', `protected header: ${e.message}`, 'protected', { cause: e });
    throw e;
  }
  if (!(h instanceof Map)) throw new CoseError('COSE_HEADER', 'protected header must be a map', 'protected');
  if (!ALGS.includes(h.get(HDR_ALG) as number))
    throw new CoseError('COSE_ALG', 'alg must be EdDSA (-8), Ed25519 (-19) or ES256 (-7)', 'protected.alg');
  const crit = h.get(HDR_CRIT);
  if (crit !== undefined) {
    if (!Array.isArray(crit) || crit.length === 0) throw new CoseError('COSE_CRIT', 'crit must be a non-empty array', 'protected.crit');
    for (const label of crit) {
      if (!UNDERSTOOD.includes(label as number))
        throw new CoseError('COSE_CRIT', `critical header ${String(label)} is not understood`, 'protected.crit');
      if (!h.has(label as number)) throw new CoseError('COSE_CRIT', `critical header ${String(label)} is absent`, 'protected.crit');
    }
  }
  return h as ReadonlyMap<number | string, CborValue>;
}

export interface VerifyOptions {
  /** The payload of a detached COSE_Sign1. */
  detachedPayload?: Uint8Array;
  externalAad?: Uint8Array;
  /** The Ed25519 provider (default: the platform's). */
  provider?: Ed25519Provider;
  /** The ES256 provider (default: the platform's). */
  es256?: Es256Provider;
}

/**
 * True when two COSE_Sign1 messages carry the same protected header and payload (their signatures may
 * differ): one signed content. ECDSA signers (a secure element, WebCrypto) pick a fresh nonce each time,
 * so a message signed again after a crash is the same message in other bytes, not a second one.
 */
export function sameSignedContent(a: Uint8Array, b: Uint8Array): boolean {
  if (equalBytes(a, b)) return true;
  try {
    return sameContent(decodeSign1(a), decodeSign1(b));
  } catch {
    return false;
  }
}

/** {@link sameSignedContent} of two decoded messages: the same protected header and attached payload. */
export function sameContent(x: Sign1, y: Sign1): boolean {
  return x.payload !== null && y.payload !== null && equalBytes(x.protectedBytes, y.protectedBytes) && equalBytes(x.payload, y.payload);
}

/**
 * Throws COSE_ALG unless `msg`'s algorithm is the one `publicKey` signs with (Ed25519 for a 32-byte key,
 * ES256 for a 65-byte point): a message never verifies under a key of another algorithm.
 */
export function checkAlgForKey(msg: Pick<Sign1, 'alg'>, publicKey: Uint8Array, field = 'protected.alg'): void {
  const es256 = keyAlgorithm(publicKey) === 'ES256';
  if (es256 !== (msg.alg === ALG_ES256))
    throw new CoseError('COSE_ALG', `alg ${msg.alg} does not fit a${es256 ? ' P-256' : 'n Ed25519'} key`, field);
}

/**
 * Verifies a decoded COSE_Sign1 under `publicKey` and returns its payload.
 * @throws CoseError COSE_DETACHED (payload attached and supplied, or neither), COSE_ALG (an algorithm the
 *   key does not sign with), COSE_SIGNATURE.
 */
export async function verifySign1(msg: Sign1, publicKey: Uint8Array, options: VerifyOptions = {}): Promise<Uint8Array> {
  const payload = msg.payload ?? options.detachedPayload;
  if (payload === undefined) throw new CoseError('COSE_DETACHED', 'payload is detached and was not supplied', 'payload');
  if (msg.payload !== null && options.detachedPayload !== undefined)
    throw new CoseError('COSE_DETACHED', 'payload is attached; a detached payload was also supplied', 'payload');
  checkAlgForKey(msg, publicKey);
  const ok = await verifyWithKey(
    msg.signature,
    sigStructure(msg.protectedBytes, options.externalAad ?? new Uint8Array(0), payload),
    publicKey,
    {
      ...(options.provider ? { ed25519: options.provider } : {}),
      ...(options.es256 ? { es256: options.es256 } : {}),
    },
  );
  if (!ok) throw new CoseError('COSE_SIGNATURE', 'signature does not verify', 'signature');
  return payload;
}
