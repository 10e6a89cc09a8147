/**
 * @module channel/store
 * Durable channel state. The payee stores the newest voucher before it acknowledges or delivers what it
 * pays for; the payer stores its next seq (and the amount) before it signs. `put` resolves only once the
 * record is durable. Stores: memory (here), a Node file store, an IndexedDB store; one abstract suite.
 */
import { type CborValue, decode, encode } from '../codec/cbor.js';
import { asAmount, asArray, asBool, asBytes, asInt, asMap, asTime, asUint, need } from '../codec/fields.js';
import { ChannelError, CodecError, type EdgepayError } from '../errors.js';
import { IdKeys } from './keys.js';

export type ChannelRole = 'payer' | 'payee';
export type ChannelState = 'opening' | 'open' | 'closing' | 'closed' | 'refused';

/**
 * A channel's durable state, as either side stores it: its signed frames (open, accept, newest voucher,
 * close) and the counters derived from them.
 */
export interface ChannelRecord {
  id: Uint8Array;
  role: ChannelRole;
  state: ChannelState;
  /** The payer-signed open frame. */
  open: Uint8Array;
  /** The payee-signed accept frame. */
  accept?: Uint8Array | undefined;
  /** Payer: the highest seq reserved (stored before signing). Payee: the newest accepted seq. */
  seq: number;
  /** The newest voucher's cumulative amount. */
  cumulative: bigint;
  /** The newest signed voucher (payer: signed; payee: accepted). */
  voucher?: Uint8Array | undefined;
  /** Ticks the newest voucher includes (its checkpoint). */
  voucherTicks: number;
  /** Payer: ticks revealed. Payee: ticks verified. */
  ticks: number;
  /** Payee: the newest verified tick word, and its index. A voucher's checkpoint can raise `ticks` past
   * it (the payer counted ticks the payee never saw), so the next tick verifies from this word. */
  tickWord?: Uint8Array | undefined;
  tickIndex?: number | undefined;
  /** Payer: the PayWord seed (secret: it yields every future tick). */
  seed?: Uint8Array | undefined;
  /** The payee's countersignature of the final state (cooperative close). */
  close?: Uint8Array | undefined;
  /** Equivocation evidence: two different signed vouchers for one seq. */
  evidence?: Uint8Array[] | undefined;
  /** Payer: the start (Unix seconds) of the per-period window this channel last spent in, and what it
   * spent in that window (vouchers' increases and ticks), for the credential's per-period limit. */
  periodStart?: number | undefined;
  periodSpent?: bigint | undefined;
  /** A closed (or refused) channel whose settlement record has reached the outbox: nothing more to queue. */
  queued?: boolean | undefined;
  updatedAt: number;
}

/**
 * Where a Payer or Payee keeps its channels; each `put` is durable before it resolves (file, IndexedDB, or
 * memory for tests).
 */
export interface ChannelStore {
  /** The channel's record, or undefined. @throws ChannelError CH_STORE_DAMAGED for a damaged (set aside) record. */
  get(id: Uint8Array): Promise<ChannelRecord | undefined>;
  /** Resolves once `record` is durable. */
  put(record: ChannelRecord): Promise<void>;
  /** Every intact record: a damaged one is set aside and reported (the store's `onDamage`), not thrown. */
  list(): Promise<ChannelRecord[]>;
  /** Sets aside a record its owner found inconsistent on load; `get` refuses it from then on. */
  setAside?(id: Uint8Array, reason: EdgepayError): Promise<void>;
}

/** Told of each damaged channel record a store set aside (a ChannelError CH_STORE_DAMAGED naming it). */
export type DamageHandler = (e: ChannelError) => void;

const ROLES: ChannelRole[] = ['payer', 'payee'];
const STATES: ChannelState[] = ['opening', 'open', 'closing', 'closed', 'refused'];

/** A record as deterministic CBOR (file and IndexedDB stores keep these bytes). */
export function encodeRecord(r: ChannelRecord): Uint8Array {
  const m = new Map<number, CborValue>([
    [1, r.id],
    [2, ROLES.indexOf(r.role)],
    [3, STATES.indexOf(r.state)],
    [4, r.open],
    [5, r.seq],
    [6, r.cumulative],
    [7, r.voucherTicks],
    [8, r.ticks],
    [9, r.updatedAt],
  ]);
  const opt: [number, CborValue | undefined][] = [
    [10, r.accept],
    [11, r.voucher],
    [12, r.tickWord],
    [13, r.seed],
    [14, r.close],
    [15, r.evidence],
    [16, r.tickIndex],
    [17, r.periodStart],
    [18, r.periodSpent],
    [19, r.queued || undefined],
  ];
  for (const [k, v] of opt) if (v !== undefined) m.set(k, v);
  return encode(m);
}

export function decodeRecord(bytes: Uint8Array): ChannelRecord {
  const m = asMap(decode(bytes, { maxBytes: 1024 * 1024, maxDepth: 4, tags: [] }), 'record');
  const opt = (k: number, f: string) => (m.has(k) ? asBytes(m.get(k), f) : undefined);
  const role = ROLES[asInt(need(m, 2, 'record.role'), 'record.role')];
  const state = STATES[asInt(need(m, 3, 'record.state'), 'record.state')];
  if (!role || !state) throw new CodecError('FIELD_RANGE', 'unknown role or state', 'record.state');
  return {
    id: asBytes(need(m, 1, 'record.id'), 'record.id', 32),
    role: role as ChannelRole,
    state: state as ChannelState,
    open: asBytes(need(m, 4, 'record.open'), 'record.open'),
    seq: asUint(need(m, 5, 'record.seq'), 'record.seq'),
    cumulative: asAmount(need(m, 6, 'record.cumulative'), 'record.cumulative'),
    voucherTicks: asUint(need(m, 7, 'record.voucherTicks'), 'record.voucherTicks'),
    ticks: asUint(need(m, 8, 'record.ticks'), 'record.ticks'),
    updatedAt: asTime(need(m, 9, 'record.updatedAt'), 'record.updatedAt'),
    accept: opt(10, 'record.accept'),
    voucher: opt(11, 'record.voucher'),
    tickWord: opt(12, 'record.tickWord'),
    seed: opt(13, 'record.seed'),
    close: opt(14, 'record.close'),
    evidence: m.has(15) ? asArray(m.get(15), 'record.evidence').map((e, i) => asBytes(e, `record.evidence[${i}]`)) : undefined,
    tickIndex: m.has(16) ? asUint(m.get(16), 'record.tickIndex') : undefined,
    periodStart: m.has(17) ? asTime(m.get(17), 'record.periodStart') : undefined,
    periodSpent: m.has(18) ? asAmount(m.get(18), 'record.periodSpent') : undefined,
    queued: m.has(19) ? asBool(m.get(19), 'record.queued') : undefined,
  };
}

/**
 * Channel state in memory (tests, simulators). Records are copied in and out, as a real store would:
 * a shallow copy suffices because payers and payees replace a record's fields, never mutate their bytes.
 */
export class MemoryChannelStore implements ChannelStore {
  private readonly records = new Map<string, ChannelRecord>();
  private readonly ids = new IdKeys();
  /** Records set aside by their owner, by key: refused from then on. */
  private readonly aside = new Map<string, EdgepayError>();

  async get(id: Uint8Array): Promise<ChannelRecord | undefined> {
    const k = this.ids.key(id);
    const why = this.aside.get(k);
    if (why) throw new ChannelError('CH_STORE_DAMAGED', `set aside: ${why.message}`, 'store', { cause: why });
    const r = this.records.get(k);
    return r && copyRecord(r);
  }

  async setAside(id: Uint8Array, reason: EdgepayError): Promise<void> {
    const k = this.ids.key(id);
    this.aside.set(k, reason);
    this.records.delete(k);
  }

  async put(record: ChannelRecord): Promise<void> {
    this.records.set(this.ids.key(record.id), copyRecord(record));
  }

  async list(): Promise<ChannelRecord[]> {
    return [...this.records.values()].map(copyRecord);
  }
}

/** A copy with one fixed shape (faster than a spread on the per-payment path). */
export function copyRecord(r: ChannelRecord): ChannelRecord {
  return {
    id: r.id,
    role: r.role,
    state: r.state,
    open: r.open,
    accept: r.accept,
    seq: r.seq,
    cumulative: r.cumulative,
    voucher: r.voucher,
    voucherTicks: r.voucherTicks,
    ticks: r.ticks,
    tickWord: r.tickWord,
    tickIndex: r.tickIndex,
    seed: r.seed,
    close: r.close,
    evidence: r.evidence && [...r.evidence],
    periodStart: r.periodStart,
    periodSpent: r.periodSpent,
    queued: r.queued,
    updatedAt: r.updatedAt,
  };
}
