/**
 * @module codec/fixed
 * Writers and readers for CBOR items at a known place in a fixed layout: the hot messages (vouchers,
 * ticks, acks, COSE_Sign1, receipts) are written into one buffer and read back without the general
 * codec's machinery. Every writer writes the shortest form, as deterministic encoding requires; every
 * reader accepts only the shortest form and returns undefined for anything else, so that a caller can
 * fall back to the strict general decoder, which then says what is wrong.
 */

/** Bytes the head of an unsigned integer (or any item whose argument is `n`) takes. */
export function uintSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

export function bigSize(n: bigint): number {
  return n < 0x100000000n ? uintSize(Number(n)) : 9;
}

/** Writes the head of major type `major` with argument `n` (a safe integer) at `at`; returns the offset after. */
export function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x100000000) {
    // Byte by byte: a DataView would allocate, and asking a small array for its buffer moves it off the heap.
    out[at] = m | 26;
    out[at + 1] = n >>> 24;
    out[at + 2] = (n >>> 16) & 0xff;
    out[at + 3] = (n >>> 8) & 0xff;
    out[at + 4] = n & 0xff;
    return at + 5;
  }
  out[at] = m | 27;
  new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, BigInt(n));
  return at + 9;
}

/** Writes an unsigned integer. */
export function writeUint(out: Uint8Array, at: number, n: number): number {
  return writeHead(out, at, 0, n);
}

/** Writes an unsigned integer given as a bigint (below 2^64). */
export function writeBig(out: Uint8Array, at: number, n: bigint): number {
  if (n < 0x100000000n) return writeUint(out, at, Number(n));
  out[at] = 0x1b;
  new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, n);
  return at + 9;
}

/** Writes a byte string (head and content). */
export function writeBytes(out: Uint8Array, at: number, b: Uint8Array): number {
  const start = writeHead(out, at, 2, b.length);
  out.set(b, start);
  return start + b.length;
}

/**
 * Reads a shortest-form unsigned integer below 2^32 (what the general decoder gives as a `number`, and
 * so what `asInt` takes); returns [value, next offset] or undefined.
 */
export function readUint(b: Uint8Array, at: number): [number, number] | undefined {
  const ib = b[at];
  if (ib === undefined || ib >> 5 !== 0) return undefined;
  const ai = ib & 31;
  if (ai < 24) return [ai, at + 1];
  const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : 0;
  if (size === 0 || at + 1 + size > b.length) return undefined;
  let v = 0;
  for (let i = 1; i <= size; i++) v = v * 256 + (b[at + i] as number);
  if (v < (size === 1 ? 24 : size === 2 ? 0x100 : 0x10000)) return undefined;
  return [v, at + 1 + size];
}

/** Reads a shortest-form unsigned integer as a bigint up to `max`; [value, next offset] or undefined. */
export function readBig(b: Uint8Array, at: number, max: bigint): [bigint, number] | undefined {
  if (b[at] !== 0x1b) {
    const u = readUint(b, at);
    return u && BigInt(u[0]) <= max ? [BigInt(u[0]), u[1]] : undefined;
  }
  if (at + 9 > b.length) return undefined;
  const n = new DataView(b.buffer, b.byteOffset).getBigUint64(at + 1);
  return n >= 0x100000000n && n <= max ? [n, at + 9] : undefined;
}

/** Reads a shortest-form byte string head at `at`: [start, end) of its content, or undefined. */
export function readBytes(b: Uint8Array, at: number): [number, number] | undefined {
  const ib = b[at];
  if (ib === undefined || ib >> 5 !== 2) return undefined;
  const ai = ib & 31;
  const size = ai < 24 ? 0 : ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : -1;
  if (size < 0 || at + 1 + size > b.length) return undefined;
  let n = ai < 24 ? ai : 0;
  for (let i = 1; i <= size; i++) n = n * 256 + (b[at + i] as number);
  if (size > 0 && n < (size === 1 ? 24 : size === 2 ? 0x100 : 0x10000)) return undefined;
  const start = at + 1 + size;
  return start + n <= b.length ? [start, start + n] : undefined;
}
