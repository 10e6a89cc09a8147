/**
 * Fuzzing every decoder: random bytes, mutations of valid encodings, and mutations of signed
 * messages. The only failure allowed out of a decoder is an EdgepayError; what a decoder accepts must
 * be canonical (it re-encodes to the same bytes); a mutated signed message never verifies.
 * Shared by the fast suite (a few thousand cases) and the slow suite (100,000 per property).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fromBase64Url } from '../../src/base64.js';
import { equalBytes, fromHex } from '../../src/bytes.js';
import { decodeFrame } from '../../src/channel/messages.js';
import { verifyReservation } from '../../src/channel/reservation.js';
import { decodeRecord } from '../../src/channel/store.js';
import { decode, encode, Tagged } from '../../src/codec/cbor.js';
import { coseKeyMap, readCoseKey } from '../../src/codec/cose-key.js';
import { decodeSign1, signSign1, verifySign1 } from '../../src/codec/cose-sign1.js';
import { claimsMap, readClaims } from '../../src/codec/cwt.js';
import { EdgepayError } from '../../src/errors.js';
import { verifyChain } from '../../src/identity/chain.js';
import { readCredentialClaims } from '../../src/identity/claims.js';
import { decodeChain, decodeCredential } from '../../src/identity/credential.js';
import { envelopePublicKey } from '../../src/identity/key-envelope.js';
import { decodeRevocationList, signRevocationList } from '../../src/identity/revocation.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { decodeChainFacts, encodeChainFacts } from '../../src/ledger/chain-facts.js';
import { signReceipt, verifyReceipt, verifyReceipts } from '../../src/settlement/receipt.js';
import { verifySettlement } from '../../src/settlement/verify.js';
import { decodeAnswer } from '../../src/sync/mqtt.js';
import { decodeAdmin, decodeSubmission, signSubmission } from '../../src/sync/submission.js';
import { DAY, T0, world } from '../identity/world.js';
import { cborValue } from './arbitraries.js';
import { PK1, signer1 } from './helpers.js';

/** Runs `f`; true when it returned, false when it threw an EdgepayError; any other throw fails the test. */
async function edgepayOnly(f: () => unknown): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (e) {
    if (!(e instanceof EdgepayError)) throw new Error(`non-EdgepayError escaped: ${String(e)}`, { cause: e });
    expect(typeof e.code).toBe('string');
    return false;
  }
}

const decoders: [string, (b: Uint8Array) => unknown][] = [
  ['decode', (b) => decode(b)],
  ['decodeSign1', (b) => decodeSign1(b)],
  ['readCoseKey', (b) => readCoseKey(decode(b))],
  ['readClaims', (b) => readClaims(decode(b))],
  ['fromBase64Url', (b) => fromBase64Url(new TextDecoder().decode(b))],
  ['fromHex', (b) => fromHex(new TextDecoder().decode(b))],
  ['decodeCredential', (b) => decodeCredential(b)],
  ['decodeChain', (b) => decodeChain(b)],
  ['decodeRevocationList', (b) => decodeRevocationList(b)],
  ['readCredentialClaims', (b) => readCredentialClaims(decode(b))],
  ['envelopePublicKey', (b) => envelopePublicKey(b)],
  ['decodeFrame', (b) => decodeFrame(b)],
  ['decodeRecord', (b) => decodeRecord(b)],
  ['decodeSubmission', (b) => decodeSubmission(b)],
  ['decodeAdmin', (b) => decodeAdmin(b)],
  ['verifyReceipt', (b) => verifyReceipt(b, PK1)],
  [
    'verifyReceipts',
    async (b) => {
      for (const r of await verifyReceipts([b, b], PK1)) if (r instanceof Error) throw r;
    },
  ],
  ['decodeAnswer', (b) => decodeAnswer(b)],
  ['decodeChainFacts', (b) => decodeChainFacts(b)],
  ['verifySettlement', (b) => verifySettlement(b, { trust: new TrustStore([]), now: 0 })],
  [
    'verifyReservation',
    (b) =>
      verifyReservation(b, {
        ledgers: [],
        payerKid: new Uint8Array(32),
        payeeKid: new Uint8Array(32),
        asset: 'EUR',
        cap: 1n,
        channelExpiresAt: 0,
        now: 0,
      }),
  ],
];

/** A byte mutation: flip a bit, set a byte, insert, delete, truncate or duplicate a run. */
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(b: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = b.slice();
  for (const m of ms) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    switch (m.kind) {
      case 'flip':
        if (out.length) out[at]! ^= 1 << m.bit;
        break;
      case 'set':
        if (out.length) out[at] = m.value;
        break;
      case 'insert':
        out = Uint8Array.from([...out.subarray(0, at), m.value, ...out.subarray(at)]);
        break;
      case 'delete':
        out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)]);
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'dup':
        out = Uint8Array.from([...out.subarray(0, at + m.len), ...out.subarray(at, at + m.len), ...out.subarray(at + m.len)]);
        break;
    }
  }
  return out;
}

export function fuzzSuite(runs: number): void {
  it(`random bytes into every decoder: EdgepayError or a value (${runs} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        for (const [, f] of decoders) await edgepayOnly(() => f(bytes));
      }),
      { numRuns: runs },
    );
  });

  it(`mutated valid encodings: rejected with EdgepayError, or canonical (${runs} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(cborValue, fc.array(mutation, { minLength: 1, maxLength: 3 }), async (v, ms) => {
        const bytes = mutate(encode(v), ms);
        let out: unknown;
        if (await edgepayOnly(() => (out = decode(bytes)))) expect(equalBytes(encode(out as never), bytes)).toBe(true);
        for (const [, f] of decoders) await edgepayOnly(() => f(bytes));
      }),
      { numRuns: runs },
    );
  });

  it(`mutated chain facts (what a ledger stores for a verified chain): only EdgepayError, or facts that encode back (${runs} cases)`, async () => {
    const facts = encodeChainFacts({
      partyId: 'party:fleet',
      partyCategory: 'fleet',
      partyKey: PK1,
      partyKid: new Uint8Array(32).fill(1),
      issuerKid: new Uint8Array(32).fill(2),
      deviceCategory: 'drone',
      publicKey: PK1,
      kid: new Uint8Array(32).fill(3),
      limits: { asset: 'EUR', perPayment: 10n, perChannel: 100n, perPeriod: 1000n, periodSeconds: 86_400, totalOutstanding: 500n },
      counterparties: ['charging-pad'],
      paymentRef: 'DE89370400440532013000',
      validUntil: 1_900_000_000,
    });
    expect(encodeChainFacts(decodeChainFacts(facts))).toEqual(facts);
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        const bytes = mutate(facts, ms);
        let out: unknown;
        if (await edgepayOnly(() => (out = decodeChainFacts(bytes)))) expect(encodeChainFacts(out as never)).toEqual(bytes);
      }),
      { numRuns: runs },
    );
  });

  it(`random structures inside tag 18 and as claims: only EdgepayError (${runs} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cborValue, { maxLength: 5 }), cborValue, async (arr, claims) => {
        await edgepayOnly(() => decodeSign1(encode(new Tagged(18, arr))));
        await edgepayOnly(() => readClaims(claims));
        await edgepayOnly(() => readCoseKey(claims));
      }),
      { numRuns: runs },
    );
  });

  it(`mutated credential chains and revocation lists never verify (${Math.ceil(runs / 10)} cases)`, async () => {
    const w = await world();
    const chain = [w.partyCred, w.deviceCred];
    const list = await signRevocationList(w.party, {
      issuer: 'party:fleet',
      version: 2,
      issuedAt: T0,
      entries: [{ kid: new Uint8Array(8).fill(7), revokedAt: T0 }],
    });
    await fc.assert(
      fc.asyncProperty(fc.nat(1), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (which, ms) => {
        const mutated = [...chain];
        mutated[which] = mutate(chain[which] as Uint8Array, ms);
        const ok = await edgepayOnly(() => verifyChain(mutated, { trust: w.trust, now: T0 + DAY }));
        if (ok) expect(equalBytes(mutated[which] as Uint8Array, chain[which] as Uint8Array)).toBe(true);
        const l = mutate(list, ms);
        const applied = await edgepayOnly(() => w.trust.applyRevocationList(l, { partyCredential: w.partyCred }));
        if (applied) expect(equalBytes(l, list)).toBe(true);
      }),
      { numRuns: Math.ceil(runs / 10) },
    );
  });

  it(`mutated submissions and receipts never verify (${Math.ceil(runs / 10)} cases)`, async () => {
    const s = await signer1();
    const w = await world();
    const submission = await signSubmission(s, encode([w.partyCred, w.deviceCred]), [new Uint8Array([1, 2, 3])], T0);
    const receipt = await signReceipt(s, { ledger: 'l', recordId: new Uint8Array(32), status: 'accepted', posted: 5n, time: T0 });
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        const sub = mutate(submission, ms);
        if (await edgepayOnly(async () => verifySign1(decodeSubmission(sub).sign1, PK1))) expect(equalBytes(sub, submission)).toBe(true);
        const r = mutate(receipt, ms);
        if (await edgepayOnly(() => verifyReceipt(r, PK1))) expect(equalBytes(r, receipt)).toBe(true);
      }),
      { numRuns: Math.ceil(runs / 10) },
    );
  });

  it(`mutated signed CWTs never verify (${runs} cases)`, async () => {
    const s = await signer1();
    const valid = await signSign1(encode(claimsMap({ iss: 'network', sub: 'device-9', exp: 2_000_000_000, cnf: { publicKey: PK1 } })), s);
    const key = encode(coseKeyMap(PK1));
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        const bytes = mutate(valid, ms);
        const verified = await edgepayOnly(async () => verifySign1(decodeSign1(bytes), PK1));
        if (verified) expect(equalBytes(bytes, valid)).toBe(true); // only a no-op mutation may verify
        await edgepayOnly(() => readCoseKey(decode(mutate(key, ms))));
      }),
      { numRuns: runs },
    );
  });
}
