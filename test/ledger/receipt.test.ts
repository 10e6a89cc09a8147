/** Batch-signed receipts: one signature per batch, an RFC 9162 audit path per record. */
import { createHash } from 'node:crypto';
import * as cborx from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CborValue, decode, encode } from '../../src/codec/cbor.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { signSign1 } from '../../src/codec/cose-sign1.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { inlineVerifier, workerVerifier } from '../../src/crypto/workers.js';
import { EdgepayError } from '../../src/errors.js';
import {
  RECEIPT_CONTENT_TYPE,
  rebuildReceipts,
  signReceiptBatch,
  signReceipts,
  verifyReceipt,
  verifyReceipts,
} from '../../src/settlement/receipt.js';
import { codeOf } from '../codes.js';

const key = () => nodeEd25519.signer(new Uint8Array(32).fill(42));
const result = (i: number) => ({
  recordId: new Uint8Array(32).fill(i % 256),
  status: (i % 5 === 0 ? 'rejected' : 'accepted') as 'rejected' | 'accepted',
  posted: BigInt(i * 3),
  code: i % 5 === 0 ? 'LEDGER_FUNDS' : undefined,
});

describe('receipts', () => {
  it('every receipt of every batch size verifies, and says what its record got', async () => {
    const k = await key();
    for (const n of [1, 2, 3, 5, 7, 8, 9, 16, 17, 100, 1000]) {
      const results = Array.from({ length: n }, (_, i) => result(i));
      const receipts = await signReceipts(k, 'ledger:t', 1000, results);
      for (let i = 0; i < n; i++) {
        const r = await verifyReceipt(receipts[i] as Uint8Array, k.publicKey);
        expect(r).toEqual({ ledger: 'ledger:t', time: 1000, ...results[i] });
      }
    }
  });

  it('the signed root is the RFC 9162 tree hash of the leaves, computed here from the RFC with node:crypto', async () => {
    const h = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
    // RFC 9162 §2.1.1: MTH({d0}) = SHA-256(0x00 || d0); MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),
    // k the largest power of two smaller than n.
    const mth = (d: Uint8Array[]): Uint8Array => {
      if (d.length === 1) return h(Uint8Array.of(0), d[0] as Uint8Array);
      let k = 1;
      while (k * 2 < d.length) k *= 2;
      return h(Uint8Array.of(1), mth(d.slice(0, k)), mth(d.slice(k)));
    };
    const k = await key();
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 13, 100, 1000]) {
      const { root, receipts } = await signReceiptBatch(
        k,
        'ledger:t',
        1000,
        Array.from({ length: n }, (_, i) => result(i)),
      );
      const leaves = receipts.map((r) => cborx.decode(r)[0] as Uint8Array);
      const sign1 = cborx.decode(root) as { value: [Uint8Array, unknown, Uint8Array, Uint8Array] };
      const payload = cborx.decode(sign1.value[2]) as Record<number, unknown>;
      expect(new Uint8Array(payload[7] as Uint8Array)).toEqual(mth(leaves));
      expect(payload[8]).toBe(n);
    }
  });

  it('the receipts of a batch are rebuilt byte for byte from its signed root and its results', async () => {
    const k = await key();
    for (const n of [1, 2, 3, 7, 64, 1000]) {
      const results = Array.from({ length: n }, (_, i) => result(i));
      const { root, receipts } = await signReceiptBatch(k, 'ledger:t', 1000, results);
      expect(rebuildReceipts(root, results)).toEqual(receipts);
    }
  });

  it('receipts and their leaves are deterministic CBOR exactly as the general encoder writes them', async () => {
    const k = await key();
    const results = Array.from({ length: 300 }, (_, i) => ({
      ...result(i),
      posted: i % 7 === 0 ? 2n ** 63n - 1n - BigInt(i) : BigInt(i) * 70_001n,
      code: i % 5 === 0 ? (i % 2 ? 'LEDGER_FUNDS' : 'ÉCHEC_é') : undefined,
    }));
    const receipts = await signReceipts(k, 'ledger:t', 1000, results);
    receipts.forEach((r, i) => {
      const [leaf, index, path, root] = decode(r) as [Uint8Array, number, Uint8Array[], Uint8Array];
      expect(encode([leaf, index, path, root])).toEqual(r);
      const m = new Map<number, unknown>([
        [2, results[i]?.recordId],
        [3, results[i]?.status === 'accepted' ? 1 : 2],
        [4, results[i]?.posted],
      ]);
      if (results[i]?.code) m.set(5, results[i]?.code);
      expect(leaf).toEqual(encode(m as Parameters<typeof encode>[0]));
    });
  });

  it('a receipt whose leaf, index or path is changed, or under another key, does not verify', async () => {
    const k = await key();
    const other = await nodeEd25519.signer(new Uint8Array(32).fill(43));
    const receipts = await signReceipts(
      k,
      'ledger:t',
      1000,
      Array.from({ length: 13 }, (_, i) => result(i)),
    );
    const [leaf, index, path, root] = decode(receipts[6] as Uint8Array) as [Uint8Array, number, Uint8Array[], Uint8Array];
    const [otherLeaf] = decode(receipts[7] as Uint8Array) as [Uint8Array];
    const forged = [
      encode([otherLeaf, index, path, root]),
      encode([leaf, index + 1, path, root]),
      encode([leaf, index, path.slice(1), root]),
      encode([leaf, index, [...path].reverse(), root]),
      encode([leaf, 20, path, root]),
    ];
    // A batch of one has an empty path: its only index is 0 (the slow fuzz found -1 passing).
    const [single] = await signReceipts(k, 'ledger:t', 1000, [result(1)]);
    const [l1, , p1, r1] = decode(single as Uint8Array) as [Uint8Array, number, Uint8Array[], Uint8Array];
    for (const i of [1, 2]) expect(await codeOf(verifyReceipt(encode([l1, i, p1, r1]), k.publicKey))).toBe('LEDGER_RECEIPT');
    // A negative index is not a counter at all (docs/wire-format.md, ranges).
    for (const [l, p, r] of [
      [l1, p1, r1],
      [leaf, path, root],
    ] as const)
      expect(await codeOf(verifyReceipt(encode([l, -1, p, r]), k.publicKey))).toBe('FIELD_RANGE');
    for (const f of forged) expect(await codeOf(verifyReceipt(f, k.publicKey))).toBe('LEDGER_RECEIPT');
    expect(await codeOf(verifyReceipt(receipts[6] as Uint8Array, other.publicKey))).toBe('COSE_SIGNATURE');
  });
});

describe('receipts verified many at once', () => {
  /** What verifyReceipt says of each: the receipt, or the code it fails with. */
  const oneByOne = async (list: Uint8Array[], pk: Uint8Array) =>
    Promise.all(list.map((r) => verifyReceipt(r, pk).catch((e: EdgepayError) => e.code)));
  const asOne = (rs: unknown[]) => rs.map((r) => (r instanceof EdgepayError ? r.code : r));

  it('a whole batch (the tree built once) gives what each receipt gives on its own, at every size', async () => {
    const k = await key();
    for (const n of [1, 2, 3, 5, 8, 9, 100, 1000]) {
      const receipts = await signReceipts(
        k,
        'ledger:t',
        1000,
        Array.from({ length: n }, (_, i) => result(i)),
      );
      expect(asOne(await verifyReceipts(receipts, k.publicKey))).toEqual(await oneByOne(receipts, k.publicKey));
    }
    // A signed root whose payload lacks its tree hash: each receipt gets its error, nothing is thrown.
    const [leaf, , path] = decode((await signReceipts(k, 'ledger:t', 1000, [result(0), result(1)]))[0] as Uint8Array) as [
      Uint8Array,
      number,
      Uint8Array[],
    ];
    const root = await signSign1(
      encode(
        new Map<number, CborValue>([
          [1, 'ledger:t'],
          [6, 1000],
          [8, 2],
        ]),
      ),
      k,
      {
        kid: coseKeyThumbprint(k.publicKey),
        contentType: RECEIPT_CONTENT_TYPE,
      },
    );
    const bad = [encode([leaf, 0, path, root]), encode([leaf, 1, path, root])];
    const codes = asOne(await verifyReceipts(bad, k.publicKey));
    expect(codes).toEqual(await oneByOne(bad, k.publicKey));
    expect(codes).toEqual(['FIELD_MISSING', 'FIELD_MISSING']);
  });

  it('agrees with verifyReceipt, receipt for receipt, on batches mixed, reordered, cut, repeated and forged', async () => {
    const k = await key();
    const other = await nodeEd25519.signer(new Uint8Array(32).fill(43));
    const a = await signReceipts(
      k,
      'ledger:a',
      1000,
      Array.from({ length: 13 }, (_, i) => result(i)),
    );
    const b = await signReceipts(
      k,
      'ledger:b',
      2000,
      Array.from({ length: 8 }, (_, i) => result(i + 50)),
    );
    const c = await signReceipts(
      other,
      'ledger:c',
      3000,
      Array.from({ length: 5 }, (_, i) => result(i)),
    );
    // Forgeries of receipt 4 of `a`: another leaf, another index, a path cut or reversed, a path of another
    // receipt, the general encoder's copy (same bytes), one byte flipped anywhere.
    const [leaf, index, path, root] = decode(a[4] as Uint8Array) as [Uint8Array, number, Uint8Array[], Uint8Array];
    const [leaf5, , path5] = decode(a[5] as Uint8Array) as [Uint8Array, number, Uint8Array[]];
    const forged = [
      encode([leaf5, index, path, root]),
      encode([leaf, index + 1, path, root]),
      encode([leaf, index, path.slice(1), root]),
      encode([leaf, index, [...path].reverse(), root]),
      encode([leaf, index, path5, root]),
      encode([leaf, index, path, root]),
    ];
    const pool = [...a, ...b, ...c, ...forged];
    const flip = (r: Uint8Array, at: number) => {
      const x = new Uint8Array(r);
      x[at % x.length] = (x[at % x.length] as number) ^ 0x01;
      return x;
    };
    const list = fc.oneof(
      // Whole batches with some receipts replaced.
      fc.tuple(fc.constantFrom(a, b, c), fc.array(fc.tuple(fc.nat(20), fc.nat(pool.length - 1)), { maxLength: 3 })).map(([batch, subs]) => {
        const l = [...batch];
        for (const [at, from] of subs) l[at % l.length] = pool[from] as Uint8Array;
        return l;
      }),
      // Batches one after the other, one of them with a byte flipped.
      fc.tuple(fc.nat(40), fc.nat(5000)).map(([at, byte]) => [...a, ...b].map((r, i) => (i === at ? flip(r, byte) : r))),
      // Anything from the pool, in any order.
      fc.array(fc.nat(pool.length - 1), { maxLength: 30 }).map((ix) => ix.map((i) => pool[i] as Uint8Array)),
    );
    await fc.assert(
      fc.asyncProperty(list, async (l) => {
        expect(asOne(await verifyReceipts(l, k.publicKey))).toEqual(await oneByOne(l, k.publicKey));
      }),
      { numRuns: 300 },
    );
  });
});

describe('signature checks on worker threads', () => {
  it('agree with the inline verifier on good and bad signatures, in order', async () => {
    const k = await key();
    const items = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        // Messages of every length (the batch travels packed in one buffer), keys and signatures of wrong sizes.
        const message = new Uint8Array((i * 7) % 301).map((_, j) => (i + j) & 255);
        const signature = await k.sign(message);
        if (i % 7 === 3) signature[5]! ^= 1;
        const publicKey = i % 11 === 5 ? new Uint8Array(32).fill(1) : i % 13 === 4 ? k.publicKey.subarray(0, 31) : k.publicKey;
        return { publicKey, message, signature: i % 17 === 2 ? signature.subarray(0, 63) : signature };
      }),
    );
    const pool = workerVerifier({ threads: 2 });
    try {
      const got = await pool.verifyMany(items);
      expect(got).toEqual(await inlineVerifier.verifyMany(items));
      expect(got.filter((x) => !x).length).toBeGreaterThan(40);
      expect(await pool.verifyMany(items.slice(0, 3))).toEqual(got.slice(0, 3));
    } finally {
      await pool.close();
    }
  });
});
