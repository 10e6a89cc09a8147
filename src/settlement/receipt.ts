/**
 * @module settlement/receipt
 * Ledger-signed receipts, one per settlement record: accepted (with the amount posted), rejected (with
 * its code), disputed, or duplicate (valid, but nothing new). A device removes a record from its outbox
 * only on a valid receipt.
 *
 * The ledger signs once per batch, not once per record: the batch's results are the leaves of a Merkle
 * tree (RFC 9162 hashing), the ledger signs its root, and each record's receipt carries its leaf, the
 * audit path and the signed root. Verifying a batch's receipts costs one signature check and a few hashes
 * each (the signed root is cached). A ledger stores the root once and each record's result and index:
 * that rebuilds every receipt of the batch exactly ({@link rebuildReceipts}).
 *
 * ```
 * receipt = [ leaf: bstr, index: uint, path: [* bstr .size 32], root: bstr ]
 * leaf    = { 2 recordId: bstr .size 32, 3 status: 1 accepted | 2 rejected | 3 disputed | 4 duplicate,
 *             4 posted: uint, ? 5 code: tstr }
 * root    = COSE_Sign1, protected { 1: -8, 3: "application/edgepay-receipt+cbor", 4: ledger kid }
 *           payload { 1 ledger: tstr, 6 time: uint, 7 root: bstr .size 32, 8 count: uint }
 * leaf hash = SHA-256(0x00 || leaf); node hash = SHA-256(0x01 || left || right)
 * ```
 */
import { BoundedMap } from '../bounded.js';
import { equalBytes, sameBytes, toHex } from '../bytes.js';
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { decodeSign1, signSign1, verifySign1 } from '../codec/cose-sign1.js';
import { asAmount, asArray, asBytes, asInt, asMap, asText, asTime, asUint, need } from '../codec/fields.js';
import { bigSize, readBytes, readUint, uintSize, writeBig, writeBytes, writeHead, writeUint } from '../codec/fixed.js';
import type { Signer } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/hash.js';
import { EdgepayError, LedgerError } from '../errors.js';

export const RECEIPT_CONTENT_TYPE = 'application/edgepay-receipt+cbor';

/** `duplicate`: valid, but the channel already had this state (or a newer one) applied: nothing moved. */
export type ReceiptStatus = 'accepted' | 'rejected' | 'disputed' | 'duplicate';
const STATUS: ReceiptStatus[] = ['accepted', 'rejected', 'disputed', 'duplicate'];

/**
 * The ledger's signed answer for one settlement record: accepted, rejected, disputed or duplicate, what it
 * posted, and why.
 */
export interface Receipt {
  ledger: string;
  recordId: Uint8Array;
  status: ReceiptStatus;
  /** Minor units this record moved (its increase over what the channel already had applied). */
  posted: bigint;
  code?: string | undefined;
  time: number;
}

export type ReceiptResult = Pick<Receipt, 'recordId' | 'status' | 'posted' | 'code'>;

// RFC 9162 hashes `0x00 || leaf` and `0x01 || left || right`: written into one scratch buffer (the hash
// copies its input out), not two fresh arrays for each of the 2n - 1 hashes of a batch's tree.
let scratch = new Uint8Array(128);
const prefixed = (prefix: number, a: Uint8Array, b?: Uint8Array) => {
  const n = 1 + a.length + (b?.length ?? 0);
  if (n > scratch.length) scratch = new Uint8Array(2 * n);
  scratch[0] = prefix;
  scratch.set(a, 1);
  if (b) scratch.set(b, 1 + a.length);
  return sha256(scratch.subarray(0, n));
};
const leafHash = (leaf: Uint8Array) => prefixed(0, leaf);
const nodeHash = (l: Uint8Array, r: Uint8Array) => prefixed(1, l, r);

/** The largest power of two below `n` (n > 1). */
const split = (n: number) => 2 ** Math.floor(Math.log2(n - 1));

/**
 * The RFC 9162 tree hash of `h[lo, hi)`, appending to each leaf's audit path (RFC 9162 §2.1.3.1) on the
 * way: n - 1 hashes for the whole tree, not a subtree hash per leaf.
 */
function build(h: readonly Uint8Array[], lo: number, hi: number, paths: Uint8Array[][]): Uint8Array {
  if (hi - lo === 1) return h[lo] as Uint8Array;
  const k = split(hi - lo);
  const left = build(h, lo, lo + k, paths);
  const right = build(h, lo + k, hi, paths);
  for (let i = lo; i < lo + k; i++) (paths[i] as Uint8Array[]).push(right);
  for (let i = lo + k; i < hi; i++) (paths[i] as Uint8Array[]).push(left);
  return nodeHash(left, right);
}

/** RFC 9162 §2.1.3.2: the root a leaf hash and its audit path lead to, or undefined when they cannot fit. */
function rootFromPath(index: number, size: number, leaf: Uint8Array, path: readonly Uint8Array[]): Uint8Array | undefined {
  if (!(index >= 0 && index < size)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else r = nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

const utf8 = new TextEncoder();

// Leaves and receipts are written once per record, in their fixed layout (the same bytes the general
// encoder writes: a test checks): a batch of 1,000 records otherwise spends more on them than on its root.
function encodeLeaf(r: ReceiptResult): Uint8Array {
  const code = r.code ? utf8.encode(r.code) : undefined;
  const out = new Uint8Array(1 + 3 + r.recordId.length + 2 + 1 + bigSize(r.posted) + (code ? 1 + uintSize(code.length) + code.length : 0));
  out[0] = code ? 0xa4 : 0xa3;
  out[1] = 0x02;
  let at = writeBytes(out, 2, r.recordId);
  out[at++] = 0x03;
  out[at++] = STATUS.indexOf(r.status) + 1;
  out[at++] = 0x04;
  at = writeBig(out, at, r.posted);
  if (code) {
    out[at++] = 0x05;
    at = writeHead(out, at, 3, code.length);
    out.set(code, at);
  }
  return out;
}

/** `[leaf, index, path, root]`. */
function encodeReceipt(leaf: Uint8Array, index: number, path: readonly Uint8Array[], root: Uint8Array): Uint8Array {
  let size = 1 + uintSize(leaf.length) + leaf.length + uintSize(index) + uintSize(path.length) + uintSize(root.length) + root.length;
  for (const p of path) size += uintSize(p.length) + p.length;
  const out = new Uint8Array(size);
  out[0] = 0x84;
  let at = writeBytes(out, 1, leaf);
  at = writeUint(out, at, index);
  at = writeHead(out, at, 4, path.length);
  for (const p of path) at = writeBytes(out, at, p);
  writeBytes(out, at, root);
  return out;
}

/** The leaves of a batch, and each leaf's audit path and the tree's root hash. */
function tree(results: readonly ReceiptResult[]): { leaves: Uint8Array[]; paths: Uint8Array[][]; hash: Uint8Array } {
  const leaves = results.map(encodeLeaf);
  const paths: Uint8Array[][] = leaves.map(() => []);
  return { leaves, paths, hash: build(leaves.map(leafHash), 0, leaves.length, paths) };
}

/**
 * Signs one batch's results: one signature, one receipt per result, in order. `root` is the signed root
 * the receipts share: with the results, all a ledger needs to store to give the same receipts again
 * ({@link rebuildReceipts}).
 */
export async function signReceiptBatch(
  ledger: Signer,
  id: string,
  time: number,
  results: readonly ReceiptResult[],
): Promise<{ root: Uint8Array; receipts: Uint8Array[] }> {
  if (results.length === 0) return { root: new Uint8Array(0), receipts: [] };
  const { leaves, paths, hash } = tree(results);
  const payload = new Map<number, CborValue>([
    [1, id],
    [6, time],
    [7, hash],
    [8, results.length],
  ]);
  const root = await signSign1(encode(payload), ledger, { kid: coseKeyThumbprint(ledger.publicKey), contentType: RECEIPT_CONTENT_TYPE });
  return { root, receipts: leaves.map((leaf, i) => encodeReceipt(leaf, i, paths[i] as Uint8Array[], root)) };
}

/** Signs one batch's results: one signature, one receipt per result, in order. */
export async function signReceipts(ledger: Signer, id: string, time: number, results: readonly ReceiptResult[]): Promise<Uint8Array[]> {
  return (await signReceiptBatch(ledger, id, time, results)).receipts;
}

/** The receipts {@link signReceiptBatch} gave for `results` (the whole batch, in order) under `root`, byte for byte. */
export function rebuildReceipts(root: Uint8Array, results: readonly ReceiptResult[]): Uint8Array[] {
  const { leaves, paths } = tree(results);
  return leaves.map((leaf, i) => encodeReceipt(leaf, i, paths[i] as Uint8Array[], root));
}

/** One receipt on its own (a batch of one). */
export async function signReceipt(ledger: Signer, r: Receipt): Promise<Uint8Array> {
  return (await signReceipts(ledger, r.ledger, r.time, [r]))[0] as Uint8Array;
}

/** Signed roots already verified, by root bytes and key: a batch's receipts share one. */
const verifiedRoots = new BoundedMap<string, Map<number, CborValue>>(256);

/** A receipt's four parts; the byte strings may be views into the receipt. */
interface Parts {
  leaf: Uint8Array;
  index: number;
  path: Uint8Array[];
  root: Uint8Array;
}

/**
 * A receipt in the fixed layout a ledger writes, read in place; undefined for anything else, which the
 * general decoder then reads (and says what is wrong with).
 */
function fastParts(b: Uint8Array): Parts | undefined {
  if (b[0] !== 0x84 || b.length > 16 * 1024) return undefined;
  const leaf = readBytes(b, 1);
  if (!leaf || leaf[1] - leaf[0] > 1024) return undefined;
  const index = readUint(b, leaf[1]);
  if (!index) return undefined;
  const n = (b[index[1]] as number) - 0x80; // a path is at most a few dozen hashes: a one-byte array head
  if (!(n >= 0 && n < 24)) return undefined;
  const path: Uint8Array[] = [];
  let at = index[1] + 1;
  for (let k = 0; k < n; k++) {
    if (b[at] !== 0x58 || b[at + 1] !== 32 || at + 34 > b.length) return undefined;
    path.push(b.subarray(at + 2, at + 34));
    at += 34;
  }
  const root = readBytes(b, at);
  if (!root || root[1] !== b.length || root[1] - root[0] > 1024) return undefined;
  return { leaf: b.subarray(leaf[0], leaf[1]), index: index[0], path, root: b.subarray(root[0], root[1]) };
}

function parts(bytes: Uint8Array): Parts {
  const fast = fastParts(bytes);
  if (fast) return fast;
  const [leafV, indexV, pathV, rootV] = asArray(decode(bytes, { maxBytes: 16 * 1024, maxDepth: 3, tags: [] }), 'receipt', 4);
  return {
    leaf: asBytes(leafV, 'receipt.leaf', { max: 1024 }),
    index: asUint(indexV, 'receipt.index'),
    path: asArray(pathV, 'receipt.path').map((p, i) => asBytes(p, `receipt.path[${i}]`, 32)),
    root: asBytes(rootV, 'receipt.root', { max: 1024 }),
  };
}

/** The payload of a signed root, once its signature verified under `ledgerKey` (remembered). */
async function signedRoot(rootBytes: Uint8Array, ledgerKey: Uint8Array): Promise<Map<number, CborValue>> {
  const cacheKey = `${toHex(sha256(rootBytes))}:${toHex(ledgerKey)}`;
  let payload = verifiedRoots.get(cacheKey);
  if (!payload) {
    const s = decodeSign1(rootBytes);
    if (s.contentType !== RECEIPT_CONTENT_TYPE || s.payload === null)
      throw new LedgerError('LEDGER_RECEIPT', 'not a receipt', 'receipt.root');
    await verifySign1(s, ledgerKey);
    payload = asMap(decode(s.payload), 'receipt.root') as Map<number, CborValue>;
    verifiedRoots.set(cacheKey, payload);
  }
  return payload;
}

const rootHash = (payload: Map<number, CborValue>) => asBytes(need(payload, 7, 'receipt.root.root'), 'receipt.root.root', 32);
const rootCount = (payload: Map<number, CborValue>) => asUint(need(payload, 8, 'receipt.root.count'), 'receipt.root.count');
const badPath = () => new LedgerError('LEDGER_RECEIPT', 'the audit path does not lead to the signed root', 'receipt.path');

/** The receipt a verified leaf says, under its verified root's payload. */
function receiptOf(leaf: Uint8Array, payload: Map<number, CborValue>): Receipt {
  const m = asMap(decode(leaf), 'receipt.leaf');
  const status = STATUS[asInt(need(m, 3, 'receipt.status'), 'receipt.status') - 1];
  if (!status) throw new LedgerError('LEDGER_RECEIPT', 'unknown status', 'receipt.status');
  return {
    ledger: asText(need(payload, 1, 'receipt.ledger'), 'receipt.ledger'),
    recordId: asBytes(need(m, 2, 'receipt.record'), 'receipt.record', 32),
    status,
    posted: asAmount(need(m, 4, 'receipt.posted'), 'receipt.posted'),
    code: m.has(5) ? asText(m.get(5), 'receipt.code') : undefined,
    time: asTime(need(payload, 6, 'receipt.time'), 'receipt.time'),
  };
}

/**
 * Verifies a receipt under the ledger's key.
 * @throws LedgerError LEDGER_RECEIPT when it is not a receipt or its path does not lead to the signed
 *   root; CoseError COSE_SIGNATURE; CodecError for malformed input.
 */
export async function verifyReceipt(bytes: Uint8Array, ledgerKey: Uint8Array): Promise<Receipt> {
  const p = parts(bytes);
  const payload = await signedRoot(p.root, ledgerKey);
  const computed = rootFromPath(p.index, rootCount(payload), leafHash(p.leaf), p.path);
  if (!computed || !equalBytes(computed, rootHash(payload))) throw badPath();
  return receiptOf(p.leaf, payload);
}

/**
 * Verifies many receipts under the ledger's key: per receipt, what {@link verifyReceipt} returns, or the
 * EdgepayError it throws. A run of receipts that holds a whole batch in order (indexes 0 to n - 1 under one
 * signed root: a ledger's answer to a submission of new records) is checked by building its tree once,
 * two hashes a receipt, and each audit path is compared with the tree's; any other receipt, one at a time.
 */
export async function verifyReceipts(list: readonly Uint8Array[], ledgerKey: Uint8Array): Promise<(Receipt | EdgepayError)[]> {
  const out: (Receipt | EdgepayError)[] = [];
  const one = (b: Uint8Array) =>
    verifyReceipt(b, ledgerKey).catch((e) => {
      if (e instanceof EdgepayError) return e;
      throw e;
    });
  const parsed = list.map((b) => fastParts(b));
  for (let i = 0; i < list.length; ) {
    const first = parsed[i];
    let j = i + 1;
    if (first?.index === 0) for (let q = parsed[j]; q && q.index === j - i && sameBytes(q.root, first.root); q = parsed[j]) j++;
    const run = parsed.slice(i, j) as Parts[];
    if (j - i > 1 && (await wholeBatch(run, ledgerKey, out))) {
      i = j;
      continue;
    }
    out.push(await one(list[i] as Uint8Array));
    i++;
  }
  return out;
}

/** Appends the receipts of `run` (a whole batch, in order) and returns true; false when it is not one. */
async function wholeBatch(run: Parts[], ledgerKey: Uint8Array, out: (Receipt | EdgepayError)[]): Promise<boolean> {
  let payload: Map<number, CborValue>;
  let signed: Uint8Array;
  try {
    payload = await signedRoot((run[0] as Parts).root, ledgerKey);
    signed = rootHash(payload);
    if (rootCount(payload) !== run.length) return false;
  } catch {
    return false; // each receipt, one at a time, says why
  }
  const paths: Uint8Array[][] = run.map(() => []);
  const built = build(
    run.map((p) => leafHash(p.leaf)),
    0,
    run.length,
    paths,
  );
  if (!equalBytes(built, signed)) return false;
  for (const [k, p] of run.entries()) {
    const want = paths[k] as Uint8Array[];
    try {
      if (p.path.length !== want.length || !p.path.every((h, d) => sameBytes(h, want[d] as Uint8Array))) throw badPath();
      out.push(receiptOf(p.leaf, payload));
    } catch (e) {
      if (!(e instanceof EdgepayError)) throw e;
      out.push(e);
    }
  }
  return true;
}
