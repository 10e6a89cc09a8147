/**
 * One simulated device in the page, as a board would run it: its key in IndexedDB, its chain, its own trust
 * store (revocation lists arrive over MQTT), channels in IndexedDB, an IndexedDB outbox that syncs to the
 * ledger over HTTP, and an MQTT-over-WebSockets connection to its peers. Payers pay their peer at the
 * fleet's rate; payees answer and checkpoint. Its broker and ledger links go down and up on their own.
 */
import {
  type ChannelRecord,
  type Device,
  fromHex,
  HttpLedgerClient,
  IdbChannelStore,
  IdbOutbox,
  isEdgepayError,
  type LedgerClient,
  MqttTransport,
  openDevice,
  Payee,
  Payer,
  PayerSession,
  type Receipt,
  Sync,
  servePayee,
  settlements,
  TrustStore,
  toHex,
  verifyChain,
} from 'edgepay';
import type { PageContext } from './context.js';
import type { DeviceDetail, DeviceView } from './protocol.js';

/** What the page keeps of a device across reloads (localStorage): enough to bring it back from IndexedDB. */
export interface DeviceSpec {
  name: string;
  category: string;
  party: string;
  pays: boolean;
  /** Its key's name in the page's IdbKeyStore (a clone shares its original's). */
  keyName: string;
  /** Its credential chain (hex): the party's credential, then the device's. */
  chain: string;
  /** Its key's thumbprint (hex): its address on the broker. */
  address: string;
  /** Payers: the payee they pay, by name and broker address. */
  peer?: string;
  peerAddress?: string;
  cloneOf?: string;
  offline: { broker: boolean; ledger: boolean };
}

export type CredentialStatus = 'valid' | 'revoked' | 'expired' | 'invalid';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CAP = 5_000_000n;

export class SimDevice {
  device?: Device;
  trust: TrustStore;
  credential: { status: CredentialStatus; detail: string; expiresAt: number } = { status: 'valid', detail: '', expiresAt: 0 };
  running = false;
  paid = 0n;
  payments = 0;
  outboxDepth = 0;
  lastReceipt?: { status: string; code?: string | undefined; at: number };
  readonly receipts: { recordId: string; status: string; posted: string; code?: string | undefined; at: number }[] = [];
  disputes = 0;
  lastError = '';
  channelIds = new Set<string>();
  private payer?: Payer;
  private payee?: Payee;
  private session?: PayerSession;
  private transport?: MqttTransport;
  private sync?: Sync;
  private readonly store: IdbChannelStore;
  readonly outbox: IdbOutbox;
  private readonly receiptBox: IdbOutbox;
  private current?: Uint8Array;
  private loop?: Promise<void>;
  private connecting?: Promise<void>;
  private readonly ledgerListeners = new Set<(up: boolean) => void>();

  constructor(
    public spec: DeviceSpec,
    private readonly ctx: PageContext,
  ) {
    this.trust = new TrustStore(ctx.roots);
    const base = `sim-${ctx.cfg.runId}-${spec.name}`;
    this.store = new IdbChannelStore(`${base}-channels`);
    this.outbox = new IdbOutbox(`${base}-outbox`);
    this.receiptBox = new IdbOutbox(`${base}-receipts`);
  }

  /** The IndexedDB databases this device keeps (for a copy, or to delete them). */
  static databases(runId: string, name: string): string[] {
    const base = `sim-${runId}-${name}`;
    return [`${base}-channels`, `${base}-channels-damaged`, `${base}-outbox`, `${base}-receipts`];
  }

  get brokerUp(): boolean {
    return !this.spec.offline.broker && !this.ctx.offline(this.spec.party, 'broker');
  }

  get ledgerUp(): boolean {
    return !this.spec.offline.ledger && !this.ctx.offline(this.spec.party, 'ledger');
  }

  get connected(): boolean {
    return this.transport?.connected === true;
  }

  /** Opens the device from what IndexedDB holds (key, channels, outbox) and starts it. */
  async start(): Promise<void> {
    const signer = await this.ctx.keys.get(this.spec.keyName);
    if (!signer) throw new Error(`no key ${this.spec.keyName} in IndexedDB`);
    const chain = fromHex(this.spec.chain);
    await this.checkCredential();
    try {
      this.device = await openDevice({ signer, chain, trust: this.trust });
    } catch (e) {
      this.lastError = isEdgepayError(e) ? `${e.code}: ${e.message}` : String(e);
      this.ctx.event({ kind: 'error', device: this.spec.name, text: `cannot start: ${this.lastError}` });
      return;
    }
    const device = this.device;
    const client = this.timed(new HttpLedgerClient(location.origin, { timeoutMs: 5_000 }));
    this.sync = new Sync({
      outbox: this.outbox,
      receipts: this.receiptBox,
      client,
      device,
      ledgerKey: fromHex(this.ctx.cfg.ledgerKey),
      connectivity: {
        online: () => this.ledgerUp,
        subscribe: (cb) => {
          this.ledgerListeners.add(cb);
          return () => this.ledgerListeners.delete(cb);
        },
      },
      backoff: { initialMs: 200, maxMs: 2_000 },
      // Each record queued wakes the sync: the poll only catches what a wake-up missed (hundreds of devices
      // polling IndexedDB every second would keep the page busy for nothing).
      pollMs: 10_000,
      maxCount: 100,
    });
    // The outbox depth, kept by events between reads of IndexedDB (the table shows it every second).
    this.sync.on('queued', () => this.outboxDepth++);
    this.sync.on('acknowledged', () => (this.outboxDepth = Math.max(0, this.outboxDepth - 1)));
    this.sync.on('rejected', () => (this.outboxDepth = Math.max(0, this.outboxDepth - 1)));
    this.outboxDepth = await this.outbox.size();
    this.sync.on('acknowledged', ({ recordId, receipt }) => this.onReceipt(recordId, receipt));
    this.sync.on('rejected', ({ recordId, receipt }) => this.onReceipt(recordId, receipt));
    const outbox = settlements(this.sync);
    if (this.spec.pays) {
      this.payer = new Payer({ device, trust: this.trust, store: this.store, outbox });
      for (const r of await this.payer.resume()) this.channelIds.add(toHex(r.id));
      this.payer.on('refused', (e) => this.refused(e.code, e.message, e.channelId));
      this.payer.on('accepted', (e) => this.channelIds.add(toHex(e.channelId)));
    } else {
      this.payee = new Payee({ device, trust: this.trust, store: this.store, outbox });
      await this.payee.resume();
      for (const r of await this.store.list()) this.channelIds.add(toHex(r.id));
      this.payee.on('opened', (e) => {
        this.channelIds.add(toHex(e.channelId));
        this.ctx.event({
          kind: 'channel',
          device: this.spec.name,
          text: `channel ${toHex(e.channelId).slice(0, 8)} opened by ${e.payer.device.claims.subject}`,
        });
      });
      this.payee.on('paid', (e) => {
        this.payments++;
        if (this.payments % 10 === 0) void this.payee?.checkpoint(e.channelId).catch(() => {});
      });
      this.payee.on('equivocation', (e) => {
        this.disputes++;
        this.ctx.event({
          kind: 'dispute',
          device: this.spec.name,
          text: `two different vouchers for one seq on channel ${toHex(e.channelId).slice(0, 8)}: channel refused, evidence to the ledger`,
        });
      });
      this.payee.on('rejected', (e) => this.refused(e.error.code, e.error.message, e.channelId));
    }
    this.running = true;
    this.sync.start();
    await this.linkBroker();
    if (this.payer) this.loop = this.payLoop();
    this.ctx.event({
      kind: 'device',
      device: this.spec.name,
      text: `started: ${this.channels().filter((c) => c.state === 'open').length} open channels from IndexedDB (${this.channelIds.size} in all), outbox ${await this.outbox.size()}`,
    });
  }

  /** Stops paying and syncing and leaves the broker; what it stored stays in IndexedDB. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.sync?.stop();
    await this.connecting;
    const t = this.transport;
    this.transport = undefined;
    await t?.close().catch(() => {});
  }

  /** Takes the device's broker and ledger links down or up after a switch moved (its own, its party's, the page's). */
  async applyLinks(): Promise<void> {
    for (const l of this.ledgerListeners) l(this.ledgerUp);
    await this.linkBroker();
  }

  private linkBroker(): Promise<void> {
    const next = (this.connecting ?? Promise.resolve()).then(async () => {
      if (!this.running) return;
      if (this.brokerUp && !this.transport) {
        const t = await MqttTransport.connect({
          url: this.ctx.cfg.broker,
          address: this.spec.address,
          prefix: this.ctx.cfg.prefix,
          protocolVersion: this.ctx.cfg.protocolVersion,
          // Unique per key and name: a clone (same key) and another tab's fleet (same names) each have their own.
          clientId: `${this.ctx.cfg.prefix}:${this.spec.address.slice(0, 16)}:${this.spec.name}`,
          reconnectPeriod: 1_000,
        }).catch((e) => {
          this.lastError = `broker: ${(e as Error).message}`;
          return undefined;
        });
        if (!t) return;
        this.transport = t;
        await t.onRevocationLists((list) => this.takeList(list));
        if (this.payee) servePayee(this.payee, t, { onError: (e) => (this.lastError = String(e)) });
        if (this.payer) this.session = new PayerSession(this.payer, t);
        this.ctx.event({ kind: 'link', device: this.spec.name, text: 'broker connected' });
      } else if (!this.brokerUp && this.transport) {
        const t = this.transport;
        this.transport = undefined;
        this.session = undefined;
        await t.close(); // the broker keeps the session: frames for it wait there
        this.ctx.event({ kind: 'link', device: this.spec.name, text: 'broker disconnected' });
      }
    });
    this.connecting = next.catch(() => {});
    return this.connecting;
  }

  /** A revocation list from the broker: verified against its authority, applied; the credential checked again. */
  private async takeList(bytes: Uint8Array): Promise<void> {
    const partyCredential = this.ctx.partyCredentialFor(bytes);
    const r = await this.trust.applyRevocationList(bytes, partyCredential ? { partyCredential } : {}).catch((e) => {
      this.lastError = `revocation list refused: ${(e as Error).message}`;
      return 'stale' as const;
    });
    if (r === 'applied') {
      await this.checkCredential();
      this.ctx.listApplied(this, bytes);
    }
  }

  /**
   * Checks the chain against this device's trust store now: valid, expired or revoked (shown in the
   * table). Its own clock is the one that counts: no skew allowed for its own expiry.
   */
  checkCredential(): Promise<void> {
    this.credential.expiresAt = this.ctx.chainOf(this.spec.chain).expiresAt;
    return verifyChain(fromHex(this.spec.chain), { trust: this.trust, skewSeconds: 0 }).then(
      () => {
        this.credential = { ...this.credential, status: 'valid', detail: '' };
      },
      (e) => {
        const code = isEdgepayError(e) ? e.code : '';
        const status: CredentialStatus = code === 'ID_REVOKED' ? 'revoked' : code === 'ID_EXPIRED' ? 'expired' : 'invalid';
        if (this.credential.status !== status)
          this.ctx.event({
            kind: status === 'revoked' ? 'revocation' : 'credential',
            device: this.spec.name,
            text: `credential ${status}: ${(e as Error).message}`,
          });
        this.credential = { ...this.credential, status, detail: (e as Error).message };
      },
    );
  }

  private onReceipt(recordId: Uint8Array, r: Receipt): void {
    const at = Date.now();
    this.lastReceipt = { status: r.status, code: r.code, at };
    this.receipts.unshift({ recordId: toHex(recordId), status: r.status, posted: String(r.posted), code: r.code, at });
    this.receipts.length = Math.min(this.receipts.length, 20);
    this.ctx.records(r);
    if (r.status === 'disputed') {
      this.disputes++;
      this.ctx.event({ kind: 'dispute', device: this.spec.name, text: `the ledger disputed a record (${r.code ?? ''})` });
    } else if (r.status === 'rejected')
      this.ctx.event({ kind: 'receipt', device: this.spec.name, text: `record rejected: ${r.code ?? ''}` });
  }

  private refused(code: string, message: string, channelId: Uint8Array | undefined): void {
    this.lastError = `${code}: ${message}`;
    this.ctx.event({
      kind: 'refused',
      device: this.spec.name,
      text: `${channelId ? `channel ${toHex(channelId).slice(0, 8)}: ` : ''}${code} ${message}`,
    });
  }

  /** The ledger's round trip, for the latency chart. */
  private timed(client: LedgerClient): LedgerClient {
    return {
      probe: () => client.probe(),
      submit: async (s) => {
        const t0 = performance.now();
        const r = await client.submit(s);
        this.ctx.latency(performance.now() - t0);
        return r;
      },
    };
  }

  /** Channels this device holds now. */
  channels(): ChannelRecord[] {
    const out: ChannelRecord[] = [];
    for (const id of this.channelIds) {
      const c = (this.payer ?? this.payee)?.channel(fromHex(id));
      if (c) out.push(c);
    }
    return out;
  }

  /** Paid (payers) or earned (payees): the newest voucher of each channel, summed. */
  amount(): bigint {
    let sum = 0n;
    for (const c of this.channels()) sum += c.cumulative;
    return sum;
  }

  /** Checkpoints every open channel (both copies go to the outbox): before a stop, a removal, a reconciliation. */
  async checkpointAll(): Promise<void> {
    for (const c of this.channels()) if (c.state === 'open') await (this.payer ?? this.payee)?.checkpoint(c.id).catch(() => {});
  }

  /** Sends what the outbox holds now, if the ledger is reachable. */
  async flush(): Promise<void> {
    if (this.sync && this.ledgerUp) await this.sync.syncNow().catch(() => {});
    this.outboxDepth = await this.outbox.size();
  }

  /** What the table shows of this device. */
  view(): DeviceView {
    const lists = [...this.trust.versions()].map(([kid, version]) => ({
      authority: this.trust.authority(fromHex(kid))?.id ?? kid.slice(0, 12),
      version,
      keys: this.trust.revocation(fromHex(kid))?.revoked.size ?? 0,
    }));
    return {
      name: this.spec.name,
      credential: { ...this.credential },
      openChannels: this.channels().filter((c) => c.state === 'open').length,
      amount: String(this.amount()),
      outbox: this.outboxDepth,
      lastReceipt: this.lastReceipt,
      broker: !this.brokerUp ? 'offline' : this.connected ? 'online' : 'connecting',
      ledger: this.ledgerUp ? 'online' : 'offline',
      disputes: this.disputes,
      lastError: this.lastError,
      lists,
    };
  }

  /** What the detail view shows: channels with their newest vouchers and ticks, outbox entries, receipts. */
  async detail(): Promise<DeviceDetail> {
    this.outboxDepth = await this.outbox.size();
    return {
      channels: this.channels().map((c) => ({
        id: toHex(c.id),
        state: c.state,
        seq: c.seq,
        cumulative: String(c.cumulative),
        ticks: c.ticks,
        voucher: c.voucher ? toHex(c.voucher.subarray(0, 16)) : '',
        voucherBytes: c.voucher?.length ?? 0,
        updatedAt: c.updatedAt,
      })),
      outbox: (await this.outbox.pending({ maxCount: 20 })).map((e) => ({ id: toHex(e.id), bytes: e.bytes.length })),
      receipts: this.receipts,
    };
  }

  /** Payers: pays the peer at the fleet's rate, opening a channel when it has none that is open. */
  private async payLoop(): Promise<void> {
    let n = 0;
    // Payments keep to the fleet's rate on a schedule (not a pause after each), so a slow round trip
    // does not lower it; a payer that fell more than a second behind starts counting again from now.
    let next = performance.now();
    while (this.running) {
      const settings = this.ctx.settings;
      if (!this.ctx.paying || !this.session || !this.transport?.connected || this.credential.status !== 'valid') {
        await sleep(250);
        continue;
      }
      const peer = this.spec.peerAddress;
      if (!peer) {
        await sleep(500);
        continue;
      }
      try {
        const payer = this.payer as Payer;
        if (!this.current) this.current = this.openChannelTo(peer);
        if (!this.current) {
          // An open lost on the way (its payee not yet subscribed) is tried again after a few seconds.
          const id = await this.session.open(peer, { payeeKid: fromHex(peer), cap: CAP, ttlSeconds: 3_600 }, 4_000);
          this.current = id;
          this.channelIds.add(toHex(id));
          this.ctx.event({ kind: 'channel', device: this.spec.name, text: `opened channel ${toHex(id).slice(0, 8)} to ${this.spec.peer}` });
        }
        const id = this.current;
        const amount = BigInt(settings.min + Math.floor(Math.random() * (settings.max - settings.min + 1)));
        if ((payer.channel(id)?.cumulative ?? 0n) + amount > CAP) {
          await this.session.close(peer, id, 10_000).catch(() => payer.checkpoint(id));
          this.current = undefined;
          continue;
        }
        await this.session.pay(peer, id, amount);
        this.payments++;
        this.ctx.paid(this, amount);
        if (++n % 10 === 0) await payer.checkpoint(id);
      } catch (e) {
        const code = isEdgepayError(e) ? e.code : '';
        this.lastError = `${code} ${(e as Error).message}`;
        // A channel that can take no more (refused, expired, closed) is left; an answer that did not come
        // (the broker away) is not the channel's fault: the payment is tried again on it.
        if (/^CH_/.test(code) && code !== 'CH_TIMEOUT') this.current = undefined;
        this.ctx.event({ kind: 'error', device: this.spec.name, text: `payment failed: ${this.lastError}` });
        await sleep(1_000);
      }
      next = Math.max(next + 1_000 / settings.rate, performance.now() - 1_000);
      await sleep(Math.max(0, next - performance.now()));
    }
  }

  /** The newest open channel this payer holds to `peer` (after a restart, the one it was paying on). */
  private openChannelTo(peer: string): Uint8Array | undefined {
    let best: ChannelRecord | undefined;
    for (const c of this.channels()) {
      if (c.state !== 'open') continue;
      const terms = this.payer?.terms(c.id);
      if (terms && toHex(terms.payeeKid) === peer && (!best || c.updatedAt > best.updatedAt)) best = c;
    }
    return best?.id;
  }
}
