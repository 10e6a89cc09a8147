/**
 * @module channel/payee
 * The payee's side of channels: verifies everything offline and stores the newest payment durably before
 * it acknowledges (and so before the service it pays for is delivered).
 *
 * Rules (each refusal is a ChannelError with its code, and an error frame for the payer): the payer's
 * chain valid and not revoked per the newest list held; the open addressed to this payee, in the chain's
 * asset, cap within the per-channel limit, expiry within the credential; seq strictly increasing;
 * cumulative never decreasing and never above the cap; each payment within the per-payment limit; the
 * channel not expired (with skew); ticks verify against the committed root. Two different vouchers for
 * one seq are equivocation: both are kept as evidence and the channel is refused from then on.
 *
 * A change is made on a copy of the channel's record, stored, and only then made live: a write that fails
 * leaves the payee as it was, so the payer's resend is counted (and stored) again, not acked as known.
 */
import { equalBytes } from '../bytes.js';
import { ChannelError, EdgepayError } from '../errors.js';
import { Emitter } from '../events.js';
import { type VerifiedChain, verifyChain } from '../identity/chain.js';
import type { Limits } from '../identity/claims.js';
import type { Device } from '../identity/device.js';
import type { TrustRoot, TrustStore } from '../identity/trust-store.js';
import { fastDecodeTick } from './fastframe.js';
import { verifyTick } from './hashchain.js';
import { answerHello } from './hello.js';
import { IdKeys } from './keys.js';
import {
  checkCheckpoint,
  checkTermsWithin,
  decodeFrame,
  encodeAck,
  type Frame,
  type OpenTerms,
  signAccept,
  signClose,
  signError,
  verifyFrame,
} from './messages.js';
import { KeyedMutex } from './mutex.js';
import { type Reservation, verifyReservation } from './reservation.js';
import { queueFinal, type SettlementSink } from './sink.js';
import { type ChannelRecord, type ChannelStore, copyRecord } from './store.js';

export interface PaidEvent {
  channelId: Uint8Array;
  seq: number;
  ticks: number;
  /** Everything owed on the channel now (vouchers and ticks). */
  total: bigint;
  /** What this message added (a run of vouchers handled together: all of them). */
  delta: bigint;
}

export type PayeeEvents = {
  opened: (e: { channelId: Uint8Array; terms: OpenTerms; payer: VerifiedChain; reservation: Reservation | undefined }) => void;
  paid: (e: PaidEvent) => void;
  closed: (e: { channelId: Uint8Array; total: bigint; record: ChannelRecord }) => void;
  equivocation: (e: { channelId: Uint8Array; evidence: Uint8Array[] }) => void;
  rejected: (e: { channelId: Uint8Array | undefined; error: EdgepayError }) => void;
  /** A stored channel that failed its checks on load (CH_STORE_DAMAGED): set aside, refused from then on. */
  damaged: (e: { channelId: Uint8Array; error: EdgepayError }) => void;
  /** A closed channel's settlement record could not be queued (the outbox failed): it is queued again on resume. */
  error: (e: { channelId: Uint8Array; error: EdgepayError }) => void;
};

export interface PayeeOptions {
  /** This payee: its key, its chain and what the chain proves (its category, its expiry): `openDevice(...)`. */
  device: Device;
  trust: TrustStore;
  store: ChannelStore;
  /** Where each closed (or refused) channel's settlement record goes: `settlements(outbox)` from edgepay/settlement. */
  outbox?: SettlementSink;
  /** Seconds since the epoch (default: the system clock). */
  now?: () => number;
  skewSeconds?: number;
  /** Refuse payers whose authorities' revocation lists are older than this (seconds). */
  maxRevocationAgeSeconds?: number;
  /** Ledger keys whose reservation tickets this payee accepts. */
  ledgers?: readonly TrustRoot[];
  /** Refuse channels that no reservation ticket guarantees. */
  requireReservation?: boolean;
}

interface Live {
  record: ChannelRecord;
  terms: OpenTerms;
  payerKey: Uint8Array;
  limits: Limits;
}

export class Payee extends Emitter<PayeeEvents> {
  private readonly live = new Map<string, Live>();
  private readonly mutex = new KeyedMutex();
  private readonly ids = new IdKeys();
  private readonly now: () => number;

  constructor(private readonly o: PayeeOptions) {
    super();
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Reloads open channels after a restart, each checked again: the payer's chain (revocation as of now) and
   * the stored frames against the record. A channel that fails is left out (a damaged one is set aside and
   * reported as `damaged`, a refused one as `rejected`); the others resume.
   */
  async resume(): Promise<number> {
    let n = 0;
    for (const record of await this.o.store.list()) {
      if (record.role !== 'payee') continue;
      // A close (or equivocation evidence) whose record never reached the outbox (a crash, a full disk) is queued now.
      if ((record.state === 'closed' || record.state === 'refused') && !record.queued && this.o.outbox) {
        const q = await queueFinal(this.o.outbox, this.o.store, record);
        if ('error' in q) this.emit('error', { channelId: record.id, error: q.error });
      }
      if (record.state === 'closed') continue;
      try {
        if (await this.revive(record)) n++;
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        if (e.code !== 'CH_STORE_DAMAGED') this.emit('rejected', { channelId: record.id, error: e });
      }
    }
    return n;
  }

  private async revive(record: ChannelRecord): Promise<Live | undefined> {
    const frame = decodeFrame(record.open);
    if (frame.type !== 'open' || !equalBytes(frame.channelId, record.id))
      return this.damaged(record, 'the stored open is not this channel');
    // Judged as of now for revocation, but not for expiry: a stored channel's payments stay owed.
    const v = await verifyChain(frame.terms.chain, {
      trust: this.o.trust,
      now: this.now(),
      skewSeconds: this.o.skewSeconds,
      skipTimeCheck: true,
    });
    // The newest voucher is what this payee would settle and judge the next one by: checked again, so that
    // damage to it can never pass for the payer's (nor a damaged copy for equivocation evidence).
    if (record.voucher) {
      const vf = decodeFrame(record.voucher);
      const ok =
        vf.type === 'voucher' &&
        equalBytes(vf.voucher.channelId, record.id) &&
        vf.voucher.seq === record.seq &&
        vf.voucher.cumulative === record.cumulative &&
        (vf.voucher.ticks ?? 0) === record.voucherTicks &&
        (await verifyFrame(vf, v.publicKey).then(
          () => true,
          () => false,
        ));
      if (!ok) return this.damaged(record, 'the stored voucher does not verify');
    } else if (record.seq !== 0 || record.cumulative !== 0n) return this.damaged(record, 'a payment is stored without its voucher');
    const live = { record, terms: frame.terms, payerKey: v.publicKey, limits: v.limits };
    this.live.set(this.ids.key(record.id), live);
    return live;
  }

  /** Sets a channel aside whose stored state does not hold together, says so, and refuses it (throws). */
  private async damaged(record: ChannelRecord, why: string): Promise<never> {
    const error = new ChannelError('CH_STORE_DAMAGED', why, 'store');
    await this.o.store.setAside?.(record.id, error);
    this.live.delete(this.ids.key(record.id));
    this.emit('damaged', { channelId: record.id, error });
    throw error;
  }

  /** The current record of a channel. */
  channel(id: Uint8Array): ChannelRecord | undefined {
    return this.live.get(this.ids.key(id))?.record;
  }

  /**
   * Handles one frame from a payer and returns the frames to send back (accept, ack, close or error).
   * Never throws for bad input: a refusal becomes an error frame and a `rejected` event.
   */
  async handle(bytes: Uint8Array): Promise<Uint8Array[]> {
    const frame = decoded(bytes);
    return frame instanceof EdgepayError ? this.refuse(undefined, frame) : this.handleFrame(frame);
  }

  private async handleFrame(frame: Frame): Promise<Uint8Array[]> {
    const channelId = 'channelId' in frame ? frame.channelId : frame.type === 'voucher' ? frame.voucher.channelId : undefined;
    try {
      return await this.mutex.run(channelId ? this.ids.key(channelId) : '', () => this.dispatch(frame));
    } catch (e) {
      return this.refuse(channelId, e);
    }
  }

  /** Bad input becomes an error frame for the payer and a `rejected` event; anything else is thrown. */
  private async refuse(channelId: Uint8Array | undefined, e: unknown): Promise<Uint8Array[]> {
    if (!(e instanceof EdgepayError)) throw e;
    this.emit('rejected', { channelId, error: e });
    return [await signError(this.o.device.signer, channelId, e.code, e.message)];
  }

  private async dispatch(frame: Frame): Promise<Uint8Array[]> {
    switch (frame.type) {
      case 'open':
        return this.onOpen(frame);
      case 'voucher':
        return this.onVoucher(frame);
      case 'tick':
        return this.onTick(frame);
      case 'hello':
        await verifyFrame(frame, (await verifyChain(frame.chain, { trust: this.o.trust, now: this.now(), skipTimeCheck: true })).publicKey);
        return answerHello(frame, { signer: this.o.device.signer, chain: this.o.device.chain, trust: this.o.trust, now: this.now() });
      case 'revocation':
        await this.o.trust.applyRevocationList(frame.bytes);
        return [];
      default:
        throw new ChannelError('CH_UNEXPECTED', `a payee does not take ${frame.type} frames`, 'frame');
    }
  }

  private async onOpen(frame: Extract<Frame, { type: 'open' }>): Promise<Uint8Array[]> {
    const known = this.live.get(this.ids.key(frame.channelId)) ?? (await this.load(frame.channelId));
    if (known) {
      // A retried open: answer again, idempotently.
      if (equalBytes(known.record.open, frame.bytes) && known.record.accept) return [known.record.accept];
      throw new ChannelError('CH_TERMS', 'a channel with this id exists', 'open');
    }
    const t = frame.terms;
    const now = this.now();
    const skew = this.o.skewSeconds ?? 300;
    const payer = await verifyChain(t.chain, {
      trust: this.o.trust,
      now,
      skewSeconds: skew,
      counterpartyCategory: this.o.device.facts.deviceCategory,
      maxRevocationAgeSeconds: this.o.maxRevocationAgeSeconds,
    });
    await verifyFrame(frame, payer.publicKey);
    const terms = (why: string, field: string): never => {
      throw new ChannelError('CH_TERMS', why, field);
    };
    if (!equalBytes(t.payeeKid, this.o.device.kid)) terms('the channel is addressed to another payee', 'open.payee');
    checkTermsWithin(t, payer, 'open', this.o.device.facts);
    if (t.expiresAt + skew <= now) throw new ChannelError('CH_EXPIRED', 'the channel has expired', 'open.expiresAt');
    let reservation: Reservation | undefined;
    if (t.reservation) {
      reservation = await verifyReservation(t.reservation, {
        ledgers: this.o.ledgers ?? [],
        payerKid: payer.kid,
        payeeKid: this.o.device.kid,
        asset: t.asset,
        cap: t.cap,
        channelExpiresAt: t.expiresAt,
        now,
      });
    } else if (this.o.requireReservation)
      throw new ChannelError('CH_RESERVATION', 'this payee requires a reservation ticket', 'open.reservation');
    const record: ChannelRecord = {
      id: frame.channelId,
      role: 'payee',
      state: 'open',
      open: frame.bytes,
      seq: 0,
      cumulative: 0n,
      voucherTicks: 0,
      ticks: 0,
      updatedAt: now,
    };
    record.accept = await signAccept(this.o.device.signer, frame.channelId, this.o.device.chain);
    await this.o.store.put(record); // durable before the payer hears "accepted"
    this.live.set(this.ids.key(frame.channelId), { record, terms: t, payerKey: payer.publicKey, limits: payer.limits });
    this.emit('opened', { channelId: frame.channelId, terms: t, payer, reservation });
    return [record.accept];
  }

  private async channelFor(id: Uint8Array): Promise<Live> {
    const live = this.live.get(this.ids.key(id)) ?? (await this.load(id));
    if (!live) throw new ChannelError('CH_UNKNOWN_CHANNEL', 'no such channel', 'channel');
    if (live.record.state === 'refused') throw new ChannelError('CH_REFUSED', 'this channel is refused (equivocation)', 'channel');
    if (live.record.state === 'closed') throw new ChannelError('CH_CLOSED', 'this channel is closed', 'channel');
    return live;
  }

  private async load(id: Uint8Array): Promise<Live | undefined> {
    const record = await this.o.store.get(id);
    return record?.role === 'payee' ? this.revive(record) : undefined;
  }

  private total(l: Live, cumulative: bigint, voucherTicks: number, ticks: number): bigint {
    return cumulative + BigInt(Math.max(0, ticks - voucherTicks)) * (l.terms.payword?.tickValue ?? 0n);
  }

  private checkPayment(l: Live, total: bigint, previous: bigint): void {
    const now = this.now();
    if (now > l.terms.expiresAt + (this.o.skewSeconds ?? 300)) throw new ChannelError('CH_EXPIRED', 'the channel has expired', 'channel');
    if (total > l.terms.cap) throw new ChannelError('CH_OVER_CAP', `total ${total} exceeds the cap ${l.terms.cap}`, 'voucher.cumulative');
    if (total - previous > l.limits.perPayment)
      throw new ChannelError(
        'CH_PER_PAYMENT',
        `payment of ${total - previous} exceeds the per-payment limit ${l.limits.perPayment}`,
        'voucher.cumulative',
      );
  }

  private async onVoucher(frame: Extract<Frame, { type: 'voucher' }>): Promise<Uint8Array[]> {
    const v = frame.voucher;
    const l = await this.channelFor(v.channelId);
    await verifyFrame(frame, l.payerKey);
    const r = l.record;
    if (v.seq === r.seq && r.voucher) {
      if (equalBytes(r.voucher, frame.bytes)) return [encodeAck(r.id, r.seq, r.ticks)]; // a resend: ack again
      // Evidence only from what the payer really signed: a stored voucher damaged in memory is not one.
      const stored = decodeFrame(r.voucher);
      if (
        stored.type !== 'voucher' ||
        !(await verifyFrame(stored, l.payerKey).then(
          () => true,
          () => false,
        ))
      )
        await this.damaged(r, 'the stored voucher does not verify');
      // Two different signed vouchers for one seq: a cloned or faulty payer. Keep both, refuse the channel.
      const refused = { ...copyRecord(r), evidence: [r.voucher, frame.bytes], state: 'refused' as const, updatedAt: this.now() };
      await this.commit(l, refused);
      this.emit('equivocation', { channelId: r.id, evidence: refused.evidence });
      await this.queue(l); // the evidence goes to the ledger, which disputes the channel and revokes the payer
      throw new ChannelError('CH_EQUIVOCATION', `two different vouchers for seq ${v.seq}`, 'voucher.seq');
    }
    if (v.seq <= r.seq) throw new ChannelError('CH_SEQ', `seq ${v.seq} is not above ${r.seq}`, 'voucher.seq');
    checkCheckpoint(v, l.terms.payword, 'voucher');
    if (v.cumulative < r.cumulative)
      throw new ChannelError('CH_DECREASING', `cumulative ${v.cumulative} is below ${r.cumulative}`, 'voucher.cumulative');
    const vt = v.ticks ?? 0;
    if (vt < r.voucherTicks) throw new ChannelError('CH_DECREASING', 'tick checkpoint went backwards', 'voucher.ticks');
    const before = this.total(l, r.cumulative, r.voucherTicks, r.ticks);
    const after = this.total(l, v.cumulative, vt, r.ticks);
    if (after < before) throw new ChannelError('CH_DECREASING', `total ${after} is below ${before}`, 'voucher.cumulative');
    this.checkPayment(l, after, before);
    const next = copyRecord(r);
    Object.assign(next, {
      seq: v.seq,
      cumulative: v.cumulative,
      voucher: frame.bytes,
      voucherTicks: vt,
      ticks: Math.max(r.ticks, vt),
      updatedAt: this.now(),
    });
    if (v.final) {
      next.close = await signClose(this.o.device.signer, { ...v, final: undefined });
      next.state = 'closed';
    }
    await this.commit(l, next); // durable before ack, and so before the service is delivered
    this.emit('paid', { channelId: next.id, seq: v.seq, ticks: next.ticks, total: after, delta: after - before });
    const out = [encodeAck(next.id, next.seq, next.ticks)];
    if (next.close) {
      out.push(next.close);
      this.emit('closed', { channelId: next.id, total: after, record: next });
      await this.queue(l);
    }
    return out;
  }

  /** Queues a closed (or refused) channel's record to the outbox once (see `queueFinal`); a failure is an `error` event. */
  private async queue(l: Live): Promise<void> {
    if (!this.o.outbox) return;
    const r = await queueFinal(this.o.outbox, this.o.store, l.record);
    if ('error' in r) this.emit('error', { channelId: l.record.id, error: r.error });
    else l.record = r.record;
  }

  /**
   * Queues the channel's current state as a settlement record (a checkpoint of a channel that stays open,
   * so the ledger posts what is paid so far). Closed channels queue themselves.
   * @throws ChannelError CH_UNKNOWN_CHANNEL, CH_QUEUE without an outbox; the outbox's error when it cannot take the record.
   */
  async checkpoint(channelId: Uint8Array): Promise<void> {
    const l = this.live.get(this.ids.key(channelId)) ?? (await this.load(channelId));
    if (!l) throw new ChannelError('CH_UNKNOWN_CHANNEL', 'no such channel', 'channel');
    if (!this.o.outbox) throw new ChannelError('CH_QUEUE', 'this payee has no outbox', 'outbox');
    await this.o.outbox.enqueue(l.record);
  }

  /** Stores a channel's next record, then makes it the live one (never the other way round). */
  private async commit(l: Live, next: ChannelRecord): Promise<void> {
    await this.o.store.put(next);
    l.record = next;
  }

  private async onTick(frame: TickFields): Promise<Uint8Array[]> {
    const l = await this.channelFor(frame.channelId);
    const paid: PaidEvent[] = [];
    const next = copyRecord(l.record);
    if (this.countTick(l, next, frame, paid)) {
      await this.commit(l, next);
      for (const e of paid) this.emit('paid', e);
    }
    return [encodeAck(l.record.id, l.record.seq, l.record.ticks)];
  }

  /**
   * Verifies one tick and counts it in `r`, the channel's next record (the caller stores it, then makes it
   * live, before it acks); adds its `paid` event, if anyone listens, to `paid`. False for a tick already
   * counted.
   */
  private countTick(l: Live, r: ChannelRecord, frame: TickFields, paid: PaidEvent[]): boolean {
    const pw = l.terms.payword;
    if (!pw) throw new ChannelError('CH_TICK', 'this channel has no hash chain', 'tick');
    if (frame.index <= r.ticks) return false;
    if (frame.index > pw.length) throw new ChannelError('CH_TICK', `tick ${frame.index} is beyond the hash chain`, 'tick.index');
    // What the tick would pay is checked before it is hashed: the per-payment limit then bounds the hashing.
    const before = this.total(l, r.cumulative, r.voucherTicks, r.ticks);
    const after = this.total(l, r.cumulative, r.voucherTicks, frame.index);
    this.checkPayment(l, after, before);
    // From the newest word actually verified, not from `ticks`: a voucher may have counted lost ticks.
    const known = r.tickWord && r.tickIndex !== undefined ? { word: r.tickWord, index: r.tickIndex } : { word: pw.root, index: 0 };
    if (!verifyTick(known.word, known.index, frame.word, frame.index, pw.length))
      throw new ChannelError('CH_TICK', `tick ${frame.index} does not verify against the chain`, 'tick.word');
    r.ticks = frame.index;
    r.tickWord = frame.word;
    r.tickIndex = frame.index;
    r.updatedAt = this.now();
    if (this.hears('paid')) paid.push({ channelId: r.id, seq: r.seq, ticks: r.ticks, total: after, delta: after - before });
    return true;
  }

  /**
   * Handles frames that arrived together, in order, and returns each one's answers, in the same order.
   * A run of ticks on one channel is verified tick by tick (one hash each) and stored once, with one ack
   * for the newest after its last good tick: a stream's ticks cost one store write a burst, not one each.
   * A run of vouchers on one channel, each superseding the one before, costs one signature check and one
   * write: only the newest counts (see `voucherRun`). Nothing is acknowledged, and no `paid` event fires,
   * before the record that counts it is stored.
   */
  async handleMany(frames: readonly Uint8Array[]): Promise<Uint8Array[][]> {
    const out: Uint8Array[][] = [];
    const memo: (Frame | EdgepayError | undefined)[] = [];
    const frameAt = (j: number) => (memo[j] ??= decoded(frames[j] as Uint8Array));
    for (let i = 0; i < frames.length; ) {
      const run: TickFields[] = [];
      // Views into the frames: only the word a run ends on is kept, and it is copied then.
      for (let t = fastDecodeTick(frames[i] as Uint8Array, true); t; t = fastDecodeTick(frames[i + run.length] ?? EMPTY, true)) {
        if (run.length > 0 && !equalBytes(t.channelId, (run[0] as TickFields).channelId)) break;
        run.push(t);
      }
      // A lone tick too: decoded once here, not again by `handle`.
      if (run.length > 0) {
        out.push(...(await this.tickRun(run)));
        i += run.length;
        continue;
      }
      const first = frameAt(i);
      if (first instanceof EdgepayError || first.type !== 'voucher') {
        out.push(first instanceof EdgepayError ? await this.refuse(undefined, first) : await this.handleFrame(first));
        i++;
        continue;
      }
      const vouchers = [first];
      while (i + vouchers.length < frames.length) {
        const next = frameAt(i + vouchers.length);
        if (next instanceof EdgepayError || next.type !== 'voucher' || !supersedes(next, vouchers.at(-1) as VoucherFrame)) break;
        vouchers.push(next);
      }
      out.push(...(await this.voucherRun(vouchers)));
      i += vouchers.length;
    }
    return out;
  }

  /**
   * Vouchers that queued up on one channel, each superseding the one before: only the newest counts, so
   * it alone is verified and stored, and acked for all of them (one signature check, not one each). Any
   * doubt (a resend, a repeated seq, the newest refused) and each is handled on its own, as `handle`
   * would: the same record in the end, with an answer for each. A voucher in between is never stored, so
   * whether it was genuine does not matter: it neither counts nor refuses the channel.
   */
  private async voucherRun(run: VoucherFrame[]): Promise<Uint8Array[][]> {
    const newest = run.at(-1) as VoucherFrame;
    if (run.length > 1) {
      const id = newest.voucher.channelId;
      const answers = await this.mutex
        .run(this.ids.key(id), async () => {
          const l = await this.channelFor(id);
          return (run[0] as VoucherFrame).voucher.seq > l.record.seq ? this.onVoucher(newest) : undefined;
        })
        .catch((e: unknown) => {
          if (e instanceof EdgepayError) return undefined;
          throw e;
        });
      if (answers) return run.map((_, k) => (k === run.length - 1 ? answers : []));
    }
    const out: Uint8Array[][] = [];
    for (const f of run) out.push(await this.handleFrame(f));
    return out;
  }

  private async tickRun(run: TickFields[]): Promise<Uint8Array[][]> {
    const id = (run[0] as TickFields).channelId;
    const out = run.map((): Uint8Array[] => []);
    const refuse = async (e: unknown) => (await this.refuse(id, e))[0] as Uint8Array;
    try {
      await this.mutex.run(this.ids.key(id), async () => {
        const l = await this.channelFor(id);
        const paid: PaidEvent[] = [];
        const next = copyRecord(l.record);
        let counted = false;
        let last = -1;
        for (const [k, t] of run.entries()) {
          try {
            counted = this.countTick(l, next, t, paid) || counted;
            last = k;
          } catch (e) {
            (out[k] as Uint8Array[]).push(await refuse(e));
          }
        }
        if (counted) {
          next.tickWord = new Uint8Array(next.tickWord as Uint8Array); // our own copy, not a view into the caller's frame
          await this.commit(l, next);
        }
        for (const e of paid) this.emit('paid', e);
        if (last >= 0) (out[last] as Uint8Array[]).push(encodeAck(l.record.id, l.record.seq, l.record.ticks));
      });
    } catch (e) {
      // The channel itself is refused (unknown, closed): every tick gets the answer `handle` would give it.
      const error = await refuse(e);
      return run.map(() => [error]);
    }
    return out;
  }
}

type TickFields = { channelId: Uint8Array; index: number; word: Uint8Array };
type VoucherFrame = Extract<Frame, { type: 'voucher' }>;
const EMPTY = new Uint8Array(0);

/** A frame decoded, or the error that says why it is not one. */
function decoded(bytes: Uint8Array): Frame | EdgepayError {
  try {
    return decodeFrame(bytes);
  } catch (e) {
    if (e instanceof EdgepayError) return e;
    throw e;
  }
}

/**
 * Whether `b` supersedes `a` on its face (signatures unchecked): the same channel, a higher seq, the same
 * tick checkpoint and no less owed, and `a` not a final one. Then whatever ticks the channel has counted,
 * `b` owes at least what `a` does, so if `b` is genuine and within the limits, handling `a` first would
 * not change what is stored in the end. (A changed checkpoint moves ticks into the cumulative amount at
 * the channel's tick value: judged one by one.)
 */
function supersedes(b: VoucherFrame, a: VoucherFrame): boolean {
  const [x, y] = [a.voucher, b.voucher];
  return (
    equalBytes(x.channelId, y.channelId) && y.seq > x.seq && (y.ticks ?? 0) === (x.ticks ?? 0) && y.cumulative >= x.cumulative && !x.final
  );
}
