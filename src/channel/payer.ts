/**
 * @module channel/payer
 * The payer's side of channels. Before it signs, the payer durably records the seq and the amount the
 * voucher will carry: after a crash it re-signs exactly the same bytes (Ed25519 is deterministic), so it
 * can never reuse a seq for a different amount. It also keeps its own credential's limits: per payment,
 * per channel, the total outstanding over its open channels, and what it may spend in a period over all
 * its channels (windows of `periodSeconds` aligned to the Unix epoch, so a day is a UTC day).
 */
import { equalBytes } from '../bytes.js';
import { MAX_COUNTER } from '../codec/fields.js';
import { randomBytes } from '../crypto/hash.js';
import { ChannelError, EdgepayError } from '../errors.js';
import { Emitter } from '../events.js';
import { type VerifiedChain, verifyChain } from '../identity/chain.js';
import type { Device } from '../identity/device.js';
import type { TrustStore } from '../identity/trust-store.js';
import { TickPool } from './fastframe.js';
import { HashChain, MAX_CHAIN_LENGTH } from './hashchain.js';
import { answerHello, signHello } from './hello.js';
import { IdKeys } from './keys.js';
import { decodeFrame, encodeTick, encodeTicks, type Frame, type OpenTerms, signOpen, signVoucher, verifyFrame } from './messages.js';
import { KeyedMutex } from './mutex.js';
import { type SettlementSink, Settling } from './sink.js';
import { type ChannelRecord, type ChannelStore, copyRecord } from './store.js';
import { checkStored } from './stored.js';

/** What a Payer reports: acceptances, acknowledgements, closes, refusals, damaged stored channels, failures to queue. */
export type PayerEvents = {
  accepted: (e: { channelId: Uint8Array; payee: VerifiedChain }) => void;
  acked: (e: { channelId: Uint8Array; seq: number; ticks: number }) => void;
  closed: (e: { channelId: Uint8Array; record: ChannelRecord }) => void;
  refused: (e: { channelId: Uint8Array | undefined; code: string; message: string }) => void;
  /** A closed channel's settlement record could not be queued (the outbox failed): it is queued again on resume. */
  error: (e: { channelId: Uint8Array; error: EdgepayError }) => void;
  /**
   * A stored channel that failed its checks on load (CH_STORE_DAMAGED): set aside, never paid on again, so
   * damage can never make this payer sign a second voucher for a seq it used.
   */
  damaged: (e: { channelId: Uint8Array; error: EdgepayError }) => void;
};

/** A Payer's device, the trust it checks payees against, its channel store, and where its settlements queue. */
export interface PayerOptions {
  /** This payer: its key, its chain and what the chain proves (its limits): `openDevice(...)`. */
  device: Device;
  trust: TrustStore;
  store: ChannelStore;
  /** Where each closed channel's settlement record goes: `settlements(outbox)` from edgepay/settlement. */
  outbox?: SettlementSink;
  now?: () => number;
  skewSeconds?: number;
}

export interface OpenRequest {
  payeeKid: Uint8Array;
  cap: bigint;
  unitPrice?: bigint;
  /** Seconds the channel stays open (default 1 day, never beyond the credential). */
  ttlSeconds?: number;
  /** Stream equal units with hash-chain ticks: `length` ticks of `tickValue` each. */
  payword?: { length: number; tickValue: bigint };
  reservation?: Uint8Array;
}

interface Live {
  record: ChannelRecord;
  terms: OpenTerms;
  hashChain?: HashChain;
  payeeKey?: Uint8Array;
  /** Space for this channel's tick frames (made at its first tick). */
  tickPool?: TickPool;
  acked: number;
  ackedTicks: number;
}

/**
 * The paying side of channels: opens them within its credential's limits, signs vouchers and releases ticks
 * offline, storing each before it is sent.
 */
export class Payer extends Emitter<PayerEvents> {
  private readonly live = new Map<string, Live>();
  private readonly mutex = new KeyedMutex();
  private readonly ids = new IdKeys();
  private readonly now: () => number;
  /** What all channels spent in the newest per-period window (start -1: not worked out yet). */
  private period = { start: -1, spent: 0n };
  readonly kid: Uint8Array;

  private readonly self: VerifiedChain;

  private readonly settling: Settling;

  constructor(private readonly o: PayerOptions) {
    super();
    this.settling = new Settling(o.outbox, o.store, (channelId, error) => this.emit('error', { channelId, error }));
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.kid = o.device.kid;
    this.self = o.device.facts;
  }

  /**
   * Reloads channels after a restart; hash chains are rebuilt from their stored seeds. Each stored record is
   * checked against the frames it holds (its newest voucher is its seq, amount and checkpoint, signed by
   * this payer): one that does not hold together is set aside and reported (`damaged`), one whose payee is
   * now refused is reported (`refused`); the others resume.
   */
  async resume(): Promise<ChannelRecord[]> {
    const out: ChannelRecord[] = [];
    for (const record of await this.o.store.list()) {
      if (record.role !== 'payer') continue;
      try {
        out.push(await this.revive(record));
        // A close whose record never reached the outbox (a crash, a full disk) is queued now.
        if (record.state === 'closed') await this.queue(this.live.get(this.ids.key(record.id)) as Live);
      } catch (e) {
        if (!(e instanceof EdgepayError)) throw e;
        if (e.code === 'CH_STORE_DAMAGED') {
          await this.o.store.setAside?.(record.id, e);
          this.emit('damaged', { channelId: record.id, error: e });
        } else this.emit('refused', { channelId: record.id, code: e.code, message: e.message });
      }
    }
    this.period = { start: -1, spent: 0n };
    return out;
  }

  private async revive(record: ChannelRecord): Promise<ChannelRecord> {
    const damaged = (why: string): never => {
      throw new ChannelError('CH_STORE_DAMAGED', why, 'store');
    };
    const found = await checkStored(record, async () => this.o.device.signer.publicKey);
    if ('damaged' in found) return damaged(found.damaged);
    const terms = found.terms;
    if (terms.payword && !record.seed) damaged('the hash chain seed is missing');
    const live: Live = { record, terms, acked: 0, ackedTicks: 0 };
    if (terms.payword && record.seed) {
      live.hashChain = new HashChain(terms.payword.length, record.seed);
      if (!equalBytes(live.hashChain.root, terms.payword.root)) damaged('the hash chain seed does not give the committed root');
    }
    if (record.accept) {
      const a = decodeFrame(record.accept);
      if (a.type !== 'accept' || !equalBytes(a.channelId, record.id)) damaged('the stored accept is not this channel');
      live.payeeKey = (
        await verifyChain((a as Extract<Frame, { type: 'accept' }>).chain, { trust: this.o.trust, now: this.now(), skipTimeCheck: true })
      ).publicKey;
    }
    this.live.set(this.ids.key(record.id), live);
    return record;
  }

  channel(id: Uint8Array): ChannelRecord | undefined {
    return this.live.get(this.ids.key(id))?.record;
  }

  /** The signed terms of a channel. */
  terms(id: Uint8Array): OpenTerms | undefined {
    return this.live.get(this.ids.key(id))?.terms;
  }

  /** Sum of what this payer's open channels may still owe (their caps), for the total-outstanding limit. */
  outstanding(): bigint {
    let n = 0n;
    for (const l of this.live.values()) if (l.record.state !== 'closed' && l.record.state !== 'refused') n += l.terms.cap;
    return n;
  }

  /** What this payer has spent over all its channels in the current per-period window, and its limit. */
  spentThisPeriod(): { start: number; end: number; spent: bigint; limit: bigint } {
    const p = this.periodAt(this.now());
    return { start: p.start, end: p.start + this.self.limits.periodSeconds, spent: p.spent, limit: this.self.limits.perPeriod };
  }

  /**
   * The window `now` falls in, with what was spent in it. A clock set back never reopens an earlier
   * window: the newest window any channel spent in stays current until the clock passes it.
   */
  private periodAt(now: number): { start: number; spent: bigint } {
    let start = now - (now % this.self.limits.periodSeconds);
    if (start <= this.period.start) return this.period;
    if (this.period.start < 0) for (const l of this.live.values()) start = Math.max(start, l.record.periodStart ?? 0);
    let spent = 0n;
    for (const l of this.live.values()) if (l.record.periodStart === start) spent += l.record.periodSpent ?? 0n;
    this.period = { start, spent };
    return this.period;
  }

  /**
   * Counts `amount` against the per-period limit and on `r`, the channel's next record (which the caller
   * stores before anything leaves). Synchronous, so payments on other channels see it at once; returns
   * the undo for a payment that then fails.
   */
  private spend(r: ChannelRecord, amount: bigint, field: string): () => void {
    if (amount === 0n) return () => {};
    const p = this.periodAt(this.now());
    const limit = this.self.limits.perPeriod;
    if (p.spent + amount > limit)
      throw new ChannelError('CH_PERIOD', `spending ${amount} more would pass the per-period limit ${limit} (${p.spent} spent)`, field);
    p.spent += amount;
    r.periodSpent = (r.periodStart === p.start ? (r.periodSpent ?? 0n) : 0n) + amount;
    r.periodStart = p.start;
    return () => {
      p.spent -= amount;
    };
  }

  /**
   * Stores a channel's next record, then makes it the live one: a payment whose signature or write fails
   * changes nothing (its seq is used again; nothing signed with it left). `undo` gives back its spend.
   */
  private async commit(l: Live, next: ChannelRecord, undo: () => void = () => {}): Promise<void> {
    try {
      await this.o.store.put(next);
    } catch (e) {
      undo();
      throw e;
    }
    l.record = next;
  }

  /**
   * Opens a channel: signs the terms and stores the channel before the open frame leaves.
   * @throws ChannelError CH_LIMIT when the cap exceeds the per-channel limit or the total outstanding.
   */
  async open(req: OpenRequest): Promise<{ channelId: Uint8Array; frame: Uint8Array }> {
    const lim = this.self.limits;
    if (req.cap > lim.perChannel)
      throw new ChannelError('CH_LIMIT', `cap ${req.cap} exceeds the per-channel limit ${lim.perChannel}`, 'cap');
    if (this.outstanding() + req.cap > lim.totalOutstanding)
      throw new ChannelError('CH_LIMIT', `the total outstanding would exceed ${lim.totalOutstanding}`, 'cap');
    if (req.payword) {
      const { length, tickValue } = req.payword;
      if (!Number.isSafeInteger(length) || length < 1 || length > MAX_CHAIN_LENGTH)
        throw new ChannelError('CH_TICK', `a hash chain of 1 to ${MAX_CHAIN_LENGTH} ticks`, 'payword.length');
      if (tickValue < 1n || tickValue > lim.perPayment)
        throw new ChannelError('CH_LIMIT', `a tick is worth 1 to ${lim.perPayment} (the per-payment limit)`, 'payword.tickValue');
    }
    const hashChain = req.payword ? new HashChain(req.payword.length) : undefined;
    const now = this.now();
    const terms: OpenTerms = {
      chain: this.o.device.chain,
      payeeKid: req.payeeKid,
      asset: lim.asset,
      cap: req.cap,
      unitPrice: req.unitPrice ?? 0n,
      expiresAt: Math.min(now + (req.ttlSeconds ?? 86_400), this.self.validUntil),
      nonce: randomBytes(16),
      payword:
        req.payword && hashChain ? { root: hashChain.root, length: req.payword.length, tickValue: req.payword.tickValue } : undefined,
      reservation: req.reservation,
    };
    const { bytes, channelId } = await signOpen(this.o.device.signer, terms);
    const record: ChannelRecord = {
      id: channelId,
      role: 'payer',
      state: 'opening',
      open: bytes,
      seq: 0,
      cumulative: 0n,
      voucherTicks: 0,
      ticks: 0,
      seed: hashChain?.seed,
      updatedAt: now,
    };
    await this.o.store.put(record);
    this.live.set(this.ids.key(channelId), { record, terms, hashChain, acked: 0, ackedTicks: 0 });
    return { channelId, frame: bytes };
  }

  private get(id: Uint8Array, open = true): Live {
    const l = this.live.get(this.ids.key(id));
    if (!l) throw new ChannelError('CH_UNKNOWN_CHANNEL', 'no such channel', 'channel');
    if (open && l.record.state !== 'open') throw new ChannelError('CH_NOT_OPEN', `the channel is ${l.record.state}`, 'channel');
    return l;
  }

  /**
   * Pays `amount` more on a channel: returns the signed voucher frame to send.
   * @throws ChannelError CH_LIMIT (per-payment limit), CH_PERIOD (per-period limit), CH_OVER_CAP, CH_NOT_OPEN,
   * CH_EXPIRED.
   */
  pay(channelId: Uint8Array, amount: bigint, options: { meter?: bigint; final?: boolean } = {}): Promise<Uint8Array> {
    return this.mutex.run(this.ids.key(channelId), () => this.payNow(channelId, amount, options));
  }

  private async payNow(channelId: Uint8Array, amount: bigint, options: { meter?: bigint; final?: boolean }): Promise<Uint8Array> {
    const l = this.get(channelId);
    const r = l.record;
    if (amount < 0n) throw new ChannelError('CH_LIMIT', 'a payment is not negative', 'amount');
    if (amount > this.self.limits.perPayment)
      throw new ChannelError('CH_LIMIT', `payment ${amount} exceeds the per-payment limit ${this.self.limits.perPayment}`, 'amount');
    if (r.seq >= MAX_COUNTER) throw new ChannelError('CH_LIMIT', 'the channel has used every seq: open another', 'channel');
    if (this.now() > l.terms.expiresAt) throw new ChannelError('CH_EXPIRED', 'the channel has expired', 'channel');
    // Ticks revealed so far become part of the signed amount: the voucher checkpoints them.
    const tickValue = l.terms.payword?.tickValue ?? 0n;
    const cumulative = r.cumulative + BigInt(r.ticks - r.voucherTicks) * tickValue + amount;
    if (cumulative > l.terms.cap)
      throw new ChannelError('CH_OVER_CAP', `cumulative ${cumulative} would exceed the cap ${l.terms.cap}`, 'amount');
    const next = copyRecord(r);
    const undo = this.spend(next, amount, 'amount'); // ticks in `cumulative` were counted when they were revealed
    const v = {
      channelId,
      seq: r.seq + 1,
      cumulative,
      ticks: l.terms.payword ? r.ticks : undefined,
      meter: options.meter,
      final: options.final,
    };
    Object.assign(next, { seq: v.seq, cumulative, voucherTicks: r.ticks, updatedAt: this.now() });
    if (options.final) next.state = 'closing';
    let voucher: Uint8Array;
    try {
      voucher = await signVoucher(this.o.device.signer, v);
    } catch (e) {
      undo();
      throw e;
    }
    next.voucher = voucher;
    await this.commit(l, next, undo); // seq, amount and voucher durable before the voucher leaves
    return voucher;
  }

  /**
   * Reveals the next hash-chain tick (one unit of `tickValue`). Stored before it leaves.
   * @throws ChannelError CH_TICK when the channel has no hash chain or it is used up; CH_OVER_CAP; CH_PERIOD.
   */
  async tick(channelId: Uint8Array): Promise<Uint8Array> {
    return (await this.ticks(channelId, 1))[0] as Uint8Array;
  }

  /**
   * Reveals the next `count` ticks at once, for a stream that runs ahead of its acks: one store write for
   * all of them (before any leaves), then one frame each, in order. All or none: the whole burst must fit
   * the chain, the cap and the period's limit.
   * @throws ChannelError as {@link tick}; CH_TICK for a count that is not a positive integer.
   */
  ticks(channelId: Uint8Array, count: number): Promise<Uint8Array[]> {
    return this.mutex.run(this.ids.key(channelId), () => this.ticksNow(channelId, count));
  }

  private async ticksNow(channelId: Uint8Array, count: number): Promise<Uint8Array[]> {
    const l = this.get(channelId);
    const pw = l.terms.payword;
    if (!pw || !l.hashChain) throw new ChannelError('CH_TICK', 'this channel has no hash chain', 'channel');
    if (!Number.isSafeInteger(count) || count < 1) throw new ChannelError('CH_TICK', `${count} is not a number of ticks`, 'count');
    const r = l.record;
    const first = r.ticks + 1;
    const last = r.ticks + count;
    if (last > pw.length) throw new ChannelError('CH_TICK', 'the hash chain is used up', 'channel');
    if (r.cumulative + BigInt(last - r.voucherTicks) * pw.tickValue > l.terms.cap)
      throw new ChannelError('CH_OVER_CAP', 'the tick would exceed the cap', 'channel');
    const next = copyRecord(r);
    const undo = this.spend(next, BigInt(count) * pw.tickValue, 'channel');
    next.ticks = last;
    next.updatedAt = this.now();
    await this.commit(l, next, undo);
    const words = new Array<Uint8Array>(count);
    for (let i = first; i <= last; i++) words[i - first] = l.hashChain.word(i);
    l.tickPool ??= new TickPool();
    return encodeTicks(channelId, first, words, l.tickPool);
  }

  /**
   * The newest tick frame again (or undefined). A lost tick needs no resend of its own: the newest one
   * verifies from any older word the payee holds, so resending it covers every tick before it.
   */
  lastTick(channelId: Uint8Array): Uint8Array | undefined {
    const l = this.get(channelId, false);
    return l.hashChain && l.record.ticks > 0 ? encodeTick(channelId, l.record.ticks, l.hashChain.word(l.record.ticks)) : undefined;
  }

  /** Queues a closed channel's record to the outbox once; a failure is an `error` event. */
  private async queue(l: Live): Promise<void> {
    l.record = await this.settling.final(l.record);
  }

  /**
   * Queues the channel's current state as a settlement record (a checkpoint: the ledger posts what is paid
   * so far). Closed channels queue themselves.
   * @throws ChannelError CH_UNKNOWN_CHANNEL, CH_QUEUE without an outbox; the outbox's error when it cannot take the record.
   */
  async checkpoint(channelId: Uint8Array): Promise<void> {
    await this.settling.checkpoint(this.get(channelId, false).record);
  }

  /** Asks the payee to close: a final voucher for everything paid so far. */
  close(channelId: Uint8Array): Promise<Uint8Array> {
    return this.pay(channelId, 0n, { final: true });
  }

  /** Payments acknowledged by the payee so far (seq and ticks), for flow control. */
  acked(channelId: Uint8Array): { seq: number; ticks: number } {
    const l = this.get(channelId, false);
    return { seq: l.acked, ticks: l.ackedTicks };
  }

  /**
   * Handles a frame from a payee (accept, ack, close, error, hello, revocation list) and returns the frames
   * to send back (only a hello is answered). Bad frames are ignored with a `refused` event.
   */
  async handle(bytes: Uint8Array): Promise<Uint8Array[]> {
    try {
      return (await this.dispatch(decodeFrame(bytes))) ?? [];
    } catch (e) {
      if (!(e instanceof EdgepayError)) throw e;
      this.emit('refused', { channelId: undefined, code: e.code, message: e.message });
      return [];
    }
  }

  /** A hello announcing this payer's chain and revocation versions (a payee answers with newer lists). */
  hello(): Promise<Uint8Array> {
    return signHello(this.o.device.signer, this.o.device.chain, this.o.trust);
  }

  private async dispatch(frame: Frame): Promise<Uint8Array[] | undefined> {
    switch (frame.type) {
      case 'accept': {
        const l = this.get(frame.channelId, false);
        if (l.record.state !== 'opening') return; // a repeated accept
        const payee = await verifyChain(frame.chain, {
          trust: this.o.trust,
          now: this.now(),
          skewSeconds: this.o.skewSeconds,
          counterpartyCategory: this.self.deviceCategory,
        });
        if (!equalBytes(payee.kid, l.terms.payeeKid)) throw new ChannelError('CH_TERMS', 'accepted by another payee', 'accept.chain');
        await verifyFrame(frame, payee.publicKey);
        l.payeeKey = payee.publicKey;
        await this.commit(l, { ...copyRecord(l.record), state: 'open', accept: frame.bytes, updatedAt: this.now() });
        this.emit('accepted', { channelId: frame.channelId, payee });
        return;
      }
      case 'ack': {
        const l = this.get(frame.channelId, false);
        l.acked = Math.max(l.acked, frame.seq);
        l.ackedTicks = Math.max(l.ackedTicks, frame.ticks);
        if (this.hears('acked')) this.emit('acked', { channelId: frame.channelId, seq: l.acked, ticks: l.ackedTicks });
        return;
      }
      case 'close': {
        const l = this.get(frame.voucher.channelId, false);
        if (!l.payeeKey) throw new ChannelError('CH_UNEXPECTED', 'close before accept', 'close');
        await verifyFrame(frame, l.payeeKey);
        if (frame.voucher.seq !== l.record.seq || frame.voucher.cumulative !== l.record.cumulative)
          throw new ChannelError('CH_TERMS', 'the close does not countersign our final voucher', 'close');
        await this.commit(l, { ...copyRecord(l.record), state: 'closed', close: frame.bytes, updatedAt: this.now() });
        this.emit('closed', { channelId: l.record.id, record: l.record });
        await this.queue(l);
        return;
      }
      case 'error':
        this.emit('refused', { channelId: frame.channelId, code: frame.code, message: frame.message });
        return;
      case 'revocation':
        await this.o.trust.applyRevocationList(frame.bytes);
        return;
      case 'hello':
        await verifyFrame(frame, (await verifyChain(frame.chain, { trust: this.o.trust, now: this.now(), skipTimeCheck: true })).publicKey);
        return answerHello(frame, { signer: this.o.device.signer, chain: this.o.device.chain, trust: this.o.trust, now: this.now() });
      default:
        throw new ChannelError('CH_UNEXPECTED', `a payer does not take ${frame.type} frames`, 'frame');
    }
  }
}
