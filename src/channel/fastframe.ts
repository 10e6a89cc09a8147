/**
 * @module channel/fastframe
 * Ticks and acks are the hot path (one per unit of service), and their layout is fixed:
 *   tick: 84 07 5820 <channel id: 32> <uint index> 5820 <word: 32>
 *   ack:  84 08 5820 <channel id: 32> <uint seq> <uint ticks>
 * and so is the payload of a voucher (and of a close), the one signed message of every payment:
 *   {0: type, 2: channel id, 3: seq, 4: cumulative, ?5: ticks, ?6: meter, ?7: true}
 * and so is the settlement record a ledger reads thousands of a second:
 *   {0: 1, 1: open, 2: accept, ? 3: voucher, ? 4: close}
 * These functions write and read exactly the deterministic CBOR the general codec would (a property
 * test checks it byte for byte, both ways), without its general machinery: a tick round trip is a few
 * microseconds, so PayWord's one-hash verification is what bounds it, and a voucher's signature is most
 * of what a payment costs.
 */
import type { CborValue } from '../codec/cbor.js';
import { bigSize, readBig, readBytes, readUint, uintSize, writeBig, writeUint } from '../codec/fixed.js';
import type { Voucher } from './messages.js';

const HEAD_TICK = [0x84, 0x07, 0x58, 0x20];
const HEAD_ACK = [0x84, 0x08, 0x58, 0x20];

export function fastEncodeTick(channelId: Uint8Array, index: number, word: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 32 + uintSize(index) + 2 + 32);
  out.set(HEAD_TICK, 0);
  out.set(channelId, 4);
  let at = writeUint(out, 36, index);
  out[at++] = 0x58;
  out[at++] = 0x20;
  out.set(word, at);
  return out;
}

export function fastEncodeAck(channelId: Uint8Array, seq: number, ticks: number): Uint8Array {
  const out = new Uint8Array(4 + 32 + uintSize(seq) + uintSize(ticks));
  out.set(HEAD_ACK, 0);
  out.set(channelId, 4);
  writeUint(out, writeUint(out, 36, seq), ticks);
  return out;
}

function head(b: Uint8Array, h: readonly number[]): boolean {
  return b.length >= 36 && b[0] === h[0] && b[1] === h[1] && b[2] === h[2] && b[3] === h[3];
}

/** A tick frame's fields, or undefined when `b` is not exactly a canonical tick (use the general decoder). */
export function fastDecodeTick(b: Uint8Array): { channelId: Uint8Array; index: number; word: Uint8Array } | undefined {
  if (!head(b, HEAD_TICK)) return undefined;
  const u = readUint(b, 36);
  if (!u || b.length !== u[1] + 34 || b[u[1]] !== 0x58 || b[u[1] + 1] !== 0x20) return undefined;
  return { channelId: new Uint8Array(b.subarray(4, 36)), index: u[0], word: new Uint8Array(b.subarray(u[1] + 2)) };
}

/** An ack frame's fields, or undefined when `b` is not exactly a canonical ack. */
export function fastDecodeAck(b: Uint8Array): { channelId: Uint8Array; seq: number; ticks: number } | undefined {
  if (!head(b, HEAD_ACK)) return undefined;
  const s = readUint(b, 36);
  const t = s && readUint(b, s[1]);
  if (!s || !t || t[1] !== b.length) return undefined;
  return { channelId: new Uint8Array(b.subarray(4, 36)), seq: s[0], ticks: t[0] };
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
export function fastDecodeVoucher(b: Uint8Array): { type: number; voucher: Voucher } | undefined {
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
  return { type, voucher: { channelId: new Uint8Array(b.subarray(6, 38)), seq: seq[0], cumulative: cumulative[0], ticks, meter, final } };
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
