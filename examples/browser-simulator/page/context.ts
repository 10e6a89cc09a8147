/** What every device shares with the worker that runs it. */
import type { IdbKeyStore, Receipt, TrustRoot } from 'edgepay';
import type { PageConfig } from './config.js';
import type { SimDevice } from './device.js';

export type EventKind =
  | 'payment'
  | 'sync'
  | 'receipt'
  | 'dispute'
  | 'revocation'
  | 'credential'
  | 'channel'
  | 'link'
  | 'device'
  | 'control'
  | 'refused'
  | 'error';

export interface SimEvent {
  at: number;
  kind: EventKind;
  device?: string | undefined;
  text: string;
  /** Events with the same key are one event, however many workers report it (a list reaching devices). */
  once?: string;
}

/** How payers pay: payments a second each, and the range of amounts (minor units). */
export interface PaySettings {
  rate: number;
  min: number;
  max: number;
}

export interface PageContext {
  readonly cfg: PageConfig;
  readonly roots: TrustRoot[];
  readonly keys: IdbKeyStore;
  readonly settings: PaySettings;
  /** False once the run is stopped: payers stop paying. */
  readonly paying: boolean;
  /** Whether the device's party, or the whole page, has `link` switched off. */
  offline(party: string, link: 'broker' | 'ledger'): boolean;
  event(e: Omit<SimEvent, 'at'>): void;
  /** The party credential a party-signed revocation list needs, if `list` is one. */
  partyCredentialFor(list: Uint8Array): Uint8Array | undefined;
  /** A device applied a new revocation list. */
  listApplied(device: SimDevice, list: Uint8Array): void;
  /** What the table shows of a chain (decoded once). */
  chainOf(hex: string): { expiresAt: number; subject: string };
  latency(ms: number): void;
  records(r: Receipt): void;
  paid(device: SimDevice, amount: bigint): void;
}
