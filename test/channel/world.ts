/** Two devices under two parties (a drone of a fleet, a charging pad of a pad owner), one issuer. */

import { decodeFrame } from '../../src/channel/messages.js';
import { Payee } from '../../src/channel/payee.js';
import { Payer } from '../../src/channel/payer.js';
import type { SettlementSink } from '../../src/channel/sink.js';
import { type ChannelRecord, type ChannelStore, MemoryChannelStore } from '../../src/channel/store.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import type { Signer } from '../../src/crypto/ed25519.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import type { Limits } from '../../src/identity/claims.js';
import { encodeChain, issueCredential } from '../../src/identity/credential.js';
import { type Device, openDevice } from '../../src/identity/device.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { encodeSettlement } from '../../src/settlement/record.js';

export const T0 = 1_767_225_600;
export const DAY = 86_400;
const seed = (n: number) => new Uint8Array(32).fill(n);

export interface Pair {
  payer: Payer;
  payee: Payee;
  droneDevice: Device;
  padDevice: Device;
  drone: Signer;
  pad: Signer;
  /** The pads' party key (it issues the pad's credential). */
  owner: Signer;
  padKid: Uint8Array;
  droneChain: Uint8Array;
  padChain: Uint8Array;
  payerStore: ChannelStore;
  payeeStore: ChannelStore;
  clock: { now: number };
  roots: { id: string; publicKey: Uint8Array }[];
}

export async function pair(
  o: {
    limits?: Partial<Limits>;
    payerStore?: ChannelStore;
    payeeStore?: ChannelStore;
    seeds?: number[];
    /** Where each side's closes go (`settlements(outbox)`). */
    payerOutbox?: SettlementSink;
    payeeOutbox?: SettlementSink;
    /** When the drone's and the pad's credentials expire (default: with their parties', a year on). */
    droneExpiresAt?: number;
    padExpiresAt?: number;
    /** The drone's key where it is held elsewhere (a PKCS#11 token, say). */
    droneSigner?: Signer;
  } = {},
): Promise<Pair> {
  const [s0, s1, s2, s3, s4] = o.seeds ?? [1, 2, 3, 4, 5];
  const signers = await Promise.all([s0, s1, s2, s3, s4].map((n) => nodeEd25519.signer(seed(n as number))));
  const [issuer, fleet, , owner, pad] = signers;
  const drone = o.droneSigner ?? signers[2];
  const base = { issuedAt: T0, notBefore: T0, expiresAt: T0 + 365 * DAY };
  const limits: Limits = {
    asset: 'EUR',
    perPayment: 1_000n,
    perChannel: 100_000n,
    perPeriod: 1_000_000n,
    periodSeconds: DAY,
    totalOutstanding: 500_000n,
    ...o.limits,
  };
  const partyA = await issueCredential(issuer!, {
    ...base,
    role: 'party',
    issuer: 'net',
    subject: 'party:fleet',
    publicKey: fleet!.publicKey,
    limits,
    category: 'fleet-operator',
    paymentRef: 'tok_a',
  });
  const partyB = await issueCredential(issuer!, {
    ...base,
    role: 'party',
    issuer: 'net',
    subject: 'party:pads',
    publicKey: owner!.publicKey,
    limits,
    category: 'pad-owner',
    paymentRef: 'tok_b',
  });
  const droneCred = await issueCredential(fleet!, {
    ...base,
    expiresAt: o.droneExpiresAt ?? base.expiresAt,
    role: 'device',
    issuer: 'party:fleet',
    subject: 'device:drone',
    publicKey: drone!.publicKey,
    limits: {},
    category: 'drone',
    counterparties: ['charging-pad'],
  });
  const padCred = await issueCredential(owner!, {
    ...base,
    expiresAt: o.padExpiresAt ?? base.expiresAt,
    role: 'device',
    issuer: 'party:pads',
    subject: 'device:pad',
    publicKey: pad!.publicKey,
    limits: {},
    category: 'charging-pad',
    counterparties: ['drone'],
  });
  const roots = [{ id: 'net', publicKey: issuer!.publicKey }];
  const clock = { now: T0 + DAY };
  const now = () => clock.now;
  const droneChain = encodeChain([partyA, droneCred]);
  const padChain = encodeChain([partyB, padCred]);
  const payerTrust = new TrustStore(roots);
  const payerStore = o.payerStore ?? new MemoryChannelStore();
  const payeeStore = o.payeeStore ?? new MemoryChannelStore();
  const droneDevice = await openDevice({ signer: drone!, chain: droneChain, trust: payerTrust, now: clock.now });
  const padDevice = await openDevice({ signer: pad!, chain: padChain, trust: new TrustStore(roots), now: clock.now });
  const payer = new Payer({ device: droneDevice, trust: payerTrust, store: payerStore, outbox: o.payerOutbox, now });
  const payee = new Payee({ device: padDevice, trust: new TrustStore(roots), store: payeeStore, outbox: o.payeeOutbox, now });
  return {
    payer,
    payee,
    droneDevice,
    padDevice,
    drone: drone!,
    pad: pad!,
    owner: owner!,
    padKid: coseKeyThumbprint(pad!.publicKey),
    droneChain,
    padChain,
    payerStore,
    payeeStore,
    clock,
    roots,
  };
}

/** What a channel record holds as owed: the newest voucher and the ticks beyond its checkpoint. */
export const owed = (r: { cumulative: bigint; ticks: number; voucherTicks: number }, tickValue: bigint) =>
  r.cumulative + BigInt(r.ticks - r.voucherTicks) * tickValue;

/** The tick value of the kill -9 test's channel. */
export const CRASH_TICK = 2n;

/** Delivers payer frames to the payee and the payee's answers back, as a transport would. */
export async function deliver(p: Pair, frame: Uint8Array): Promise<Uint8Array[]> {
  const answers = await p.payee.handle(frame);
  for (const a of answers) await p.payer.handle(a);
  return answers;
}

/** One channel per amount, each paid once with that amount: the payee's settlement records, in order. */
export async function paidRecords(p: Pair, amounts: readonly bigint[], cap = 1_000n): Promise<Uint8Array[]> {
  const records: Uint8Array[] = [];
  for (const amount of amounts) {
    const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap });
    await deliver(p, frame);
    await deliver(p, await p.payer.pay(channelId, amount));
    records.push(encodeSettlement(p.payee.channel(channelId) as ChannelRecord));
  }
  return records;
}

/** A memory store that counts its writes. */
export class CountingStore extends MemoryChannelStore {
  puts = 0;
  override async put(r: ChannelRecord): Promise<void> {
    this.puts++;
    await super.put(r);
  }
}

/** Each frame's answers by kind: an error's code, `ack:<n>` (the ack's seq or ticks), or the frame type. */
export const answerTypes = (answers: Uint8Array[][], ack: 'seq' | 'ticks') =>
  answers.map((a) =>
    a.map((f) => {
      const d = decodeFrame(f);
      return d.type === 'error' ? d.code : d.type === 'ack' ? `ack:${d[ack]}` : d.type;
    }),
  );
