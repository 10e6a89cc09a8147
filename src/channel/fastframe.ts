/**
 * @module channel/fastframe
 * Ticks and acks are the hot path (one per unit of service), and their layout is fixed:
 *   tick: 84 07 5820 <channel id: 32> <uint index> 5820 <word: 32>
 *   ack:  84 08 5820 <channel id: 32> <uint seq> <uint ticks>
 * These functions write and read exactly the deterministic CBOR the general codec would (a property
 * test checks it byte for byte, both ways), without its general machinery: a tick round trip is a few
 * microseconds, so PayWord's one-hash verification is what bounds it.
 */
const HEAD_TICK = [0x84, 0x07, 0x58, 0x20];
const HEAD_ACK = [0x84, 0x08, 0x58, 0x20];

function uintSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function writeUint(out: Uint8Array, at: number, n: number): number {
  if (n < 24) {
    out[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0x18;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = 0x19;
    out[at + 1] = n >> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x100000000) {
    out[at] = 0x1a;
    new DataView(out.buffer, out.byteOffset).setUint32(at + 1, n);
    return at + 5;
  }
  out[at] = 0x1b;
  new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, BigInt(n));
  return at + 9;
}

/** Reads a shortest-form unsigned integer (safe range); returns [value, next offset] or undefined. */
function readUint(b: Uint8Array, at: number): [number, number] | undefined {
  const ib = b[at];
  if (ib === undefined || ib >> 5 !== 0) return undefined;
  const ai = ib & 31;
  if (ai < 24) return [ai, at + 1];
  const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
  if (size === 0 || at + 1 + size > b.length) return undefined;
  let v = 0;
  for (let i = 1; i <= size; i++) v = v * 256 + (b[at + i] as number);
  const min = size === 1 ? 24 : size === 2 ? 0x100 : size === 4 ? 0x10000 : 0x100000000;
  if (v < min || !Number.isSafeInteger(v)) return undefined;
  return [v, at + 1 + size];
}

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
