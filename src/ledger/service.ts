/**
 * @module ledger/service
 * The ledger behind any wire (HTTP, MQTT): authenticates who submits (an enrolled device or party; an
 * issuer for administrative calls), then hands records to the {@link Ledger}. Takes revocation lists from
 * issuers and parties. Bounds the work anyone can cause: a work budget per authenticated submitter, and a
 * bound on submissions in progress. Counts what it does for health and metrics. Bad input becomes a
 * LedgerError with a code, never a crash.
 */
import { BoundedMap } from '../bounded.js';
import { equalBytes, fromHex, toHex } from '../bytes.js';
import type { CborValue } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { verifySign1 } from '../codec/cose-sign1.js';
import type { Signer } from '../crypto/ed25519.js';
import { EdgepayError, LedgerError } from '../errors.js';
import { verifyParty } from '../identity/chain.js';
import { decodeChain } from '../identity/credential.js';
import { decodeRevocationList, kidPrefix, signRevocationList } from '../identity/revocation.js';
import type { TrustStore } from '../identity/trust-store.js';
import { decodeAdmin, decodeSubmission } from '../sync/submission.js';
import { type AdminResult, runAdmin } from './admin.js';
import type { Ledger, SubmitCost } from './ledger.js';
import { type Logger, silentLogger } from './log.js';
import { type Counts, LedgerMetrics } from './metrics.js';

export interface LedgerServiceOptions {
  ledger: Ledger;
  trust: TrustStore;
  now?: () => number;
  /** How far an administrative call's time may be from the ledger's clock, in seconds (default 300). */
  maxSkewSeconds?: number;
  /** The account payouts are paid from (named in pain.001 documents). */
  debtor?: { name: string; account: string };
  /**
   * Revoking disputed devices: the issuer's key and id (devices trust the issuer's lists), and where each
   * new list goes besides HTTP (an MQTT retained message, say). Without it disputes are only recorded.
   */
  revocation?: { signer: Signer; issuer: string; publish?: (list: Uint8Array) => Promise<void> | void };
  /**
   * Where every revocation list the ledger takes or makes is republished for devices (an MQTT retained
   * topic per authority, say); lists are served over HTTP whatever this does. Default: `revocation.publish`.
   */
  publish?: (list: Uint8Array) => Promise<void> | void;
  limits?: Partial<ServiceLimits>;
  log?: Logger;
}

/** What bounds the work anyone can cause (see docs/security.md). */
export interface ServiceLimits {
  /**
   * Each authenticated submitter's work budget, in units of about one signature check: a submission costs
   * one a record, one a signature to check and one per {@link HASH_STEPS_PER_UNIT} tick hash steps, taken
   * from a bucket refilled at `perSecond` up to `burst`. Over it: LEDGER_RATE (retryable).
   */
  submitter: { perSecond: number; burst: number };
  /** Submissions in progress (checked, queued for the database) at once; beyond: LEDGER_BUSY (retryable). */
  maxPending: number;
}

export const DEFAULT_LIMITS: ServiceLimits = { submitter: { perSecond: 5_000, burst: 20_000 }, maxPending: 256 };

/** Tick hash steps that cost as much as one signature check (a SHA-256 of 32 bytes against an Ed25519 verify). */
export const HASH_STEPS_PER_UNIT = 100;

/** What a submission costs a submitter's budget. */
export const costOf = (c: SubmitCost): number => c.records + c.signatures + Math.ceil(c.hashSteps / HASH_STEPS_PER_UNIT);

export interface Metrics {
  submissions: number;
  records: number;
  accepted: number;
  rejected: number;
  disputed: number;
  duplicate: number;
  repeated: number;
  revocations: number;
  revocationFailures: number;
  publishFailures: number;
  refused: number;
  adminCalls: number;
  /** Submissions refused because their submitter was over its work budget, or too many were in progress. */
  overBudget: number;
  busy: number;
  /** Revocation lists taken (newer than what was held), and those that were not newer. */
  listsTaken: number;
  listsStale: number;
}

/** An argument as the log writes it: amounts and times as exact text, text cut short, nothing else but its type. */
const logValue = (x: CborValue | undefined): string | boolean =>
  typeof x === 'string'
    ? x.slice(0, 100)
    : typeof x === 'number' || typeof x === 'bigint'
      ? String(x)
      : typeof x === 'boolean'
        ? x
        : typeof x;

/** What an administrative call answers: CBOR-able data, or a document with its media type. */
export type { AdminResult } from './admin.js';

export class LedgerService {
  readonly metrics: Metrics = {
    submissions: 0,
    records: 0,
    accepted: 0,
    rejected: 0,
    disputed: 0,
    duplicate: 0,
    repeated: 0,
    revocations: 0,
    revocationFailures: 0,
    publishFailures: 0,
    refused: 0,
    adminCalls: 0,
    overBudget: 0,
    busy: 0,
    listsTaken: 0,
    listsStale: 0,
  };
  private readonly now: () => number;
  private readonly limits: ServiceLimits;
  private readonly log: Logger;
  /** Work budgets by submitter key thumbprint (hex); the oldest forgotten first (a new one starts full). */
  private readonly budgets = new BoundedMap<string, { tokens: number; at: number }>(100_000);
  private pending = 0;

  private revoking: Promise<unknown> = Promise.resolve();

  /**
   * The counters, submissions in progress and latency histograms `/metrics` serves; set by
   * {@link LedgerService.open} where prom-client is installed.
   */
  prometheus: LedgerMetrics | undefined;

  /** Use {@link LedgerService.open}: it restores the published revocation list and finishes any revocation a crash interrupted. */
  constructor(private readonly o: LedgerServiceOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    this.log = o.log ?? silentLogger;
    o.ledger.onStages((t) => {
      this.prometheus?.checkSeconds.observe(t.checkSeconds);
      this.prometheus?.applySeconds.observe(t.applySeconds);
    });
  }

  /** Takes `units` from `submitter`'s budget, or refuses the submission (LEDGER_RATE) and takes nothing. */
  private charge(submitter: string, units: number): void {
    const { perSecond, burst } = this.limits.submitter;
    const now = performance.now() / 1000;
    const b = this.budgets.get(submitter) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + (now - b.at) * perSecond);
    b.at = now;
    this.budgets.set(submitter, b);
    if (units > b.tokens) {
      this.metrics.overBudget++;
      const wait = Math.ceil((units - b.tokens) / perSecond);
      throw new LedgerError('LEDGER_RATE', `the submitter is over its work budget: try again in ${wait} s`, 'submitter');
    }
    b.tokens -= units;
  }

  static async open(o: LedgerServiceOptions): Promise<LedgerService> {
    const s = new LedgerService(o);
    s.prometheus = await LedgerMetrics.load(
      () => {
        const db = o.ledger.dbState();
        return { ...(s.metrics as unknown as Counts), dbFailovers: db.failovers, dbUnreplicated: db.unreplicated };
      },
      () => s.pending,
    ).catch((e) => {
      if (e instanceof LedgerError && e.code === 'LEDGER_DEPENDENCY') return undefined;
      throw e;
    });
    const newest = await o.ledger.newestRevocationList();
    if (newest) await o.trust.applyRevocationList(newest.list);
    if (o.revocation) for (const d of await o.ledger.unrevokedDisputes()) await s.revoke(d.kid, d.kind);
    return s;
  }

  /**
   * Revokes a disputed device: a new version of the issuer's list with it added (from now: what it
   * signed before stays payable), stored, applied here, and published. One at a time.
   */
  revoke(kid: string, reason: string, revokedAt?: number): Promise<Uint8Array | undefined> {
    const r = this.o.revocation;
    if (!r) return Promise.resolve(undefined);
    const next = this.revoking.then(async () => {
      const at = revokedAt ?? this.now();
      const state = this.o.trust.revocation(coseKeyThumbprint(r.signer.publicKey));
      const stored = await this.o.ledger.newestRevocationList();
      const entries = new Map(state?.revoked ?? []);
      const prefix = toHex(kidPrefix(fromHex(kid)));
      if (entries.has(prefix)) return undefined;
      entries.set(prefix, at);
      const version = Math.max(state?.version ?? 0, stored?.version ?? 0) + 1;
      const list = await signRevocationList(r.signer, {
        issuer: r.issuer,
        version,
        issuedAt: this.now(),
        entries: [...entries].map(([k, t]) => ({ kid: fromHex(k), revokedAt: t })),
      });
      await this.o.ledger.saveRevocation(kid, at, reason, version, list);
      await this.o.trust.applyRevocationList(list);
      this.metrics.revocations++;
      await this.o.ledger.storeList(list, toHex(coseKeyThumbprint(r.signer.publicKey)), version);
      await this.publish(list);
      return list;
    });
    this.revoking = next.catch(() => {});
    return next;
  }

  /** True when no more submissions are taken now (LEDGER_BUSY). */
  get saturated(): boolean {
    return this.pending >= this.limits.maxPending;
  }

  /** Throws LEDGER_BUSY (and counts it) when no more submissions are taken now: a transport may ask before it reads one. */
  admit(): void {
    if (!this.saturated) return;
    this.metrics.busy++;
    throw new LedgerError('LEDGER_BUSY', 'too many submissions in progress: try again shortly', 'ledger');
  }

  /** Publishing is best effort: a list is stored and served over HTTP whatever a broker does. */
  private async publish(list: Uint8Array): Promise<void> {
    const to = this.o.publish ?? this.o.revocation?.publish;
    await Promise.resolve(to?.(list)).catch((e) => {
      this.metrics.publishFailures++;
      this.log.warn({ err: e }, 'a revocation list could not be published');
    });
  }

  get ledger(): Ledger {
    return this.o.ledger;
  }

  /**
   * Takes a revocation list signed by a trust root, or by a party for its own devices (with the party's
   * credential, `partyCredential`, where this ledger has not met the party). A newer list applies at once
   * to every record, submission and cached chain, on every ledger process on the database; it is stored
   * and republished. A list signed with the key this ledger revokes disputed devices with never drops
   * those: they are signed again into a newer list.
   * @returns whether it was newer than the list held, and the version held now.
   * @throws IdentityError ID_UNKNOWN_ISSUER (no root or known party signed it), CoseError, CodecError.
   */
  async takeRevocationList(bytes: Uint8Array, partyCredential?: Uint8Array): Promise<{ applied: boolean; version: number }> {
    const list = decodeRevocationList(bytes);
    const kid = list.sign1.kid as Uint8Array;
    const result = await this.o.trust.applyRevocationList(bytes, partyCredential ? { partyCredential } : {});
    if (result === 'stale') {
      this.metrics.listsStale++;
      return { applied: false, version: this.o.trust.revocation(kid)?.version ?? 0 };
    }
    this.metrics.listsTaken++;
    const party = this.o.trust.root(kid) ? undefined : this.o.trust.partyCredential(kid);
    await this.o.ledger.storeList(bytes, toHex(kid), list.content.version, party);
    this.log.info(
      { authority: list.content.issuer, version: list.content.version, entries: list.content.entries.length },
      'revocation list taken',
    );
    await this.publish(bytes);
    const r = this.o.revocation;
    if (r && equalBytes(kid, coseKeyThumbprint(r.signer.publicKey)))
      for (const d of await this.o.ledger.revokedDevices()) await this.revoke(d.kid, d.reason, d.revokedAt);
    return { applied: true, version: this.o.trust.revocation(kid)?.version ?? list.content.version };
  }

  /**
   * Authenticates a signed submission and applies its records.
   * @returns one signed receipt per record, in order.
   * @throws LedgerError LEDGER_UNAUTHORIZED when the signer is not enrolled or the signature fails;
   *   the decoders' errors for malformed input.
   */
  async submit(bytes: Uint8Array): Promise<Uint8Array[]> {
    return (await this.submitFrom(bytes)).receipts;
  }

  /**
   * {@link submit}, also saying who submitted (the thumbprint of the key that signed the submission): an
   * answer goes to that identity's own topic, whatever topic the submission came on. `from` (a client
   * address, a topic) goes into the log line that sums up the outcome.
   */
  async submitFrom(bytes: Uint8Array, from?: string): Promise<{ receipts: Uint8Array[]; submitter: Uint8Array }> {
    this.admit();
    this.pending++;
    const started = performance.now();
    try {
      const s = decodeSubmission(bytes);
      const key = await this.submitterKey(s.chain);
      const submitter = coseKeyThumbprint(key);
      if (s.sign1.kid && !equalBytes(s.sign1.kid, submitter))
        throw new LedgerError('LEDGER_UNAUTHORIZED', 'the kid does not name the chain key', 'protected.kid');
      await verifySign1(s.sign1, key).catch((e) => {
        throw new LedgerError('LEDGER_UNAUTHORIZED', 'the submission signature does not verify', 'signature', { cause: e });
      });
      const who = toHex(submitter);
      // Something before any work: a submitter over its budget is refused before its records are read.
      this.charge(who, 1);
      this.metrics.submissions++;
      const results = await this.o.ledger.submit(s.records, { budget: (cost) => this.charge(who, costOf(cost)) });
      // The records are committed: a revocation that fails now is finished by the next open().
      for (const r of results)
        if (r.revoke)
          await this.revoke(r.revoke, r.code === 'LEDGER_OUTSTANDING' ? 'overspend' : 'equivocation').catch(() => {
            this.metrics.revocationFailures++;
          });
      const outcome = { accepted: 0, rejected: 0, disputed: 0, duplicate: 0, repeated: 0 };
      for (const r of results) {
        this.metrics.records++;
        if (r.repeated) outcome.repeated++;
        else outcome[r.status]++;
      }
      for (const [k, n] of Object.entries(outcome)) this.metrics[k as keyof typeof outcome] += n;
      const seconds = (performance.now() - started) / 1000;
      this.log.info({ submitter: who, from, records: results.length, ...outcome, ms: Math.round(seconds * 1000) }, 'submission settled');
      this.prometheus?.submissionSeconds.observe(seconds);
      this.prometheus?.batchRecords.observe(s.records.length);
      return { receipts: results.map((r) => r.receipt), submitter };
    } catch (e) {
      if (e instanceof EdgepayError) this.metrics.refused++;
      throw e;
    } finally {
      this.pending--;
    }
  }

  private async submitterKey(chainBytes: Uint8Array): Promise<Uint8Array> {
    const creds = decodeChain(chainBytes);
    try {
      if (creds.length === 1)
        return (await verifyParty(creds[0] as Uint8Array, { trust: this.o.trust, now: this.now(), learnParty: false })).claims.publicKey;
      return (await this.o.ledger.chains.verify(chainBytes, { trust: this.o.trust, now: this.now(), learnParty: false })).publicKey;
    } catch (e) {
      if (e instanceof EdgepayError)
        throw new LedgerError('LEDGER_UNAUTHORIZED', `the submitter is not enrolled: ${e.message}`, 'submission.chain', { cause: e });
      throw e;
    }
  }

  /**
   * Runs an administrative call signed by a trust root (or, for reads of its own accounts, by a party):
   * authenticated, charged to its signer, logged, then run by {@link runAdmin} (ops and their arguments there).
   * @throws LedgerError LEDGER_UNAUTHORIZED, LEDGER_STALE, LEDGER_OP; field errors for bad arguments.
   */
  async admin(bytes: Uint8Array, from?: string): Promise<AdminResult> {
    const c = decodeAdmin(bytes);
    const kid = c.sign1.kid;
    const root = kid && this.o.trust.root(kid);
    // A party signs calls for its own accounts: its key is known once a channel of its devices has reached
    // this ledger (the `parties` table), or from the trust store (a party whose own lists it holds).
    const party = !root && kid ? (this.o.trust.authority(kid) ?? (await this.o.ledger.partyByKid(kid))) : undefined;
    const signer = root || party;
    if (!signer)
      throw new LedgerError(
        'LEDGER_UNAUTHORIZED',
        "the signing key is neither a trusted issuer nor a party this ledger knows yet (a party becomes known with its devices' first settlement record, or a revocation list it sends)",
        'protected.kid',
      );
    await verifySign1(c.sign1, signer.publicKey).catch((e) => {
      throw new LedgerError('LEDGER_UNAUTHORIZED', 'the call signature does not verify', 'signature', { cause: e });
    });
    if (Math.abs(c.time - this.now()) > (this.o.maxSkewSeconds ?? 300))
      throw new LedgerError('LEDGER_STALE', 'the call is too old or from the future', 'admin.time');
    // Calls are rate-limited by who signed them too, not only by the address they came from.
    this.charge(toHex(kid as Uint8Array), 1);
    this.metrics.adminCalls++;
    // Who did what, for the audit trail: the op, the signer, and its money-bearing arguments (never a key).
    const logged: Record<string, unknown> = { op: c.op, by: root ? 'issuer' : party?.id, from, nonce: toHex(c.nonce) };
    for (const k of ['party', 'asset', 'amount', 'policy', 'min', 'dryRun', 'format', 'from', 'to', 'key', 'reason'])
      if (c.args.has(k)) logged[k === 'from' || k === 'to' ? `${k}Time` : k] = logValue(c.args.get(k));
    this.log.info(logged, 'admin call');
    const r = this.o.revocation;
    return runAdmin(
      { op: c.op, args: c.args, nonce: c.nonce, issuer: Boolean(root), party: party?.id },
      {
        ledger: this.o.ledger,
        now: this.now,
        debtor: this.o.debtor,
        revoke: r
          ? async (key, reason) => {
              const list = await this.revoke(key, reason);
              return { changed: list !== undefined, version: this.o.trust.revocation(coseKeyThumbprint(r.signer.publicKey))?.version ?? 0 };
            }
          : undefined,
      },
    );
  }
}
