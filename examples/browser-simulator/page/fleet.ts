/**
 * The fleet in the page: which devices there are (kept in localStorage, their state in IndexedDB), what
 * each party and the page have switched off, the pay settings, the event log, and every control: add,
 * remove, clone, restart, revoke, expire, stop the run and reconcile.
 */
import {
  createSigner,
  decodeChain,
  encodeChain,
  fromHex,
  IdbChannelStore,
  IdbKeyStore,
  issueCredential,
  type Receipt,
  type Signer,
  type TrustRoot,
  toHex,
} from 'edgepay';
import { coseKeyThumbprint, decode, encode } from 'edgepay/codec';
import { decodeCredential, decodeRevocationList, signRevocationList } from 'edgepay/identity';
import { signAdmin } from 'edgepay/sync';
import type { PageConfig, PartyConfig } from './config.js';
import type { EventKind, PageContext, PaySettings, SimEvent } from './context.js';
import { type DeviceSpec, SimDevice } from './device.js';

type Link = 'broker' | 'ledger';
const LINKS: Link[] = ['broker', 'ledger'];
const DAY = 86_400;
/** Events kept in the page (the export says how many older ones were dropped). */
const MAX_EVENTS = 50_000;
const SHORT: Record<string, string> = { drone: 'drone', 'charging-pad': 'pad', vehicle: 'vehicle', 'toll-gate': 'gate' };

const now = () => Math.floor(Date.now() / 1000);

interface Saved {
  runId: string;
  specs: DeviceSpec[];
  /** Devices removed: what they had paid or earned when they left (for the reconciliation). */
  retired: { name: string; party: string; pays: boolean; amount: string }[];
  offline: Record<string, Record<Link, boolean>>;
  settings: PaySettings;
  /** Hand revocations by party: what each party's newest list holds. */
  revoked: Record<string, { kid: string; revokedAt: number }[]>;
  counter: number;
  /** Each party's balance when this page's fleet started: what the reconciliation counts from. */
  baseline?: Record<string, string>;
}

export interface Reconciliation {
  parties: { party: string; start: string; devices: string; ledger: string; ok: boolean }[];
  outboxLeft: number;
  disputes: number;
  revoked: string[];
  ok: boolean;
  at: string;
}

export class Fleet implements PageContext {
  readonly devices = new Map<string, SimDevice>();
  readonly events: SimEvent[] = [];
  droppedEvents = 0;
  paying = true;
  readonly keys: IdbKeyStore;
  readonly roots: TrustRoot[];
  /** Per second: payments, records settled, ledger round trips. */
  readonly tally = { payments: 0, records: 0, latencies: [] as number[], totalPayments: 0, totalRecords: 0 };
  keyWhere = '';
  private saved: Saved;
  private readonly partySigners = new Map<string, Signer>();
  private readonly partyByKid = new Map<string, PartyConfig>();
  private readonly chains = new Map<string, { expiresAt: number; subject: string }>();
  private readonly listsSeen = new Set<string>();
  private readonly storageKey: string;
  readonly onEvent = new Set<(e: SimEvent) => void>();

  constructor(readonly cfg: PageConfig) {
    this.roots = cfg.roots.map((r) => ({ id: r.id, publicKey: fromHex(r.publicKey) }));
    this.keys = new IdbKeyStore({ dbName: `sim-${cfg.runId}-keys`, passphrase: 'simulator' });
    this.storageKey = 'edgepay-simulator';
    const held = JSON.parse(localStorage.getItem(this.storageKey) ?? 'null') as Saved | null;
    this.saved =
      held?.runId === cfg.runId
        ? held
        : { runId: cfg.runId, specs: [], retired: [], offline: {}, settings: { rate: 2, min: 1, max: 50 }, revoked: {}, counter: 0 };
  }

  get settings(): PaySettings {
    return this.saved.settings;
  }

  /** Starts every device the page held (or the configured fleet on a first visit); drops another run's storage. */
  async open(): Promise<void> {
    await this.forgetOtherRuns();
    for (const p of this.cfg.parties) {
      this.partySigners.set(p.id, await createSigner(fromHex(p.seed)));
      this.partyByKid.set(toHex(decodeCredential(fromHex(p.credential)).subjectKid), p);
    }
    this.keyWhere = (await this.probeWebCrypto()) ? 'IndexedDB (WebCrypto, non-extractable)' : 'IndexedDB (sealed, noble)';
    // What the ledger held before this page's devices paid: other pages or fleets may have settled there.
    this.saved.baseline ??= await this.balances().then(
      (b) => Object.fromEntries(Object.entries(b).map(([p, v]) => [p, String(v)])),
      () => undefined,
    );
    if (this.saved.specs.length === 0) {
      for (const [category, n] of Object.entries(this.cfg.fleet)) await this.add(category, n, { start: false });
    }
    await Promise.all(this.saved.specs.map((s) => this.startDevice(s)));
    this.save();
  }

  private async probeWebCrypto(): Promise<boolean> {
    try {
      await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      return true;
    } catch {
      return false;
    }
  }

  /** IndexedDB databases and storage of an earlier run (another server start) are deleted. */
  private async forgetOtherRuns(): Promise<void> {
    const dbs = (await indexedDB.databases?.()) ?? [];
    for (const d of dbs) if (d.name?.startsWith('sim-') && !d.name.startsWith(`sim-${this.cfg.runId}-`)) indexedDB.deleteDatabase(d.name);
  }

  private save(): void {
    localStorage.setItem(this.storageKey, JSON.stringify(this.saved));
  }

  private async startDevice(spec: DeviceSpec): Promise<SimDevice> {
    const d = new SimDevice(spec, this);
    this.devices.set(spec.name, d);
    await d.start().catch((e) => this.event({ kind: 'error', device: spec.name, text: `start failed: ${(e as Error).message}` }));
    return d;
  }

  // PageContext ------------------------------------------------------------------------------------------

  offline(party: string, link: Link): boolean {
    return this.saved.offline.page?.[link] === true || this.saved.offline[party]?.[link] === true;
  }

  event(e: Omit<SimEvent, 'at'>): void {
    const ev = { at: Date.now(), ...e };
    if (this.events.push(ev) > MAX_EVENTS) {
      this.events.shift();
      this.droppedEvents++;
    }
    for (const l of this.onEvent) l(ev);
  }

  addressOf(name: string): string | undefined {
    return this.saved.specs.find((s) => s.name === name)?.address;
  }

  partyCredentialFor(list: Uint8Array): Uint8Array | undefined {
    const kid = decodeRevocationList(list).sign1.kid;
    const p = kid && this.partyByKid.get(toHex(kid));
    return p ? fromHex(p.credential) : undefined;
  }

  listApplied(device: SimDevice, list: Uint8Array): void {
    const l = decodeRevocationList(list);
    const key = `${l.content.issuer}:${l.content.version}`;
    if (this.listsSeen.has(key)) return;
    this.listsSeen.add(key);
    this.event({
      kind: 'revocation',
      device: device.spec.name,
      text: `revocation list v${l.content.version} of ${l.content.issuer} (${l.content.entries.length} keys) reached the devices`,
    });
  }

  chainOf(hex: string): { expiresAt: number; subject: string } {
    let c = this.chains.get(hex);
    if (!c) {
      const creds = decodeChain(fromHex(hex)).map((b) => decodeCredential(b));
      c = { expiresAt: Math.min(...creds.map((x) => x.claims.expiresAt)), subject: creds.at(-1)?.claims.subject ?? '' };
      this.chains.set(hex, c);
    }
    return c;
  }

  latency(ms: number): void {
    this.tally.latencies.push(ms);
  }

  records(r: Receipt): void {
    this.tally.records++;
    this.tally.totalRecords++;
    if (r.status === 'accepted')
      this.event({ kind: 'receipt', text: `record ${toHex(r.recordId).slice(0, 8)} accepted, ${r.posted} posted` });
  }

  paid(device: SimDevice, amount: bigint): void {
    this.tally.payments++;
    this.tally.totalPayments++;
    this.event({ kind: 'payment', device: device.spec.name, text: `paid ${amount} to ${device.spec.peer}` });
  }

  // Controls ---------------------------------------------------------------------------------------------

  /** Enrols `count` devices of `category` (keys made in IndexedDB, credentials from their party) and starts them. */
  async add(category: string, count: number, o: { lifetimeSeconds?: number; start?: boolean } = {}): Promise<string[]> {
    const party = this.cfg.parties.find((p) => p.device.category === category);
    if (!party) throw new Error(`no party enrols ${category} devices`);
    const pays = party.funding !== '0';
    const names: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${SHORT[category] ?? category}-${++this.saved.counter}`;
      const signer = await this.keys.generate(name);
      const chain = await this.enrol(party, name, signer.publicKey, o.lifetimeSeconds ?? 30 * DAY);
      const spec: DeviceSpec = {
        name,
        category,
        party: party.id,
        pays,
        keyName: name,
        chain: toHex(chain),
        address: toHex(coseKeyThumbprint(signer.publicKey)),
        offline: { broker: false, ledger: false },
      };
      this.saved.specs.push(spec);
      names.push(name);
    }
    this.assignPeers();
    this.save();
    this.event({ kind: 'control', text: `added ${count} ${category} devices (${names.join(', ')})` });
    if (o.start !== false) for (const n of names) await this.startDevice(this.spec(n));
    return names;
  }

  /** A device credential from its party for `publicKey`, valid for `lifetime` seconds from now. */
  private async enrol(party: PartyConfig, name: string, publicKey: Uint8Array, lifetime: number): Promise<Uint8Array> {
    const partyCred = fromHex(party.credential);
    const cred = await issueCredential(this.partySigners.get(party.id) as Signer, {
      role: 'device',
      issuer: party.id,
      subject: `device:${name}`,
      publicKey,
      issuedAt: now() - 60,
      notBefore: now() - 60,
      expiresAt: Math.min(now() + lifetime, decodeCredential(partyCred).claims.expiresAt),
      limits: {},
      category: party.device.category,
      counterparties: party.device.counterparties,
    });
    return encodeChain([partyCred, cred]);
  }

  /** Every payer without a live peer gets the payee of its counterparty category with the fewest payers. */
  private assignPeers(): void {
    const specs = this.saved.specs;
    for (const s of specs) {
      if (!s.pays || (s.peer && specs.some((x) => x.name === s.peer))) continue;
      const party = this.cfg.parties.find((p) => p.id === s.party) as PartyConfig;
      const payees = specs.filter((x) => !x.pays && party.device.counterparties.includes(x.category) && !x.cloneOf);
      const load = (p: DeviceSpec) => specs.filter((x) => x.peer === p.name).length;
      const peer = payees.sort((a, b) => load(a) - load(b))[0];
      if (peer) s.peer = peer.name;
      else delete s.peer;
    }
  }

  private spec(name: string): DeviceSpec {
    const s = this.saved.specs.find((x) => x.name === name);
    if (!s) throw new Error(`no device ${name}`);
    return s;
  }

  /** Removes a device: its channels checkpointed and its outbox sent first (when the ledger is reachable). */
  async remove(name: string): Promise<void> {
    const d = this.devices.get(name);
    if (d) {
      await d.checkpointAll();
      await d.flush();
      await d.stop();
      this.saved.retired.push({ name, party: d.spec.party, pays: d.spec.pays, amount: String(d.amount()) });
      this.devices.delete(name);
    }
    this.saved.specs = this.saved.specs.filter((s) => s.name !== name);
    this.assignPeers();
    this.save();
    this.event({ kind: 'control', device: name, text: `removed (outbox ${d?.outboxDepth ?? 0} left in IndexedDB)` });
  }

  /** Restarts a device: everything in memory dropped, state back from IndexedDB. */
  async restart(name: string): Promise<void> {
    const d = this.devices.get(name);
    await d?.stop();
    this.event({ kind: 'control', device: name, text: 'restarting' });
    await this.startDevice(this.spec(name));
  }

  /**
   * Clones a payer: a second device with the same key, credential and stored channels (a copied board
   * image). Both pay on the same channel with the same seqs: the payee sees two vouchers for one seq.
   */
  async clone(name: string): Promise<string> {
    const src = this.spec(name);
    if (!src.pays) throw new Error('only payers are cloned: a clone is two devices paying with one key');
    const copy: DeviceSpec = { ...src, name: `${name}-clone`, cloneOf: name, offline: { broker: false, ledger: false } };
    const to = new IdbChannelStore(SimDevice.databases(this.cfg.runId, copy.name)[0]);
    for (const r of await new IdbChannelStore(SimDevice.databases(this.cfg.runId, name)[0]).list()) await to.put(r);
    this.saved.specs.push(copy);
    this.save();
    this.event({ kind: 'control', device: copy.name, text: `cloned from ${name}: same key, same channels` });
    await this.startDevice(copy);
    return copy.name;
  }

  /** The device's party revokes it (a stolen device): the party's list, signed in the page, sent to the ledger. */
  async revokeDevice(name: string): Promise<void> {
    const s = this.spec(name);
    const party = this.cfg.parties.find((p) => p.id === s.party) as PartyConfig;
    this.saved.revoked[party.id] ??= [];
    const entries = this.saved.revoked[party.id] as { kid: string; revokedAt: number }[];
    if (!entries.some((e) => e.kid === s.address)) entries.push({ kid: s.address, revokedAt: now() });
    const list = await signRevocationList(this.partySigners.get(party.id) as Signer, {
      issuer: party.id,
      version: Date.now(),
      issuedAt: now(),
      entries: entries.map((e) => ({ kid: fromHex(e.kid), revokedAt: e.revokedAt })),
    });
    this.save();
    const res = await fetch('/v1/revocations', {
      method: 'POST',
      headers: { 'content-type': 'application/cbor' },
      body: encode([list, fromHex(party.credential)]) as BodyInit,
    });
    if (!res.ok) throw new Error(`the ledger refused the list: ${await res.text()}`);
    this.event({ kind: 'revocation', device: name, text: `${party.id} revoked ${name} (its own list, through the ledger)` });
  }

  /** The operator revokes a party: an admin call signed with the issuer's key; the ledger signs its list. */
  async revokeParty(partyId: string): Promise<void> {
    const party = this.cfg.parties.find((p) => p.id === partyId);
    if (!party) throw new Error(`no party ${partyId}`);
    const kid = toHex(decodeCredential(fromHex(party.credential)).subjectKid);
    const r = await this.admin(await createSigner(fromHex(this.cfg.issuer.seed)), 'revoke', { key: kid, reason: 'revoked by hand' });
    this.event({ kind: 'revocation', text: `the issuer revoked ${partyId} (list v${r.get('version')})` });
  }

  /** Re-enrols a device with a credential that expires in `seconds`, and restarts it with it. */
  async expire(name: string, seconds = 20): Promise<void> {
    const s = this.spec(name);
    const party = this.cfg.parties.find((p) => p.id === s.party) as PartyConfig;
    const signer = await this.keys.get(s.keyName);
    if (!signer) throw new Error(`no key for ${name}`);
    s.chain = toHex(await this.enrol(party, name, signer.publicKey, seconds));
    this.save();
    this.event({ kind: 'credential', device: name, text: `re-enrolled with a credential that expires in ${seconds} s` });
    await this.restart(name);
  }

  /** Switches a link of one device, one party, or the whole page (`scope` 'page'). */
  async setOffline(scope: string, link: Link, off: boolean): Promise<void> {
    const d = this.devices.get(scope);
    if (d) d.spec.offline[link] = off;
    else this.saved.offline[scope] = { broker: false, ledger: false, ...this.saved.offline[scope], [link]: off };
    this.save();
    this.event({ kind: 'control', device: d ? scope : undefined, text: `${scope}: ${link} ${off ? 'offline' : 'online'}` });
    await Promise.all([...this.devices.values()].map((x) => x.applyLinks()));
  }

  isOffline(scope: string, link: Link): boolean {
    return this.devices.get(scope)?.spec.offline[link] ?? this.saved.offline[scope]?.[link] === true;
  }

  setSettings(s: Partial<PaySettings>): void {
    Object.assign(this.saved.settings, s);
    this.save();
    this.event({ kind: 'control', text: `payers: ${this.settings.rate}/s, ${this.settings.min} to ${this.settings.max} each` });
  }

  /** A signed administrative call to the ledger that serves the page. */
  async admin(signer: Signer, op: string, args: Record<string, string | bigint | number>): Promise<Map<string, unknown>> {
    const body = await signAdmin(signer, op, args, now(), crypto.getRandomValues(new Uint8Array(16)));
    const res = await fetch('/v1/admin', { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: body as BodyInit });
    if (!res.ok) throw new Error(`${op}: ${res.status} ${await res.text()}`);
    return decode(new Uint8Array(await res.arrayBuffer())) as Map<string, unknown>;
  }

  /** Each party's balance, read with a call signed by the party's own key. */
  async balances(): Promise<Record<string, bigint>> {
    const out: Record<string, bigint> = {};
    await Promise.all(
      this.cfg.parties.map(async (p) => {
        const r = await this.admin(this.partySigners.get(p.id) as Signer, 'balance', { party: p.id, asset: this.cfg.asset });
        out[p.id] = BigInt(r.get('balance') as bigint | number);
      }),
    );
    return out;
  }

  /**
   * Stops the run: payers stop, every channel is checkpointed, outboxes are sent until empty (or a minute
   * passes), and each party's balance is compared with what its devices hold: the newest vouchers.
   */
  async stopAndReconcile(): Promise<Reconciliation> {
    this.paying = false;
    this.event({ kind: 'control', text: 'run stopped: checkpointing and draining outboxes' });
    const devices = [...this.devices.values()];
    await new Promise((r) => setTimeout(r, 500)); // payments in flight land
    await Promise.all(devices.map((d) => d.checkpointAll()));
    const until = Date.now() + 60_000;
    let left = 0;
    do {
      await Promise.all(devices.map((d) => d.flush()));
      left = devices.reduce((n, d) => n + (d.ledgerUp ? d.outboxDepth : 0), 0);
    } while (left > 0 && Date.now() < until);
    const balances = await this.balances();
    // What each payer's newest vouchers say moved, from its party to the party it pays (a clone's channels
    // are its original's: counted once; removed devices as they left).
    const moved = new Map<string, bigint>();
    const add = (party: string, amount: bigint) => moved.set(party, (moved.get(party) ?? 0n) + amount);
    const payees = (party: string) => {
      const from = this.cfg.parties.find((p) => p.id === party) as PartyConfig;
      return this.cfg.parties.find((p) => from.device.counterparties.includes(p.device.category))?.id ?? '';
    };
    const paid = [
      ...devices.filter((d) => d.spec.pays && !d.spec.cloneOf).map((d) => ({ party: d.spec.party, amount: d.amount() })),
      ...this.saved.retired.filter((r) => r.pays).map((r) => ({ party: r.party, amount: BigInt(r.amount) })),
    ];
    for (const { party, amount } of paid) {
      add(party, -amount);
      add(payees(party), amount);
    }
    const parties = this.cfg.parties.map((p) => {
      const start = this.saved.baseline?.[p.id] ?? p.funding;
      const devicesSay = BigInt(start) + (moved.get(p.id) ?? 0n);
      const ledger = balances[p.id] ?? 0n;
      return { party: p.id, start, devices: String(devicesSay), ledger: String(ledger), ok: devicesSay === ledger };
    });
    const rec: Reconciliation = {
      parties,
      outboxLeft: devices.reduce((n, d) => n + d.outboxDepth, 0),
      disputes: devices.reduce((n, d) => n + d.disputes, 0),
      revoked: devices.filter((d) => d.credential.status === 'revoked').map((d) => d.spec.name),
      ok: parties.every((p) => p.ok),
      at: new Date().toISOString(),
    };
    this.event({ kind: 'control', text: `reconciliation: ${rec.ok ? 'every balance matches its devices' : 'MISMATCH'}` });
    return rec;
  }

  /** Resumes paying after a stop. */
  resume(): void {
    this.paying = true;
    this.event({ kind: 'control', text: 'run resumed' });
  }

  static kinds(): EventKind[] {
    return [
      'payment',
      'sync',
      'receipt',
      'dispute',
      'revocation',
      'credential',
      'channel',
      'link',
      'device',
      'control',
      'refused',
      'error',
    ];
  }

  static links(): Link[] {
    return LINKS;
  }
}
