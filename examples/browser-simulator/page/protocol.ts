/**
 * What the page and its device workers say to each other. The page owns the fleet (which devices, their
 * credentials, the switches) and draws it; workers run the devices (keys, channels, outboxes, MQTT,
 * sync) and report every second what the table, charts and log show.
 */
import type { PageConfig } from './config.js';
import type { PaySettings, SimEvent } from './context.js';
import type { CredentialStatus, DeviceSpec } from './device.js';

export type Link = 'broker' | 'ledger';

/** The switches that apply above a device: by party id, and `page` for all. */
export type Switches = Record<string, Record<Link, boolean>>;

export type Command =
  | { type: 'init'; cfg: PageConfig; settings: PaySettings; offline: Switches; paying: boolean }
  | { type: 'start'; spec: DeviceSpec }
  /** A device's spec changed (its peer, its links): applied without a restart. */
  | { type: 'spec'; spec: DeviceSpec }
  | { type: 'restart'; spec: DeviceSpec; id: number }
  /** Starts `spec` with a copy of the channels of the device `from` (a cloned board image). */
  | { type: 'clone'; spec: DeviceSpec; from: string; id: number }
  /** Stops a device; with `settle`, checkpoints its channels and sends its outbox first. */
  | { type: 'stop'; name: string; settle: boolean; id: number }
  | { type: 'switches'; offline: Switches }
  | { type: 'settings'; settings: PaySettings }
  | { type: 'paying'; paying: boolean }
  /** Every device checkpoints its channels and sends its outbox (until empty or `untilMs`). */
  | { type: 'settle'; untilMs: number; id: number }
  | { type: 'detail'; name: string; id: number };

/** One device as the table shows it. */
export interface DeviceView {
  name: string;
  credential: { status: CredentialStatus; detail: string; expiresAt: number };
  openChannels: number;
  /** Paid (payers) or earned (payees), minor units. */
  amount: string;
  outbox: number;
  lastReceipt?: { status: string; code?: string | undefined; at: number } | undefined;
  broker: 'online' | 'connecting' | 'offline';
  ledger: 'online' | 'offline';
  disputes: number;
  lastError: string;
  /** The revocation lists it holds: authority, version, keys revoked. */
  lists: { authority: string; version: number; keys: number }[];
}

/** What the detail view shows beyond the row. */
export interface DeviceDetail {
  channels: {
    id: string;
    state: string;
    seq: number;
    cumulative: string;
    ticks: number;
    voucher: string;
    voucherBytes: number;
    updatedAt: number;
  }[];
  outbox: { id: string; bytes: number }[];
  receipts: { recordId: string; status: string; posted: string; code?: string | undefined; at: number }[];
}

export type Report =
  | {
      type: 'report';
      devices: DeviceView[];
      events: SimEvent[];
      tally: { payments: number; records: number; latencies: number[] };
    }
  | { type: 'done'; id: number; result?: unknown; error?: string };
