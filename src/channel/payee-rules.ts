/**
 * @module channel/payee-rules
 * The payee's rules, frame by frame: verifies everything offline and stores the newest payment durably
 * before it acknowledges (and so before the service it pays for is delivered). `Payee` (payee.ts) adds
 * resuming after a restart and frames that arrive together.
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
import { sameContent } from '../codec/cose-sign1.js';
import { ChannelError, EdgepayError } from '../errors.js';
import { Emitter } from '../events.js';
import { type VerifiedChain, verifyChain } from '../identity/chain.js';
import type { Limits } from '../identity/claims.js';
import type { Device } from '../identity/device.js';
import type { TrustRoot, TrustStore } from '../identity/trust-store.js';
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
  tryDecodeFrame,
  verifyFrame,
} from './messages.js';
import { KeyedMutex } from './mutex.js';
import { type Reservation, verifyReservation } from './reservation.js';
import { type SettlementSink, Settling } from './sink.js';
import { type ChannelRecord, type ChannelStore, copyRecord } from './store.js';
import { checkStored } from './stored.js';

/** A payment the Payee accepted and stored: the channel, what it added, and the channel's new totals. */
export interface PaidEvent {
  channelId: Uint8Array;
  seq: number;
  ticks: number;
  /** Everything owed on the channel now (vouchers and ticks). */
  total: bigint;
  /** What this message added (a run of vouchers handled together: all of them). */
  delta: bigint;
}

/** What a Payee reports: opens, payments, closes, equivocation, refusals, damaged stored channels, failures to queue. */
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

/** A Payee's device, the trust it checks payers against, its channel store, and where its settlements queue. */
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

export interface Live {
  record: ChannelRecord;
  terms: OpenTerms;
  payerKey: Uint8Array;
  limits: Limits;
}

/** The payee's rules for one frame at a time; use {@link Payee}. */
export class PayeeRules extends Emitter<PayeeEvents> {
  protected readonly live = new Map<string, Live>();
  protected readonly mutex = new KeyedMutex();
  protected readonly ids = new IdKeys();
  protected readonly now: () => number;

  protected readonly settling: Settling;

  constructor(protected readonly o: PayeeOptions) {
    super();
    this.settling = new Settling(o.outbox, o.store, (channelId, error) => this.emit('error', { channelId, error }));
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }
  protected async revive(record: ChannelRecord): Promise<Live | undefined> {
    // The payer's chain judged as of now for revocation, but not for expiry: a stored channel's payments stay
    // owed. Its newest voucher is what this payee would settle and judge the next one by: checked again.
    let limits: Limits | undefined;
    const found = await checkStored(record, async (t) => {
      const v = await verifyChain(t.chain, { trust: this.o.trust, now: this.now(), skewSeconds: this.o.skewSeconds, skipTimeCheck: true });
      limits = v.limits;
      return v.publicKey;
    });
    if ('damaged' in found) return this.damaged(record, found.damaged);
    const live = { record, terms: found.terms, payerKey: found.payerKey, limits: limits as Limits };
    this.live.set(this.ids.key(record.id), live);
    return live;
  }

  /** Sets a channel aside whose stored state does not hold together, says so, and refuses it (throws). */
  protected async damaged(record: ChannelRecord, why: string): Promise<never> {
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
    const frame = tryDecodeFrame(bytes);
    return frame instanceof EdgepayError ? this.refuse(undefined, frame) : this.handleFrame(frame);
  }

  protected async handleFrame(frame: Frame): Promise<Uint8Array[]> {
    const channelId = 'channelId' in frame ? frame.channelId : frame.type === 'voucher' ? frame.voucher.channelId : undefined;
    try {
      return await this.mutex.run(channelId ? this.ids.key(channelId) : '', () => this.dispatch(frame));
    } catch (e) {
      return this.refuse(channelId, e);
    }
  }

  /** Bad input becomes an error frame for the payer and a `rejected` event; anything else is thrown. */
  protected async refuse(channelId: Uint8Array | undefined, e: unknown): Promise<Uint8Array[]> {
    if (!(e instanceof EdgepayError)) throw e;
    this.emit('rejected', { channelId, error: e });
    return [await signError(this.o.device.signer, channelId, e.code, e.message)];
  }

  protected async dispatch(frame: Frame): Promise<Uint8Array[]> {
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

  protected async onOpen(frame: Extract<Frame, { type: 'open' }>): Promise<Uint8Array[]> {
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

  protected async channelFor(id: Uint8Array): Promise<Live> {
    const live = this.live.get(this.ids.key(id)) ?? (await this.load(id));
    if (!live) throw new ChannelError('CH_UNKNOWN_CHANNEL', 'no such channel', 'channel');
    if (live.record.state === 'refused') throw new ChannelError('CH_REFUSED', 'this channel is refused (equivocation)', 'channel');
    if (live.record.state === 'closed') throw new ChannelError('CH_CLOSED', 'this channel is closed', 'channel');
    return live;
  }

  protected async load(id: Uint8Array): Promise<Live | undefined> {
    const record = await this.o.store.get(id);
    return record?.role === 'payee' ? this.revive(record) : undefined;
  }

  protected total(l: Live, cumulative: bigint, voucherTicks: number, ticks: number): bigint {
    return cumulative + BigInt(Math.max(0, ticks - voucherTicks)) * (l.terms.payword?.tickValue ?? 0n);
  }

  protected checkPayment(l: Live, total: bigint, previous: bigint): void {
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

  protected async onVoucher(frame: Extract<Frame, { type: 'voucher' }>): Promise<Uint8Array[]> {
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
      // The same voucher signed again (ECDSA signers pick a fresh nonce): a resend, not a second voucher.
      if (stored.type === 'voucher' && sameContent(stored.sign1, frame.sign1)) return [encodeAck(r.id, r.seq, r.ticks)];
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

  /** Queues a closed (or refused) channel's record to the outbox once; a failure is an `error` event. */
  protected async queue(l: Live): Promise<void> {
    l.record = await this.settling.final(l.record);
  }

  /**
   * Queues the channel's current state as a settlement record (a checkpoint: the ledger posts what is paid
   * so far). Closed channels queue themselves.
   * @throws ChannelError CH_UNKNOWN_CHANNEL, CH_QUEUE without an outbox; the outbox's error when it cannot take the record.
   */
  async checkpoint(channelId: Uint8Array): Promise<void> {
    const l = this.live.get(this.ids.key(channelId)) ?? (await this.load(channelId));
    if (!l) throw new ChannelError('CH_UNKNOWN_CHANNEL', 'no such channel', 'channel');
    await this.settling.checkpoint(l.record);
  }

  /** Stores a channel's next record, then makes it the live one (never the other way round). */
  protected async commit(l: Live, next: ChannelRecord): Promise<void> {
    await this.o.store.put(next);
    l.record = next;
  }

  protected async onTick(frame: TickFields): Promise<Uint8Array[]> {
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
  protected countTick(l: Live, r: ChannelRecord, frame: TickFields, paid: PaidEvent[]): boolean {
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
}

export type TickFields = { channelId: Uint8Array; index: number; word: Uint8Array };
