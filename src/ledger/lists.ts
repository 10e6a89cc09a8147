/**
 * @module ledger/lists
 * The revocation lists the ledger holds: those it made (revoking disputed devices, in the issuer's name) and
 * those it took from issuers and parties, all in `authority_lists` in arrival order. Each ledger process
 * loads what it has not seen before it applies a batch, so a list applies at once on every process.
 */
import { EdgepayError } from '../errors.js';
import { verifyParty } from '../identity/chain.js';
import type { TrustStore } from '../identity/trust-store.js';
import type { Db, Sql } from './db.js';
import type { Logger } from './log.js';
import { exclusive } from './sql.js';

export class Lists {
  /** The newest `authority_lists.id` this process has applied to its trust store. */
  seen = 0;

  constructor(private readonly o: { db: Db; trust: TrustStore; log: Logger }) {}

  /** The newest revocation list this ledger published, if any. */
  async newest(): Promise<{ version: number; list: Uint8Array } | undefined> {
    const [r] = await this.o.db.query<{ version: number; list: Uint8Array }>(
      'select version, list from revocation_lists order by version desc limit 1',
    );
    return r && { version: Number(r.version), list: new Uint8Array(r.list) };
  }

  /** Records a published revocation list and the device it added. */
  async saveOwn(kid: string, revokedAt: number, reason: string, version: number, list: Uint8Array): Promise<void> {
    await this.o.db.transaction(async (tx) => {
      await tx.query('insert into revocations (kid, revoked_at, reason) values ($1, $2, $3) on conflict do nothing', [
        kid,
        revokedAt,
        reason,
      ]);
      await tx.query('insert into revocation_lists (version, list) values ($1, $2)', [version, list]);
    });
  }

  /** Every device this ledger has revoked (after a dispute), with why. */
  async revokedDevices(): Promise<{ kid: string; reason: string; revokedAt: number }[]> {
    const rows = await this.o.db.query<{ kid: string; reason: string; at: string }>(
      'select kid, reason, revoked_at::text as at from revocations order by revoked_at',
    );
    return rows.map((r) => ({ kid: r.kid, reason: r.reason, revokedAt: Number(r.at) }));
  }

  /** Disputed devices not yet revoked (a crash between the dispute and the publication leaves these). */
  async unrevokedDisputes(): Promise<{ kid: string; kind: string }[]> {
    return this.o.db.query<{ kid: string; kind: string }>(
      'select distinct d.payer_kid as kid, d.kind from disputes d left join revocations r on r.kid = d.payer_kid where r.kid is null',
    );
  }

  /**
   * Applies to the trust store every revocation list stored since this process last looked (received or
   * made by another ledger process on the database, or before a restart). A party's list comes with the
   * party's credential, which vouched for its key when the list was taken.
   */
  async load(sql: Sql = this.o.db): Promise<void> {
    const rows = await sql.query<{ id: string; list: Uint8Array; party: Uint8Array | null }>(
      'select id::text as id, list, party from authority_lists where id > $1 order by id',
      [this.seen],
    );
    for (const r of rows) {
      try {
        if (r.party) await verifyParty(new Uint8Array(r.party), { trust: this.o.trust, skipTimeCheck: true, skipRevocation: true });
        await this.o.trust.applyRevocationList(new Uint8Array(r.list), { persist: false });
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        this.o.log.warn({ list: r.id, err: e }, 'a stored revocation list no longer applies');
      }
      this.seen = Math.max(this.seen, Number(r.id));
    }
  }

  /**
   * Stores a revocation list (which the caller's trust store has verified and applied) for every ledger
   * process and restart; `party` is the party credential that vouches for a party's key. Taken under the
   * apply lock: a batch applied after this sees the list. Idempotent by authority and version.
   */
  async store(list: Uint8Array, authority: string, version: number, party?: Uint8Array): Promise<void> {
    await this.o.db.transaction(async (tx) => {
      await exclusive(this.o.db, tx);
      await tx.query('insert into authority_lists (authority, version, list, party) values ($1, $2, $3, $4) on conflict do nothing', [
        authority,
        version,
        list,
        party ?? null,
      ]);
    });
  }
}
