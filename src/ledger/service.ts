/**
 * @module ledger/service
 * The ledger behind any wire (HTTP, MQTT): authenticates who submits (an enrolled device or party; an
 * issuer for administrative calls), then hands records to the {@link Ledger}. Counts what it does for
 * health and metrics. Bad input becomes a LedgerError with a code, never a crash.
 */
import { ChainCache } from '../channel/settlement.js';
import { equalBytes, fromHex, toHex } from '../codec/bytes.js';
import type { CborValue } from '../codec/cbor.js';
import { coseKeyThumbprint } from '../codec/cose-key.js';
import { verifySign1 } from '../codec/cose-sign1.js';
import { asAmount, asText, asTime } from '../codec/fields.js';
import type { Signer } from '../crypto/ed25519.js';
import { EdgepayError, LedgerError } from '../errors.js';
import { verifyParty } from '../identity/chain.js';
import { decodeChain } from '../identity/credential.js';
import { kidPrefix, signRevocationList } from '../identity/revocation.js';
import type { TrustStore } from '../identity/trust-store.js';
import { decodeAdmin, decodeSubmission } from '../sync/submission.js';
import type { Ledger } from './ledger.js';
import { statementCsv } from './statement.js';

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
}

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
}

/** What an administrative call answers: CBOR-able data, or a document with its media type. */
export type AdminResult = { data: CborValue } | { document: string; mediaType: string };

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
  };
  private readonly chains = new ChainCache();
  private readonly now: () => number;

  private revoking: Promise<unknown> = Promise.resolve();

  /** Use {@link LedgerService.open}: it restores the published revocation list and finishes any revocation a crash interrupted. */
  constructor(private readonly o: LedgerServiceOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  static async open(o: LedgerServiceOptions): Promise<LedgerService> {
    const s = new LedgerService(o);
    const newest = await o.ledger.newestRevocationList();
    if (newest) await o.trust.applyRevocationList(newest.list);
    if (o.revocation) for (const d of await o.ledger.unrevokedDisputes()) await s.revoke(d.kid, d.kind);
    return s;
  }

  /**
   * Revokes a disputed device: a new version of the issuer's list with it added (from now: what it
   * signed before stays payable), stored, applied here, and published. One at a time.
   */
  revoke(kid: string, reason: string): Promise<Uint8Array | undefined> {
    const r = this.o.revocation;
    if (!r) return Promise.resolve(undefined);
    const next = this.revoking.then(async () => {
      const at = this.now();
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
        issuedAt: at,
        entries: [...entries].map(([k, t]) => ({ kid: fromHex(k), revokedAt: t })),
      });
      await this.o.ledger.saveRevocation(kid, at, reason, version, list);
      await this.o.trust.applyRevocationList(list);
      this.metrics.revocations++;
      // Publishing is best effort: the list is stored and served over HTTP whatever a broker does.
      await Promise.resolve(r.publish?.(list)).catch(() => {
        this.metrics.publishFailures++;
      });
      return list;
    });
    this.revoking = next.catch(() => {});
    return next;
  }

  get ledger(): Ledger {
    return this.o.ledger;
  }

  /**
   * Authenticates a signed submission and applies its records.
   * @returns one signed receipt per record, in order.
   * @throws LedgerError LEDGER_UNAUTHORIZED when the signer is not enrolled or the signature fails;
   *   the decoders' errors for malformed input.
   */
  async submit(bytes: Uint8Array): Promise<Uint8Array[]> {
    try {
      const s = decodeSubmission(bytes);
      const key = await this.submitterKey(s.chain);
      if (s.sign1.kid && !equalBytes(s.sign1.kid, coseKeyThumbprint(key)))
        throw new LedgerError('LEDGER_UNAUTHORIZED', 'the kid does not name the chain key', 'protected.kid');
      await verifySign1(s.sign1, key).catch((e) => {
        throw new LedgerError('LEDGER_UNAUTHORIZED', 'the submission signature does not verify', 'signature', { cause: e });
      });
      this.metrics.submissions++;
      const results = await this.o.ledger.submit(s.records);
      // The records are committed: a revocation that fails now is finished by the next open().
      for (const r of results)
        if (r.revoke)
          await this.revoke(r.revoke, r.code === 'LEDGER_OUTSTANDING' ? 'overspend' : 'equivocation').catch(() => {
            this.metrics.revocationFailures++;
          });
      for (const r of results) {
        this.metrics.records++;
        if (r.repeated) this.metrics.repeated++;
        else this.metrics[r.status]++;
      }
      return results.map((r) => r.receipt);
    } catch (e) {
      if (e instanceof EdgepayError) this.metrics.refused++;
      throw e;
    }
  }

  private async submitterKey(chainBytes: Uint8Array): Promise<Uint8Array> {
    const creds = decodeChain(chainBytes);
    try {
      if (creds.length === 1)
        return (await verifyParty(creds[0] as Uint8Array, { trust: this.o.trust, now: this.now(), learnParty: false })).claims.publicKey;
      return (await this.chains.verify(chainBytes, { trust: this.o.trust, now: this.now(), learnParty: false })).publicKey;
    } catch (e) {
      if (e instanceof EdgepayError)
        throw new LedgerError('LEDGER_UNAUTHORIZED', `the submitter is not enrolled: ${e.message}`, 'submission.chain', { cause: e });
      throw e;
    }
  }

  /**
   * Runs an administrative call signed by a trust root (or, for reads of its own accounts, by a party).
   * Ops: `fund` {party, asset, amount}, `credit` {party, asset, amount}, `balance` {party, asset},
   * `statement` {party, asset, from, to}, `reserve` {party, payer, payee?, asset, amount, expiresAt} (issuer or
   * the party itself), `payout` {asset, date?}.
   * @throws LedgerError LEDGER_UNAUTHORIZED, LEDGER_STALE, LEDGER_OP; field errors for bad arguments.
   */
  async admin(bytes: Uint8Array): Promise<AdminResult> {
    const c = decodeAdmin(bytes);
    const kid = c.sign1.kid;
    const root = kid && this.o.trust.root(kid);
    // A party signs calls for its own accounts: its key is known once a channel of its devices has reached
    // this ledger (the `parties` table), or from the trust store (a party whose own lists it holds).
    const party = !root && kid ? (this.o.trust.authority(kid) ?? (await this.o.ledger.partyByKid(kid))) : undefined;
    const signer = root || party;
    if (!signer) throw new LedgerError('LEDGER_UNAUTHORIZED', 'administrative calls are signed by an issuer', 'protected.kid');
    await verifySign1(c.sign1, signer.publicKey).catch((e) => {
      throw new LedgerError('LEDGER_UNAUTHORIZED', 'the call signature does not verify', 'signature', { cause: e });
    });
    if (Math.abs(c.time - this.now()) > (this.o.maxSkewSeconds ?? 300))
      throw new LedgerError('LEDGER_STALE', 'the call is too old or from the future', 'admin.time');
    const a = c.args;
    const text = (k: string) => asText(a.get(k), `admin.args.${k}`);
    const who = (k: string) => {
      const p = text(k);
      if (!root && p !== party?.id)
        throw new LedgerError('LEDGER_UNAUTHORIZED', 'a party may read only its own accounts', `admin.args.${k}`);
      return p;
    };
    const issuerOnly = () => {
      if (!root) throw new LedgerError('LEDGER_UNAUTHORIZED', `${c.op} needs the issuer's key`, 'protected.kid');
    };
    this.metrics.adminCalls++;
    const ledger = this.o.ledger;
    switch (c.op) {
      case 'fund': {
        issuerOnly();
        const applied = await ledger.fund(
          text('party'),
          text('asset'),
          asAmount(a.get('amount'), 'admin.args.amount'),
          `admin:${toHex(c.nonce)}`,
        );
        return { data: new Map([['applied', applied]]) };
      }
      case 'credit':
        issuerOnly();
        await ledger.setCreditLine(text('party'), text('asset'), asAmount(a.get('amount'), 'admin.args.amount'));
        return { data: new Map([['ok', true]]) };
      case 'balance':
        return { data: new Map([['balance', await ledger.balance(who('party'), text('asset'))]]) };
      case 'statement': {
        const s = await ledger.statement(
          who('party'),
          text('asset'),
          asTime(a.get('from'), 'admin.args.from'),
          asTime(a.get('to'), 'admin.args.to'),
        );
        return { document: statementCsv(s), mediaType: 'text/csv; charset=utf-8' };
      }
      case 'reserve': {
        // A party locks its own funds (or the issuer does for it); the ticket goes to the payer device.
        const hex = (k: string) => {
          const h = text(k);
          if (!/^[0-9a-f]{64}$/.test(h)) throw new LedgerError('LEDGER_OP', `${k} is a key thumbprint in hex`, `admin.args.${k}`);
          return fromHex(h);
        };
        const ticket = await ledger.reserve({
          ref: toHex(c.nonce),
          party: who('party'),
          payerKid: hex('payer'),
          payeeKid: a.has('payee') ? hex('payee') : undefined,
          asset: text('asset'),
          amount: asAmount(a.get('amount'), 'admin.args.amount'),
          expiresAt: asTime(a.get('expiresAt'), 'admin.args.expiresAt'),
        });
        return { data: new Map<string, CborValue>([['ticket', ticket]]) };
      }
      case 'payout': {
        issuerOnly();
        if (!this.o.debtor) throw new LedgerError('LEDGER_CONFIG', 'this ledger has no payout account configured', 'debtor');
        const doc = await ledger.payout(
          `ep-${toHex(c.nonce).slice(0, 32)}`,
          text('asset'),
          this.o.debtor,
          a.has('date') ? text('date') : undefined,
        );
        return doc === undefined ? { data: new Map([['payouts', 0]]) } : { document: doc, mediaType: 'application/xml; charset=utf-8' };
      }
      default:
        throw new LedgerError('LEDGER_OP', `unknown operation ${c.op}`, 'admin.op');
    }
  }
}
