/**
 * @module channel/metered
 * Pay as you consume. The payee prices a unit (the channel's `unitPrice`) and delivers at most
 * `creditUnits` beyond what has been paid; the payer pays ahead as it consumes. When payment stops, the
 * service stops: `deliver` refuses and `stalled` fires. A closed channel's record goes to the outbox the
 * payer and payee were given (their `outbox` option), on both sides.
 */
import { equalBytes } from '../bytes.js';
import { ChannelError } from '../errors.js';
import { Emitter } from '../events.js';
import type { Payee } from './payee.js';
import type { Payer } from './payer.js';
import type { PayerSession } from './session.js';
import type { ChannelRecord } from './store.js';

export type MeteredServiceEvents = {
  delivered: (e: { units: number; paidUnits: number }) => void;
  paid: (e: { total: bigint; paidUnits: number }) => void;
  stalled: (e: { units: number; paidUnits: number }) => void;
  closed: (e: { total: bigint; units: number; record: ChannelRecord }) => void;
};

export interface MeteredServiceOptions {
  payee: Payee;
  channelId: Uint8Array;
  /** Price of one unit in minor units (the channel's `unitPrice`). */
  unitPrice: bigint;
  /** Units the payee delivers ahead of payment: its risk, bounded. */
  creditUnits: number;
}

/** The payee's side: deliver only what is paid for, plus a bounded credit. */
export class MeteredService extends Emitter<MeteredServiceEvents> {
  /** Units delivered so far. */
  units = 0;
  /** Units covered by payments so far. */
  paidUnits = 0;
  total = 0n;

  constructor(private readonly o: MeteredServiceOptions) {
    super();
    if (o.unitPrice <= 0n) throw new ChannelError('CH_TERMS', 'a metered channel needs a positive unit price', 'unitPrice');
    o.payee.on('paid', (e) => {
      if (!equalBytes(e.channelId, o.channelId)) return;
      this.total = e.total;
      this.paidUnits = Number(e.total / o.unitPrice);
      this.emit('paid', { total: e.total, paidUnits: this.paidUnits });
    });
    o.payee.on('closed', (e) => {
      if (!equalBytes(e.channelId, o.channelId)) return;
      this.emit('closed', { total: e.total, units: this.units, record: e.record });
    });
  }

  /** Whether one more unit may be delivered now. */
  canDeliver(): boolean {
    return this.units < this.paidUnits + this.o.creditUnits;
  }

  /** Delivers up to `n` units; returns how many were allowed. Fires `delivered`, or `stalled` when none were. */
  deliver(n = 1): number {
    let done = 0;
    while (done < n && this.canDeliver()) {
      this.units++;
      done++;
    }
    if (done > 0) this.emit('delivered', { units: this.units, paidUnits: this.paidUnits });
    else this.emit('stalled', { units: this.units, paidUnits: this.paidUnits });
    return done;
  }
}

export type MeteredPayerEvents = {
  paid: (e: { paidUnits: number }) => void;
  closed: (e: { record: ChannelRecord }) => void;
};

export interface MeteredPayerOptions {
  session: PayerSession;
  /** The payee's address on the transport. */
  address: string;
  channelId: Uint8Array;
  unitPrice: bigint;
  /** Units to keep paid ahead of consumption (at most the payee's credit window, to avoid stalls). */
  aheadUnits: number;
}

/** The payer's side: pays as units arrive, by hash-chain ticks when one tick is one unit, else vouchers. */
export class MeteredPayer extends Emitter<MeteredPayerEvents> {
  paidUnits = 0;
  private readonly payer: Payer;

  constructor(private readonly o: MeteredPayerOptions) {
    super();
    this.payer = o.session.payer;
    this.payer.on('closed', (e) => {
      if (!equalBytes(e.channelId, o.channelId)) return;
      this.emit('closed', { record: e.record });
    });
  }

  /** Records `consumed` units received in total and pays so that `aheadUnits` more are covered. */
  async consumed(consumed: number): Promise<void> {
    const target = consumed + this.o.aheadUnits;
    if (target <= this.paidUnits) return;
    if (this.payer.terms(this.o.channelId)?.payword?.tickValue === this.o.unitPrice) {
      while (this.paidUnits < target) {
        await this.o.session.tick(this.o.address, this.o.channelId);
        this.paidUnits++;
      }
    } else {
      const units = target - this.paidUnits;
      await this.o.session.pay(this.o.address, this.o.channelId, BigInt(units) * this.o.unitPrice, BigInt(target));
      this.paidUnits = target;
    }
    this.emit('paid', { paidUnits: this.paidUnits });
  }

  close(): Promise<void> {
    return this.o.session.close(this.o.address, this.o.channelId);
  }
}
