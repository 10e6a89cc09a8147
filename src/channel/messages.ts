/**
 * @module channel/messages
 * The channel protocol's wire messages (version 1). Signed messages are COSE_Sign1 (EdDSA, protected
 * header `{1: -8}` only: the receiver knows the key from the channel) over a deterministic CBOR map whose
 * key 0 is the message type. Ticks and acks are small unsigned CBOR arrays: a tick is authenticated by
 * the hash chain, an ack only drives flow control. Documented with hex examples in docs/wire-format.md.
 */

import { toHex } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { decodeSign1, type Sign1, signSign1, verifySign1 } from '../codec/cose-sign1.js';
import { asAmount, asArray, asBool, asBytes, asInt, asMap, asText, asTime, asUint, type CborMap, need, onlyKeys } from '../codec/fields.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { ChannelError, EdgepayError } from '../errors.js';
import type { ChainFacts } from '../identity/chain.js';
import { REVOCATION_CONTENT_TYPE } from '../identity/revocation.js';
import {
  fastDecodeAccept,
  fastDecodeAck,
  fastDecodeOpen,
  fastDecodeTick,
  fastDecodeVoucher,
  fastEncodeAck,
  fastEncodeTick,
  fastEncodeTicks,
  fastEncodeVoucher,
  type TickPool,
} from './fastframe.js';
import { MAX_CHAIN_LENGTH } from './hashchain.js';

export const MSG = { hello: 1, open: 2, accept: 3, voucher: 4, close: 5, error: 6, tick: 7, ack: 8 } as const;
export const PROTOCOL_VERSION = 1;
/** Frames are small; this bounds what a receiver decodes (an open with two credential chains fits easily). */
export const MAX_FRAME_BYTES = 16 * 1024;
const LIMITS = { maxBytes: MAX_FRAME_BYTES, maxDepth: 6, tags: [18] };

/** Terms the payer signs to open a channel. Amounts are integer minor units of `asset`. */
export interface OpenTerms {
  /** The payer's credential chain `[party, device]` as encoded by `encodeChain`. */
  chain: Uint8Array;
  /** Thumbprint of the payee's device key. */
  payeeKid: Uint8Array;
  asset: string;
  cap: bigint;
  /** Price of one unit of service (a Wh, a metre, a second), for metering. */
  unitPrice: bigint;
  /** Seconds since the epoch. */
  expiresAt: number;
  nonce: Uint8Array;
  /** PayWord: the committed root, the chain's length, the value of one tick. */
  payword?: { root: Uint8Array; length: number; tickValue: bigint } | undefined;
  /** A ledger-signed reservation ticket guaranteeing the channel while offline. */
  reservation?: Uint8Array | undefined;
}

/**
 * Checks open terms against the payer's verified credential chain: the credential's asset, the per-channel
 * cap, no outliving any credential of either chain (`payee`: the payee's, when known). A payee checks this
 * before it accepts; a ledger again on every record, so a rogue payer device and a colluding payee cannot
 * widen the party's limits. A tick's value is at most the per-payment limit (each tick is a payment).
 * `field` names the terms.
 * @throws ChannelError CH_TERMS.
 */
export function checkTermsWithin(
  t: OpenTerms,
  payer: Pick<ChainFacts, 'limits' | 'validUntil'>,
  field: string,
  payee?: Pick<ChainFacts, 'validUntil'>,
): void {
  const refuse = (why: string, f: string): never => {
    throw new ChannelError('CH_TERMS', why, `${field}.${f}`);
  };
  if (t.asset !== payer.limits.asset) refuse(`asset ${t.asset} is not the credential's ${payer.limits.asset}`, 'asset');
  if (t.cap > payer.limits.perChannel) refuse(`cap ${t.cap} exceeds the per-channel limit ${payer.limits.perChannel}`, 'cap');
  if (t.expiresAt > payer.validUntil) refuse('the channel outlives the payer credential', 'expiresAt');
  if (payee && t.expiresAt > payee.validUntil) refuse('the channel outlives the payee credential', 'expiresAt');
  if (t.payword && t.payword.tickValue > payer.limits.perPayment)
    refuse(`a tick of ${t.payword.tickValue} exceeds the per-payment limit ${payer.limits.perPayment}`, 'payword.tickValue');
}

/**
 * A voucher's tick checkpoint, as the payer makes it: only on a hash-chain channel, within the chain, and
 * worth its ticks (the cumulative amount includes every tick it checkpoints). So a checkpoint cannot make
 * a tick's hashing run past what the cap pays for.
 */
export function checkCheckpoint(v: Voucher, pw: OpenTerms['payword'], field: string): void {
  const n = v.ticks ?? 0;
  if (n === 0) return;
  if (!pw || n > pw.length) throw new ChannelError('CH_TICK', `a checkpoint of ${n} ticks beyond the hash chain`, `${field}.ticks`);
  if (v.cumulative < BigInt(n) * pw.tickValue)
    throw new ChannelError('CH_TICK', `${n} ticks are worth more than the ${v.cumulative} the voucher claims`, `${field}.ticks`);
}

export interface Voucher {
  channelId: Uint8Array;
  seq: number;
  /** Everything paid on the channel so far (not this payment alone). */
  cumulative: bigint;
  /** For PayWord channels: how many ticks `cumulative` includes (a checkpoint). */
  ticks?: number | undefined;
  /** Units of service this payment covers in total (metering), if the payer reports it. */
  meter?: bigint | undefined;
  /** The payer's last voucher: it asks the payee to close. */
  final?: boolean | undefined;
}

export type Frame =
  | { type: 'hello'; sign1: Sign1; bytes: Uint8Array; chain: Uint8Array; versions: Map<string, number>; reply: boolean }
  | { type: 'revocation'; bytes: Uint8Array }
  | { type: 'open'; sign1: Sign1; bytes: Uint8Array; terms: OpenTerms; channelId: Uint8Array }
  | { type: 'accept'; sign1: Sign1; bytes: Uint8Array; channelId: Uint8Array; chain: Uint8Array }
  | { type: 'voucher'; sign1: Sign1; bytes: Uint8Array; voucher: Voucher }
  | { type: 'close'; sign1: Sign1; bytes: Uint8Array; voucher: Voucher }
  | { type: 'error'; sign1: Sign1; bytes: Uint8Array; channelId: Uint8Array | undefined; code: string; message: string }
  | { type: 'tick'; bytes: Uint8Array; channelId: Uint8Array; index: number; word: Uint8Array }
  | { type: 'ack'; bytes: Uint8Array; channelId: Uint8Array; seq: number; ticks: number };

const sign = (payload: Map<number, CborValue>, signer: Signer) => signSign1(encode(payload), signer);

/** The deterministic CBOR payload of open terms: what the payer signs, and what the channel id hashes. */
export function openPayload(t: OpenTerms): Uint8Array {
  const m = new Map<number, CborValue>([
    [0, MSG.open],
    [1, PROTOCOL_VERSION],
    [2, t.chain],
    [3, t.payeeKid],
    [4, t.asset],
    [5, t.cap],
    [6, t.unitPrice],
    [7, t.expiresAt],
    [8, t.nonce],
  ]);
  if (t.payword)
    m.set(
      9,
      new Map<number, CborValue>([
        [1, t.payword.root],
        [2, t.payword.length],
        [3, t.payword.tickValue],
      ]),
    );
  if (t.reservation) m.set(10, t.reservation);
  return encode(m);
}

/** The deterministic CBOR payload of an accept. */
export function acceptPayload(channelId: Uint8Array, chain: Uint8Array): Uint8Array {
  return encode(
    new Map<number, CborValue>([
      [0, MSG.accept],
      [2, channelId],
      [3, chain],
    ]),
  );
}

/** Signs open terms; returns the frame and the channel id (SHA-256 of the signed terms' payload). */
export async function signOpen(signer: Signer, t: OpenTerms): Promise<{ bytes: Uint8Array; channelId: Uint8Array }> {
  const payload = openPayload(t);
  return { bytes: await signSign1(payload, signer), channelId: sha256(payload) };
}

export function signAccept(signer: Signer, channelId: Uint8Array, chain: Uint8Array): Promise<Uint8Array> {
  return signSign1(acceptPayload(channelId, chain), signer);
}

function voucherMap(type: number, v: Voucher): Map<number, CborValue> {
  const m = new Map<number, CborValue>([
    [0, type],
    [2, v.channelId],
    [3, v.seq],
    [4, v.cumulative],
  ]);
  if (v.ticks !== undefined) m.set(5, v.ticks);
  if (v.meter !== undefined) m.set(6, v.meter);
  if (v.final) m.set(7, true);
  return m;
}

/** A voucher's or close's payload: the fixed layout on the hot path, the general encoder otherwise. */
const voucherPayload = (type: number, v: Voucher) => fastEncodeVoucher(type, v) ?? encode(voucherMap(type, v));

/** The payer signs a voucher. */
export function signVoucher(signer: Signer, v: Voucher): Promise<Uint8Array> {
  return signSign1(voucherPayload(MSG.voucher, v), signer);
}

/** The payee countersigns the final state: with the payer's final voucher, a cooperative close. */
export function signClose(signer: Signer, v: Voucher): Promise<Uint8Array> {
  return signSign1(voucherPayload(MSG.close, { ...v, final: undefined }), signer);
}

export function signError(signer: Signer, channelId: Uint8Array | undefined, code: string, message: string): Promise<Uint8Array> {
  const m = new Map<number, CborValue>([
    [0, MSG.error],
    [3, code],
    [4, message.slice(0, 200)],
  ]);
  if (channelId) m.set(2, channelId);
  return sign(m, signer);
}

export function encodeTick(channelId: Uint8Array, index: number, word: Uint8Array): Uint8Array {
  return fastEncodeTick(channelId, index, word);
}

/** Ticks `first` onwards, one frame per word (a burst: the frames are views into `pool`, or into one buffer). */
export function encodeTicks(channelId: Uint8Array, first: number, words: readonly Uint8Array[], pool?: TickPool): Uint8Array[] {
  return fastEncodeTicks(channelId, first, words, pool);
}

export function encodeAck(channelId: Uint8Array, seq: number, ticks = 0): Uint8Array {
  return fastEncodeAck(channelId, seq, ticks);
}

const bad = (why: string, field: string): never => {
  throw new ChannelError('CH_MALFORMED', why, field);
};

/**
 * Decodes any channel frame strictly (signatures are checked by the state machines, which know the keys).
 * With `views`, the caller owns `bytes` and will not change them: a signed frame's byte strings may then
 * be views into it, not copies (see `decodeSign1`).
 * @throws CodecError / CoseError for malformed bytes; ChannelError CH_MALFORMED for a wrong shape.
 */
export function decodeFrame(bytes: Uint8Array, views = false): Frame {
  if (bytes[0] !== 0xd2) {
    // The hot path: exact canonical ticks and acks. Anything else goes through the strict general decoder.
    const tick = fastDecodeTick(bytes);
    if (tick) return { type: 'tick', bytes, ...tick };
    const ack = fastDecodeAck(bytes);
    if (ack) return { type: 'ack', bytes, ...ack };
    const a = asArray(decode(bytes, { ...LIMITS, tags: [] }), 'frame');
    const type = asInt(a[0], 'frame[0]');
    if (type === MSG.tick && a.length === 4)
      return {
        type: 'tick',
        bytes,
        channelId: asBytes(a[1], 'tick.channel', 32),
        index: asUint(a[2], 'tick.index'),
        word: asBytes(a[3], 'tick.word', 32),
      };
    if (type === MSG.ack && a.length === 4)
      return {
        type: 'ack',
        bytes,
        channelId: asBytes(a[1], 'ack.channel', 32),
        seq: asUint(a[2], 'ack.seq'),
        ticks: asUint(a[3], 'ack.ticks'),
      };
    return bad(`unknown unsigned frame type ${type}`, 'frame[0]');
  }
  if (bytes.length > MAX_FRAME_BYTES) {
    // Only a revocation list may be larger than a frame: it is checked where it is applied.
    return { type: 'revocation', bytes };
  }
  const sign1 = decodeSign1(bytes, LIMITS, views);
  if (sign1.contentType === REVOCATION_CONTENT_TYPE) return { type: 'revocation', bytes };
  if (sign1.payload === null) return bad('payload is detached', 'payload');
  // The hot path: a voucher (or close) in its exact canonical layout.
  const fast = fastDecodeVoucher(sign1.payload, views);
  if (fast) return { type: fast.type === MSG.voucher ? 'voucher' : 'close', sign1, bytes, voucher: fast.voucher };
  const terms = fastDecodeOpen(sign1.payload, PROTOCOL_VERSION, views);
  if (terms) return { type: 'open', sign1, bytes, terms, channelId: sha256(sign1.payload) };
  const accepted = fastDecodeAccept(sign1.payload, views);
  if (accepted) return { type: 'accept', sign1, bytes, ...accepted };
  const m = asMap(decode(sign1.payload, LIMITS), 'msg');
  const type = asInt(need(m, 0, 'msg.type'), 'msg.type');
  switch (type) {
    case MSG.hello: {
      onlyKeys(m, [0, 2, 3, 4], 'hello');
      const flat = asArray(need(m, 3, 'hello.versions'), 'hello.versions');
      const versions = new Map<string, number>();
      for (let i = 0; i + 1 < flat.length; i += 2)
        versions.set(toHex(asBytes(flat[i], `hello.versions[${i}]`, 32)), asUint(flat[i + 1], `hello.versions[${i + 1}]`));
      return {
        type: 'hello',
        sign1,
        bytes,
        chain: asBytes(need(m, 2, 'hello.chain'), 'hello.chain', { max: 8 * 1024 }),
        versions,
        reply: m.has(4) && asBool(m.get(4), 'hello.reply'),
      };
    }
    case MSG.open: {
      const terms = openTermsOf(m);
      return { type: 'open', sign1, bytes, terms, channelId: sha256(sign1.payload) };
    }
    case MSG.accept:
      onlyKeys(m, [0, 2, 3], 'accept');
      return {
        type: 'accept',
        sign1,
        bytes,
        channelId: asBytes(need(m, 2, 'accept.channel'), 'accept.channel', 32),
        chain: asBytes(need(m, 3, 'accept.chain'), 'accept.chain', { max: 8 * 1024 }),
      };
    case MSG.voucher:
    case MSG.close:
      return {
        type: type === MSG.voucher ? 'voucher' : 'close',
        sign1,
        bytes,
        voucher: readVoucher(m, type === MSG.voucher ? 'voucher' : 'close'),
      };
    case MSG.error:
      onlyKeys(m, [0, 2, 3, 4], 'error');
      return {
        type: 'error',
        sign1,
        bytes,
        channelId: m.has(2) ? asBytes(m.get(2), 'error.channel', 32) : undefined,
        code: asText(need(m, 3, 'error.code'), 'error.code', 64),
        message: asText(m.get(4) ?? '', 'error.message', 200),
      };
    default:
      return bad(`unknown message type ${type}`, 'msg.type');
  }
}

/** A frame decoded, or the error that says why it is not one (for callers that answer bad frames rather than throw). */
export function tryDecodeFrame(bytes: Uint8Array): Frame | EdgepayError {
  try {
    return decodeFrame(bytes);
  } catch (e) {
    if (e instanceof EdgepayError) return e;
    throw e;
  }
}

/** Open terms from a decoded open payload (the strict general path), checked field by field. */
export function openTermsOf(m: CborMap): OpenTerms {
  onlyKeys(m, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'open');
  if (asInt(need(m, 1, 'open.version'), 'open.version') !== PROTOCOL_VERSION)
    throw new ChannelError('CH_VERSION', 'unsupported protocol version', 'open.version');
  const pw = m.has(9) ? asMap(m.get(9), 'open.payword') : undefined;
  return {
    chain: asBytes(need(m, 2, 'open.chain'), 'open.chain', { max: 8 * 1024 }),
    payeeKid: asBytes(need(m, 3, 'open.payee'), 'open.payee', 32),
    asset: asText(need(m, 4, 'open.asset'), 'open.asset', 32),
    cap: asAmount(need(m, 5, 'open.cap'), 'open.cap'),
    unitPrice: asAmount(need(m, 6, 'open.unitPrice'), 'open.unitPrice'),
    expiresAt: asTime(need(m, 7, 'open.expiresAt'), 'open.expiresAt'),
    nonce: asBytes(need(m, 8, 'open.nonce'), 'open.nonce', { min: 8, max: 32 }),
    payword: pw && readPayword(pw),
    reservation: m.has(10) ? asBytes(m.get(10), 'open.reservation', { max: 1024 }) : undefined,
  };
}

function readPayword(m: CborMap): NonNullable<OpenTerms['payword']> {
  onlyKeys(m, [1, 2, 3], 'open.payword');
  const length = asInt(need(m, 2, 'open.payword.length'), 'open.payword.length');
  if (length < 1 || length > MAX_CHAIN_LENGTH)
    throw new ChannelError('CH_MALFORMED', `hash chain length outside 1..${MAX_CHAIN_LENGTH}`, 'open.payword.length');
  const tickValue = asAmount(need(m, 3, 'open.payword.tickValue'), 'open.payword.tickValue');
  // A tick of no value would let ticks run past any cap: the cap would no longer bound a tick check's hashing.
  if (tickValue < 1n) throw new ChannelError('CH_MALFORMED', 'a tick is worth at least one minor unit', 'open.payword.tickValue');
  return { root: asBytes(need(m, 1, 'open.payword.root'), 'open.payword.root', 32), length, tickValue };
}

function readVoucher(m: CborMap, f: string): Voucher {
  onlyKeys(m, [0, 2, 3, 4, 5, 6, 7], f);
  return {
    channelId: asBytes(need(m, 2, `${f}.channel`), `${f}.channel`, 32),
    seq: asUint(need(m, 3, `${f}.seq`), `${f}.seq`),
    cumulative: asAmount(need(m, 4, `${f}.cumulative`), `${f}.cumulative`),
    ticks: m.has(5) ? asUint(m.get(5), `${f}.ticks`) : undefined,
    meter: m.has(6) ? asAmount(m.get(6), `${f}.meter`) : undefined,
    final: m.has(7) ? asBool(m.get(7), `${f}.final`) : undefined,
  };
}

/** Verifies a signed frame under `publicKey` (throws CoseError COSE_SIGNATURE). */
export async function verifyFrame(frame: { sign1: Sign1 }, publicKey: Uint8Array): Promise<void> {
  await verifySign1(frame.sign1, publicKey);
}
