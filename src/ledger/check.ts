/**
 * @module ledger/check
 * The check stage of a submission: every new record read (its chains looked up in the store with one
 * query), checked for everything but its signatures and tick (`checkSettlement`: a read and a comparison),
 * its signatures verified in one batch on the verifier's threads, and its tick hashed there too, only
 * once the signatures binding its chain verified. Each stage is charged to the submitter's budget before
 * its work is done. A record that fails gets its refusal; the others go on.
 */
import { MAX_SETTLEMENT_BYTES } from '../channel/fastframe.js';
import type { TickProof } from '../channel/hashchain.js';
import type { BatchVerifier } from '../crypto/workers.js';
import { ChannelError, CoseError, EdgepayError, LedgerError } from '../errors.js';
import type { ChainFacts } from '../identity/chain.js';
import type { TrustStore } from '../identity/trust-store.js';
import { readSettlement, type SettlementFrames } from '../settlement/record.js';
import { checkSettlement, type SignatureCheck } from '../settlement/verify.js';
import { type Settled, settled } from './apply.js';
import type { ChainCache } from './chain-cache.js';
import { decodeChainFacts, encodeChainFacts } from './chain-facts.js';
import type { Db } from './db.js';
import type { Logger } from './log.js';
import { KNOWN_CHAINS, STORED_CHAINS } from './sql.js';

/** The work a submission asks of the ledger, known before its signatures are checked (see {@link SubmitOptions}). */
export interface SubmitCost {
  /** New records (not seen before). */
  records: number;
  /** Signature checks. */
  signatures: number;
  /** SHA-256 steps its ticks need. */
  hashSteps: number;
}

export interface SubmitOptions {
  /**
   * Called with what the new records will cost before the work is done: once they have been read and
   * checked (cheaply), with their records and signatures; again once their signatures verified, with the
   * hashing their ticks need (only records whose signatures verified are hashed, and charged for it). Throw
   * (a LedgerError LEDGER_RATE, say) to refuse the submission.
   */
  budget?: (cost: SubmitCost) => void;
}

/** What the check stage works with: the ledger's store, trust, chain cache and verifier. */
export interface CheckContext {
  db: Db;
  trust: TrustStore;
  chains: ChainCache;
  verifier: BatchVerifier;
  now: () => number;
  settlementWindowSeconds: number;
  log: Logger;
}

/** Per record: what it settles, why it is refused, or nothing (seen before, or again in this batch). */
export type Checked = Settled | EdgepayError | undefined;

/** Resolves after pending I/O callbacks have run (a macrotask: awaiting a resolved promise would not let them in). */
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The records copied into one buffer, as views: what is checked is what is applied, whatever the caller does
 * with its buffers meanwhile. One allocation a batch, not one a record kept alive until the batch is applied.
 * Records too large to be settlement records are left as they are (refused unread).
 */
export function ownCopy(records: readonly Uint8Array[]): Uint8Array[] {
  let size = 0;
  for (const r of records) if (r.length <= MAX_SETTLEMENT_BYTES) size += r.length;
  const buf = new Uint8Array(size);
  let at = 0;
  return records.map((r) => {
    if (r.length > MAX_SETTLEMENT_BYTES) return r;
    buf.set(r, at);
    at += r.length;
    return buf.subarray(at - r.length, at);
  });
}

/**
 * Checks the records of a submission not seen before (`seen`, by id): see the module doc.
 * @returns per record what it settles or why it is refused, and each new id's first place in the batch.
 */
export async function checkRecords(
  ctx: CheckContext,
  records: readonly Uint8Array[],
  ids: readonly string[],
  seen: ReadonlyMap<string, unknown>,
  options: SubmitOptions,
): Promise<{ checked: Checked[]; firstAt: Map<string, number> }> {
  // Read every new record's frames first, so the chains they carry are looked up in one query.
  const firstAt = new Map<string, number>();
  const frames: (SettlementFrames | EdgepayError | undefined)[] = records.map((r, i) => {
    const id = ids[i] as string;
    if (seen.has(id) || firstAt.has(id)) return undefined;
    firstAt.set(id, i);
    try {
      return readSettlement(r, true);
    } catch (e) {
      return refusal(ctx.log, e, id);
    }
  });
  // Each chain's key worked out once: for the stored-chains lookup and again when the record is checked.
  const keys = new Map<Uint8Array, string>();
  for (const f of frames)
    if (f !== undefined && !(f instanceof EdgepayError))
      for (const chain of [f.open.terms.chain, f.accept.chain]) keys.set(chain, ctx.chains.keyFor(chain));
  const chains = ctx.chains.batch(await storedChains(ctx, keys.values()), keys);
  // Check structure, chains, limits and amounts here; every signature then in one batch on the verifier's
  // threads, and ticks after that (nothing here hashes or verifies: see `checkSettlement`).
  const checked: (Settled | EdgepayError | undefined)[] = [];
  const pendingSigs: { i: number; c: SignatureCheck }[] = [];
  const ticks: (TickProof | undefined)[] = [];
  for (let i = 0; i < records.length; i++) {
    const f = frames[i];
    if (f === undefined || f instanceof EdgepayError) {
      checked.push(f);
      continue;
    }
    // Checking a batch takes tens of milliseconds of this thread; another batch's transaction holds the
    // apply lock meanwhile and waits on this thread for each of its query results. Letting I/O in every
    // 64 records keeps that transaction, which every batch queues behind, from waiting on this loop.
    if ((i & 63) === 63) await yieldToIo();
    try {
      const { settlement, signatures, tick } = await checkSettlement(f, {
        trust: ctx.trust,
        now: ctx.now(),
        settlementWindowSeconds: ctx.settlementWindowSeconds,
        chains,
      });
      checked.push(settled(settlement));
      ticks[i] = tick;
      for (const c of signatures) pendingSigs.push({ i, c });
    } catch (e) {
      checked.push(refusal(ctx.log, e, ids[i] as string));
    }
  }
  options.budget?.({ records: firstAt.size, signatures: pendingSigs.length, hashSteps: 0 });
  const ok = await verifyChecks(
    ctx,
    pendingSigs.map((p) => p.c),
  );
  pendingSigs.forEach(({ i, c }, k) => {
    if (!ok[k] && !(checked[i] instanceof EdgepayError)) checked[i] = new CoseError('COSE_SIGNATURE', 'signature does not verify', c.field);
  });
  // Ticks are hashed only for records whose signatures all verified: those bind the chain's root.
  const tickAt = [...ticks.keys()].filter((i) => ticks[i] && !(checked[i] instanceof EdgepayError));
  if (tickAt.length > 0) {
    options.budget?.({ records: 0, signatures: 0, hashSteps: tickAt.reduce((n, i) => n + (ticks[i]?.steps ?? 0), 0) });
    const good = await ctx.verifier.hashChains(tickAt.map((i) => ticks[i] as TickProof));
    tickAt.forEach((i, k) => {
      if (!good[k])
        checked[i] = new ChannelError('CH_SETTLEMENT', 'the tick does not verify against the committed root', 'settlement.tick');
    });
  }
  return { checked, firstAt };
}

/**
 * A record's refusal: its own error, or for anything else (a fault of ours that this record brought out)
 * LEDGER_UNPROCESSABLE, logged with its cause: the record is refused for good, and the others go on.
 */
export function refusal(log: Logger, e: unknown, recordId: string): EdgepayError {
  if (e instanceof EdgepayError) return e;
  log.error({ recordId, err: e }, 'a record could not be processed; it is refused');
  return new LedgerError('LEDGER_UNPROCESSABLE', 'the ledger could not process this record', 'record', { cause: e });
}

/**
 * Checks signatures in one batch on the verifier's threads. A credential chain's signatures are skipped
 * when this ledger verified that chain before (its hash is stored in `chains`: shared by every ledger
 * process on the database, and surviving restarts); chains verified now are stored with their facts.
 * @returns per check, whether it verified.
 */
export async function verifyChecks(ctx: CheckContext, checks: readonly SignatureCheck[]): Promise<boolean[]> {
  const chainHashes = [...new Set(checks.flatMap((c) => (c.chain ? [c.chain] : [])))];
  const known = new Set(
    chainHashes.length > 0 ? (await ctx.db.query<{ hash: string }>(KNOWN_CHAINS, [chainHashes])).map((r) => r.hash) : [],
  );
  // Records in one batch share the checks of a chain they both carry: check each object once.
  const unique = [...new Set(checks.filter((c) => !c.vouchedBy && !(c.chain && known.has(c.chain))))];
  const ok = await ctx.verifier.verifyMany(unique);
  const result = new Map<SignatureCheck, boolean>(unique.map((c, k) => [c, ok[k] as boolean]));
  // A check vouched for by one that failed (or was never sent: its record failed first) is checked on its
  // own: a forged accept must neither sink a good one nor carry a bad one.
  const vouched = [...new Set(checks.filter((c) => c.vouchedBy))];
  const own = vouched.filter((c) => result.get(c.vouchedBy as SignatureCheck) !== true);
  const ownOk = own.length > 0 ? await ctx.verifier.verifyMany(own) : [];
  for (const [k, c] of own.entries()) result.set(c, ownOk[k] as boolean);
  for (const c of vouched) if (!result.has(c)) result.set(c, true);
  const verifiedChains = new Set<string>();
  const failedChains = new Set<string>();
  for (const c of new Set(checks)) {
    const good = result.get(c) ?? true;
    if (good) c.verified?.(c.chain !== undefined && known.has(c.chain));
    else c.failed?.();
    if (c.chain) (good ? verifiedChains : failedChains).add(c.chain);
  }
  // Chains verified now are stored with their facts; those stored before without facts get them.
  const facts = new Map<string, Uint8Array>();
  for (const c of checks)
    if (c.chain && c.chainFacts && verifiedChains.has(c.chain) && !failedChains.has(c.chain) && !facts.has(c.chain))
      facts.set(c.chain, encodeChainFacts(c.chainFacts));
  if (facts.size > 0)
    await ctx.db.query(
      `insert into chains (hash, facts) select * from unnest($1::text[], $2::bytea[])
       on conflict (hash) do update set facts = excluded.facts where chains.facts is null`,
      [[...facts.keys()], [...facts.values()]],
    );
  return checks.map((c) => result.get(c) ?? true);
}

/**
 * What the store holds for the chains a batch's records carry, by chain key: those this process has not
 * cached and any ledger process verified (or enrolled) before. One query a batch; unreadable rows are
 * left out (their chains are verified again).
 */
async function storedChains(ctx: CheckContext, chainKeys: Iterable<string>): Promise<Map<string, ChainFacts>> {
  const keys = new Set<string>();
  for (const key of chainKeys) if (!ctx.chains.has(key)) keys.add(key);
  const out = new Map<string, ChainFacts>();
  if (keys.size === 0) return out;
  for (const r of await ctx.db.query<{ hash: string; facts: Uint8Array | null }>(STORED_CHAINS, [[...keys]])) {
    if (r.facts === null) continue;
    try {
      out.set(r.hash, decodeChainFacts(new Uint8Array(r.facts)));
    } catch (e) {
      if (!(e instanceof EdgepayError)) throw e;
    }
  }
  return out;
}

/**
 * Verifies credential chains ahead of their first payment (enrolment: a fleet registering its devices),
 * so settling later costs only the payment's own signature. Signatures are checked in one batch.
 * @returns per chain, undefined when enrolled, else the error it failed with.
 */
export async function enrollChains(ctx: CheckContext, chains: readonly Uint8Array[]): Promise<(EdgepayError | undefined)[]> {
  const out: (EdgepayError | undefined)[] = [];
  const checks: { i: number; c: SignatureCheck }[] = [];
  for (let i = 0; i < chains.length; i++) {
    const deferred: SignatureCheck[] = [];
    try {
      await ctx.chains.verify(chains[i] as Uint8Array, { trust: ctx.trust, now: ctx.now() }, deferred);
      out.push(undefined);
    } catch (e) {
      if (!(e instanceof EdgepayError)) throw e;
      out.push(e);
    }
    for (const c of deferred) checks.push({ i, c });
  }
  const ok = await verifyChecks(
    ctx,
    checks.map((x) => x.c),
  );
  checks.forEach(({ i, c }, k) => {
    if (!ok[k] && !out[i]) out[i] = new CoseError('COSE_SIGNATURE', 'signature does not verify', c.field);
  });
  return out;
}
