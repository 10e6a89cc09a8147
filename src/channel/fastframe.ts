/**
 * @module channel/fastframe
 * Ticks and acks are the hot path (one per unit of service), and their layout is fixed:
 *   tick: 84 07 5820 <channel id: 32> <uint index> 5820 <word: 32>
 *   ack:  84 08 5820 <channel id: 32> <uint seq> <uint ticks>
 * and so is the payload of a voucher (and of a close), the one signed message of every payment:
 *   {0: type, 2: channel id, 3: seq, 4: cumulative, ?5: ticks, ?6: meter, ?7: true}
 * and so is the settlement record a ledger reads thousands of a second:
 *   {0: 1, 1: open, 2: accept, ? 3: voucher, ? 4: close}
 * with the payloads of its open and accept (read only; they are written once per channel):
 *   open:   {0: 2, 1: version, 2: chain, 3: payee kid, 4: asset, 5: cap, 6: unit price, 7: expiry, 8: nonce,
 *            ? 9: {1: root, 2: length, 3: tick value}, ? 10: reservation}
 *   accept: {0: 3, 2: channel id, 3: chain}
 * These functions write and read exactly the deterministic CBOR the general codec would (a property
 * test checks it byte for byte, both ways), without its general machinery: a tick round trip is a few
 * microseconds, so PayWord's one-hash verification is what bounds it, and a voucher's signature is most
 * of what a payment costs.
 */
import { copyRange, viewRange } from '../bytes.js';
import type { CborValue } from '../codec/cbor.js';
import { bigSize, readBig, readBytes, readUint, uintSize, writeBig, writeUint } from '../codec/fixed.js';
import { MAX_CHAIN_LENGTH } from './hashchain.js';
import type { OpenTerms, Voucher } from './messages.js';

const HEAD_TICK = [0x84, 0x07, 0x58, 0x20];
const HEAD_ACK = [0x84, 0x08, 0x58, 0x20];

export function fastEncodeTick(channelId: Uint8Array, index: number, word: Uint8Array): Uint8Array {
  return writeTick(new Uint8Array(tickSize(index)), channelId, index, word);
}

/**
 * Ticks `first` to `first + words.length - 1`, as views into `pool` (or into one buffer of their own): V8
 * keeps typed arrays of up to 64 bytes on its heap, so each 70-to-78-byte tick would take an ArrayBuffer
 * of its own, and even one ArrayBuffer a burst costs more to allocate than the rest of a burst's encoding.
 */
export function fastEncodeTicks(channelId: Uint8Array, first: number, words: readonly Uint8Array[], pool?: TickPool): Uint8Array[] {
  let size = 0;
  for (let k = 0; k < words.length; k++) size += tickSize(first + k);
  const space = pool ? pool.take(size) : new Uint8Array(size);
  const out = new Array<Uint8Array>(words.length);
  for (let k = 0, at = 0; k < words.length; k++) {
    const n = tickSize(first + k);
    out[k] = writeTick(new Uint8Array(space.buffer, space.byteOffset + at, n), channelId, first + k, words[k] as Uint8Array);
    at += n;
  }
  return out;
}

/**
 * Space for one channel's tick frames, carved in order from buffers of 8 KiB (about a hundred ticks), as
 * Node pools small Buffers: a tick frame's buffer then holds only ticks of its own channel already
 * revealed, and a new buffer is allocated once every hundred ticks, not once a burst.
 */
export class TickPool {
  private buf = new ArrayBuffer(0);
  private used = 0;

  take(n: number): Uint8Array {
    if (this.used + n > this.buf.byteLength) {
      if (n > TICK_POOL_BYTES / 2) return new Uint8Array(n);
      this.buf = new ArrayBuffer(TICK_POOL_BYTES);
      this.used = 0;
    }
    const out = new Uint8Array(this.buf, this.used, n);
    this.used += n;
    return out;
  }
}

const TICK_POOL_BYTES = 8192;

const tickSize = (index: number) => 4 + 32 + uintSize(index) + 2 + 32;

function writeTick(out: Uint8Array, channelId: Uint8Array, index: number, word: Uint8Array): Uint8Array {
  writeHead4(out, HEAD_TICK);
  out.set(channelId, 4);
  let at = writeUint(out, 36, index);
  out[at++] = 0x58;
  out[at++] = 0x20;
  out.set(word, at);
  return out;
}

export function fastEncodeAck(channelId: Uint8Array, seq: number, ticks: number): Uint8Array {
  const out = new Uint8Array(4 + 32 + uintSize(seq) + uintSize(ticks));
  writeHead4(out, HEAD_ACK);
  out.set(channelId, 4);
  writeUint(out, writeUint(out, 36, seq), ticks);
  return out;
}

/** The four head bytes one by one (`set` from a plain array takes a slow generic path). */
function writeHead4(out: Uint8Array, h: readonly number[]): void {
  out[0] = h[0] as number;
  out[1] = h[1] as number;
  out[2] = h[2] as number;
  out[3] = h[3] as number;
}

function head(b: Uint8Array, h: readonly number[]): boolean {
  return b.length >= 36 && b[0] === h[0] && b[1] === h[1] && b[2] === h[2] && b[3] === h[3];
}

/**
 * A tick frame's fields, or undefined when `b` is not exactly a canonical tick (use the general decoder).
 * With `views`, the caller owns `b` and will not change it: the fields are then views into it.
 */
export function fastDecodeTick(b: Uint8Array, views = false): { channelId: Uint8Array; index: number; word: Uint8Array } | undefined {
  if (!head(b, HEAD_TICK)) return undefined;
  const u = readUint(b, 36);
  if (!u || b.length !== u[1] + 34 || b[u[1]] !== 0x58 || b[u[1] + 1] !== 0x20) return undefined;
  return { channelId: take(views, b, [4, 36]), index: u[0], word: take(views, b, [u[1] + 2, b.length]) };
}

/** An ack frame's fields, or undefined when `b` is not exactly a canonical ack. */
export function fastDecodeAck(b: Uint8Array): { channelId: Uint8Array; seq: number; ticks: number } | undefined {
  if (!head(b, HEAD_ACK)) return undefined;
  const s = readUint(b, 36);
  const t = s && readUint(b, s[1]);
  if (!s || !t || t[1] !== b.length) return undefined;
  return { channelId: copyRange(b, 4, 36), seq: s[0], ticks: t[0] };
}

/** Amounts are at most 2^63 - 1 (as `asAmount` reads them); anything else takes the general encoder. */
const MAX_AMOUNT = 2n ** 63n - 1n;
const fits = (n: bigint | undefined) => n === undefined || (n >= 0n && n <= MAX_AMOUNT);
const fitsInt = (n: number | undefined) => n === undefined || (Number.isSafeInteger(n) && n >= 0);

/**
 * The deterministic CBOR payload of a voucher (type 4) or close (type 5), or undefined when a field is
 * outside what the fixed layout covers (the general encoder then writes it, or refuses it).
 */
export function fastEncodeVoucher(type: number, v: Voucher): Uint8Array | undefined {
  if (v.channelId.length !== 32 || !fitsInt(v.seq) || !fitsInt(v.ticks) || !fits(v.cumulative) || !fits(v.meter)) return undefined;
  const entries = 4 + (v.ticks !== undefined ? 1 : 0) + (v.meter !== undefined ? 1 : 0) + (v.final ? 1 : 0);
  const size =
    1 +
    2 +
    3 +
    32 +
    1 +
    uintSize(v.seq) +
    1 +
    bigSize(v.cumulative) +
    (v.ticks !== undefined ? 1 + uintSize(v.ticks) : 0) +
    (v.meter !== undefined ? 1 + bigSize(v.meter) : 0) +
    (v.final ? 2 : 0);
  const out = new Uint8Array(size);
  out[0] = 0xa0 | entries;
  out[1] = 0x00;
  out[2] = type;
  out[3] = 0x02;
  out[4] = 0x58;
  out[5] = 0x20;
  out.set(v.channelId, 6);
  out[38] = 0x03;
  let at = writeUint(out, 39, v.seq);
  out[at++] = 0x04;
  at = writeBig(out, at, v.cumulative);
  if (v.ticks !== undefined) {
    out[at++] = 0x05;
    at = writeUint(out, at, v.ticks);
  }
  if (v.meter !== undefined) {
    out[at++] = 0x06;
    at = writeBig(out, at, v.meter);
  }
  if (v.final) {
    out[at++] = 0x07;
    out[at++] = 0xf5;
  }
  return out;
}

/**
 * A voucher or close payload's type and fields, or undefined when `b` is not exactly the canonical layout
 * (the strict general decoder then takes it, and reports what is wrong).
 */
export function fastDecodeVoucher(b: Uint8Array, views = false): { type: number; voucher: Voucher } | undefined {
  const entries = (b[0] as number) - 0xa0;
  if (entries < 4 || entries > 7 || b.length < 41) return undefined;
  const type = b[2];
  if (b[1] !== 0x00 || (type !== 4 && type !== 5) || b[3] !== 0x02 || b[4] !== 0x58 || b[5] !== 0x20 || b[38] !== 0x03) return undefined;
  const seq = readUint(b, 39);
  if (!seq || b[seq[1]] !== 0x04) return undefined;
  const cumulative = readBig(b, seq[1] + 1, MAX_AMOUNT);
  if (!cumulative) return undefined;
  let at = cumulative[1];
  let left = entries - 4;
  let ticks: number | undefined;
  let meter: bigint | undefined;
  let final: boolean | undefined;
  if (left > 0 && b[at] === 0x05) {
    const t = readUint(b, at + 1);
    if (!t) return undefined;
    ticks = t[0];
    at = t[1];
    left--;
  }
  if (left > 0 && b[at] === 0x06) {
    const m = readBig(b, at + 1, MAX_AMOUNT);
    if (!m) return undefined;
    meter = m[0];
    at = m[1];
    left--;
  }
  if (left > 0 && b[at] === 0x07 && b[at + 1] === 0xf5) {
    final = true;
    at += 2;
    left--;
  }
  if (left !== 0 || at !== b.length) return undefined;
  return { type, voucher: { channelId: take(views, b, [6, 38]), seq: seq[0], cumulative: cumulative[0], ticks, meter, final } };
}

/** The largest settlement record a ledger reads. */
export const MAX_SETTLEMENT_BYTES = 64 * 1024;

/**
 * The common record, `{0: 1, 1: open, 2: accept, ? 3: voucher, ? 4: close}` in canonical form, read in
 * place (a ledger reads thousands a second; the frames are views into `bytes`, and each is decoded
 * strictly on its own). Undefined for anything else: the strict general decoder takes it.
 */
export function fastReadSettlement(b: Uint8Array): Map<number, CborValue> | undefined {
  const entries = (b[0] as number) - 0xa0;
  if (entries < 3 || entries > 5 || b.length > MAX_SETTLEMENT_BYTES || b[1] !== 0x00 || b[2] !== 0x01) return undefined;
  const m = new Map<number, CborValue>([[0, 1]]);
  let at = 3;
  for (let key = 1; key < entries; key++) {
    if (b[at] !== key) return undefined;
    const r = readBytes(b, at + 1);
    if (!r) return undefined;
    m.set(key, b.subarray(r[0], r[1]));
    at = r[1];
  }
  return at === b.length ? m : undefined;
}

/** Range `r` of `b`: a copy that owns its memory, as the general decoder's fields do, or with `views` a view. */
const take = (views: boolean, b: Uint8Array, r: readonly [number, number]) => (views ? viewRange : copyRange)(b, r[0], r[1]);

/** A short ASCII text string (printable only; anything else takes the general decoder) at `at`. */
function readAscii(b: Uint8Array, at: number, max: number): [string, number] | undefined {
  const ib = b[at] as number;
  let n: number;
  let start: number;
  if (ib >= 0x60 && ib < 0x78) [n, start] = [ib - 0x60, at + 1];
  else if (ib === 0x78 && (b[at + 1] as number) >= 24) [n, start] = [b[at + 1] as number, at + 2];
  else return undefined;
  if (n > max || start + n > b.length) return undefined;
  let s = '';
  for (let i = start; i < start + n; i++) {
    const c = b[i] as number;
    if (c < 0x20 || c > 0x7e) return undefined;
    s += String.fromCharCode(c);
  }
  return [s, start + n];
}

/**
 * An open payload's terms, or undefined when `b` is not exactly the canonical layout of protocol
 * `version` within the general decoder's bounds (which then takes it and says what is wrong).
 */
export function fastDecodeOpen(b: Uint8Array, version: number, views = false): OpenTerms | undefined {
  const entries = (b[0] as number) - 0xa0;
  if (entries < 9 || entries > 11 || b[1] !== 0x00 || b[2] !== 0x02 || b[3] !== 0x01 || b[4] !== version || b[5] !== 0x02) return undefined;
  const chain = readBytes(b, 6);
  if (!chain || chain[1] - chain[0] > 8 * 1024 || b[chain[1]] !== 0x03 || b[chain[1] + 1] !== 0x58 || b[chain[1] + 2] !== 0x20)
    return undefined;
  let at = chain[1] + 3;
  const payee: [number, number] = [at, at + 32];
  at += 32;
  if (b[at] !== 0x04) return undefined;
  const asset = readAscii(b, at + 1, 32);
  if (!asset || b[asset[1]] !== 0x05) return undefined;
  const cap = readBig(b, asset[1] + 1, MAX_AMOUNT);
  if (!cap || b[cap[1]] !== 0x06) return undefined;
  const unitPrice = readBig(b, cap[1] + 1, MAX_AMOUNT);
  if (!unitPrice || b[unitPrice[1]] !== 0x07) return undefined;
  const expiresAt = readUint(b, unitPrice[1] + 1);
  if (!expiresAt || b[expiresAt[1]] !== 0x08) return undefined;
  const nonce = readBytes(b, expiresAt[1] + 1);
  if (!nonce || nonce[1] - nonce[0] < 8 || nonce[1] - nonce[0] > 32) return undefined;
  at = nonce[1];
  let left = entries - 9;
  let payword: OpenTerms['payword'];
  if (left > 0 && b[at] === 0x09) {
    if (b[at + 1] !== 0xa3 || b[at + 2] !== 0x01 || b[at + 3] !== 0x58 || b[at + 4] !== 0x20 || b[at + 37] !== 0x02) return undefined;
    const root: [number, number] = [at + 5, at + 37];
    const length = readUint(b, at + 38);
    if (!length || length[0] < 1 || length[0] > MAX_CHAIN_LENGTH || b[length[1]] !== 0x03) return undefined;
    const tickValue = readBig(b, length[1] + 1, MAX_AMOUNT);
    if (!tickValue || tickValue[0] < 1n) return undefined;
    payword = { root: take(views, b, root), length: length[0], tickValue: tickValue[0] };
    at = tickValue[1];
    left--;
  }
  let reservation: Uint8Array | undefined;
  if (left > 0 && b[at] === 0x0a) {
    const r = readBytes(b, at + 1);
    if (!r || r[1] - r[0] > 1024) return undefined;
    reservation = take(views, b, r);
    at = r[1];
    left--;
  }
  if (left !== 0 || at !== b.length) return undefined;
  return {
    chain: take(views, b, chain),
    payeeKid: take(views, b, payee),
    asset: asset[0],
    cap: cap[0],
    unitPrice: unitPrice[0],
    expiresAt: expiresAt[0],
    nonce: take(views, b, nonce),
    payword,
    reservation,
  };
}

/** An accept payload's channel id and chain, or undefined when `b` is not exactly the canonical layout. */
export function fastDecodeAccept(b: Uint8Array, views = false): { channelId: Uint8Array; chain: Uint8Array } | undefined {
  if (b[0] !== 0xa3 || b[1] !== 0x00 || b[2] !== 0x03 || b[3] !== 0x02 || b[4] !== 0x58 || b[5] !== 0x20 || b[38] !== 0x03)
    return undefined;
  const chain = readBytes(b, 39);
  if (!chain || chain[1] !== b.length || chain[1] - chain[0] > 8 * 1024) return undefined;
  return { channelId: take(views, b, [6, 38]), chain: take(views, b, chain) };
}
