/**
 * The fleet, as the page holds it: which devices there are (in localStorage; their state is in
 * IndexedDB), which worker runs each, what each party and the page have switched off, the pay settings,
 * the event log and the devices' latest reports, and every control: add, remove, clone, restart, revoke,
 * expire, stop the run and reconcile. The devices themselves run in workers (page/worker.ts).
 */
import { createSigner, encodeChain, fromHex, IdbKeyStore, issueCredential, type Signer, toHex } from 'edgepay';
import { coseKeyThumbprint, decode, encode } from 'edgepay/codec';
import { decodeCredential, signRevocationList } from 'edgepay/identity';
import { signAdmin } from 'edgepay/sync';
import type { PageConfig, PartyConfig } from './config.js';
import type { EventKind, PaySettings, SimEvent } from './context.js';
import type { DeviceSpec } from './device.js';
import type { Command, DeviceDetail, DeviceView, Link, Report } from './protocol.js';

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

/** Device workers: as many as the machine has cores, at least two, at most four. */
const WORKERS = Math.min(4, Math.max(2, navigator.hardwareConcurrency || 2));

export class Fleet {
  /** Each device's latest report, by name. */
  readonly views = new Map<string, DeviceView>();
  readonly events: SimEvent[] = [];
  droppedEvents = 0;
  paying = true;
  /** Since the last read (the page reads it once a second): payments, records settled, ledger round trips. */
  tally = { payments: 0, records: 0, latencies: [] as number[] };
  readonly totals = { payments: 0, records: 0 };
  keyWhere = '';
  readonly onEvent = new Set<(e: SimEvent) => void>();
  private readonly keys: IdbKeyStore;
  private saved: Saved;
  private readonly partySigners = new Map<string, Signer>();
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 0;
  private readonly seen = new Set<string>();
  private readonly storageKey = 'edgepay-simulator';

  constructor(readonly cfg: PageConfig) {
    this.keys = new IdbKeyStore({ dbName: `sim-${cfg.runId}-keys`, passphrase: 'simulator' });
    const held = JSON.parse(localStorage.getItem(this.storageKey) ?? 'null') as Saved | null;
    this.saved =
      held?.runId === cfg.runId
        ? held
        : { runId: cfg.runId, specs: [], retired: [], offline: {}, settings: { rate: 2, min: 1, max: 50 }, revoked: {}, counter: 0 };
  }

  get settings(): PaySettings {
    return this.saved.settings;
  }

  get specs(): readonly DeviceSpec[] {
    return this.saved.specs;
  }

  /** Starts the workers and every device the page held (or the configured fleet on a first visit). */
  async open(): Promise<void> {
    await this.forgetOtherRuns();
    for (const p of this.cfg.parties) this.partySigners.set(p.id, await createSigner(fromHex(p.seed)));
    this.keyWhere = (await this.probeWebCrypto()) ? 'IndexedDB, non-extractable' : 'IndexedDB, sealed';
    // What the ledger held before this page's devices paid: other pages or fleets may have settled there.
    this.saved.baseline ??= await this.balances().then(
      (b) => Object.fromEntries(Object.entries(b).map(([p, v]) => [p, String(v)])),
      () => undefined,
    );
    for (let i = 0; i < WORKERS; i++) {
      const w = new Worker(new URL('./worker.js', location.href), { type: 'module' });
      w.onmessage = (e: MessageEvent<Report>) => this.take(e.data);
      w.onerror = (e) => this.event({ kind: 'error', text: `a device worker failed: ${e.message}` });
      this.send(w, { type: 'init', cfg: this.cfg, settings: this.settings, offline: this.saved.offline, paying: this.paying });
      this.workers.push(w);
    }
    if (this.saved.specs.length === 0)
      for (const [category, n] of Object.entries(this.cfg.fleet)) await this.add(category, n, { start: false });
    // Payees first: a payer's first open to a payee not yet subscribed at the broker would be lost.
    const start = (specs: DeviceSpec[]) => {
      for (const s of specs) this.send(this.workerOf(s.name), { type: 'start', spec: s });
    };
    const payees = this.saved.specs.filter((s) => !s.pays);
    start(payees);
    for (let waited = 0; waited < 15_000 && !payees.every((s) => this.views.get(s.name)?.broker === 'online'); waited += 100)
      await new Promise((r) => setTimeout(r, 100));
    start(this.saved.specs.filter((s) => s.pays));
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

  /** IndexedDB databases of an earlier run (another server start) are deleted. */
  private async forgetOtherRuns(): Promise<void> {
    const dbs = (await indexedDB.databases?.()) ?? [];
    for (const d of dbs) if (d.name?.startsWith('sim-') && !d.name.startsWith(`sim-${this.cfg.runId}-`)) indexedDB.deleteDatabase(d.name);
  }

  private save(): void {
    localStorage.setItem(this.storageKey, JSON.stringify(this.saved));
  }

  /** The worker that runs a device: the same one for a name, whatever the order devices come in. */
  private workerOf(name: string): Worker {
    let h = 0;
    for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return this.workers[h % this.workers.length] as Worker;
  }

  private send(w: Worker, c: Command): void {
    w.postMessage(c);
  }

  private request<T>(w: Worker, c: Command & { id: number }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(c.id, { resolve: resolve as (v: unknown) => void, reject });
      this.send(w, c);
    });
  }

  private take(r: Report): void {
    if (r.type === 'done') {
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      if (r.error !== undefined) w?.reject(new Error(r.error));
      else w?.resolve(r.result);
      return;
    }
    for (const v of r.devices) if (this.saved.specs.some((s) => s.name === v.name)) this.views.set(v.name, v);
    for (const e of r.events) {
      if (e.once !== undefined) {
        if (this.seen.has(e.once)) continue;
        this.seen.add(e.once);
      }
      this.push(e);
    }
    this.tally.payments += r.tally.payments;
    this.tally.records += r.tally.records;
    this.tally.latencies.push(...r.tally.latencies);
    this.totals.payments += r.tally.payments;
    this.totals.records += r.tally.records;
  }

  private push(e: SimEvent): void {
    if (this.events.push(e) > MAX_EVENTS) {
      this.events.splice(0, this.events.length - MAX_EVENTS);
      this.droppedEvents++;
    }
    for (const l of this.onEvent) l(e);
  }

  event(e: Omit<SimEvent, 'at'>): void {
    this.push({ at: Date.now(), ...e });
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
      this.saved.specs.push({
        name,
        category,
        party: party.id,
        pays,
        keyName: name,
        chain: toHex(chain),
        address: toHex(coseKeyThumbprint(signer.publicKey)),
        offline: { broker: false, ledger: false },
      });
      names.push(name);
    }
    this.assignPeers(o.start !== false);
    this.save();
    this.event({ kind: 'control', text: `added ${count} ${category} devices (${names.join(', ')})` });
    if (o.start !== false) for (const n of names) this.send(this.workerOf(n), { type: 'start', spec: this.spec(n) });
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

  /**
   * Every payer without a live peer gets the payee of its counterparty category with the fewest payers;
   * a running payer whose peer changed is told (`tell`).
   */
  private assignPeers(tell: boolean): void {
    const specs = this.saved.specs;
    for (const s of specs) {
      if (!s.pays || (s.peer && (specs.some((x) => x.name === s.peer) || this.cfg.outside.some((x) => x.name === s.peer)))) continue;
      const party = this.cfg.parties.find((p) => p.id === s.party) as PartyConfig;
      // Payees outside the page first: with equal loads, they are the ones paid.
      const payees = [...this.cfg.outside, ...specs.filter((x) => !x.pays)].filter((x) => party.device.counterparties.includes(x.category));
      const load = (p: { name: string }) => specs.filter((x) => x.peer === p.name).length;
      const peer = payees.sort((a, b) => load(a) - load(b))[0];
      s.peer = peer?.name;
      s.peerAddress = peer?.address;
      if (tell && this.views.has(s.name)) this.send(this.workerOf(s.name), { type: 'spec', spec: s });
    }
  }

  private spec(name: string): DeviceSpec {
    const s = this.saved.specs.find((x) => x.name === name);
    if (!s) throw new Error(`no device ${name}`);
    return s;
  }

  /** Removes a device: its channels checkpointed and its outbox sent first (when the ledger is reachable). */
  async remove(name: string): Promise<void> {
    const s = this.spec(name);
    const amount = await this.request<string>(this.workerOf(name), { type: 'stop', name, settle: true, id: ++this.nextId });
    if (!s.cloneOf) this.saved.retired.push({ name, party: s.party, pays: s.pays, amount });
    this.saved.specs = this.saved.specs.filter((x) => x.name !== name);
    this.views.delete(name);
    this.assignPeers(true);
    this.save();
    this.event({ kind: 'control', device: name, text: 'removed: channels checkpointed and its outbox sent' });
  }

  /** Restarts a device: everything in memory dropped, state back from IndexedDB. */
  async restart(name: string): Promise<void> {
    await this.request(this.workerOf(name), { type: 'restart', spec: this.spec(name), id: ++this.nextId });
  }

  /**
   * Clones a payer: a second device with the same key, credential and stored channels (a copied board
   * image). Both pay on the same channel with the same seqs: the payee sees two vouchers for one seq.
   */
  async clone(name: string): Promise<string> {
    const src = this.spec(name);
    if (!src.pays) throw new Error('only payers are cloned: a clone is two devices paying with one key');
    const copy: DeviceSpec = { ...src, name: `${name}-clone`, cloneOf: name, offline: { broker: false, ledger: false } };
    if (this.saved.specs.some((s) => s.name === copy.name)) throw new Error(`${copy.name} exists`);
    this.saved.specs.push(copy);
    this.save();
    this.event({ kind: 'control', device: copy.name, text: `cloned from ${name}: same key, same channels` });
    await this.request(this.workerOf(copy.name), { type: 'clone', spec: copy, from: name, id: ++this.nextId });
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
  setOffline(scope: string, link: Link, off: boolean): void {
    const s = this.saved.specs.find((x) => x.name === scope);
    if (s) {
      s.offline = { ...s.offline, [link]: off };
      this.send(this.workerOf(scope), { type: 'spec', spec: s });
    } else {
      this.saved.offline[scope] = { broker: false, ledger: false, ...this.saved.offline[scope], [link]: off };
      for (const w of this.workers) this.send(w, { type: 'switches', offline: this.saved.offline });
    }
    this.save();
    this.event({ kind: 'control', device: s ? scope : undefined, text: `${scope}: ${link} ${off ? 'offline' : 'online'}` });
  }

  isOffline(scope: string, link: Link): boolean {
    const s = this.saved.specs.find((x) => x.name === scope);
    return s ? s.offline[link] : this.saved.offline[scope]?.[link] === true;
  }

  /** Whether a device's link is down, by its own switch, its party's or the page's. */
  linkDown(spec: DeviceSpec, link: Link): boolean {
    return spec.offline[link] || this.isOffline(spec.party, link) || this.isOffline('page', link);
  }

  setSettings(s: Partial<PaySettings>): void {
    Object.assign(this.saved.settings, s);
    this.save();
    for (const w of this.workers) this.send(w, { type: 'settings', settings: this.settings });
    this.event({ kind: 'control', text: `payers: ${this.settings.rate}/s, ${this.settings.min} to ${this.settings.max} each` });
  }

  /** The selected device's channels, outbox and receipts, from its worker. */
  detail(name: string): Promise<DeviceDetail | undefined> {
    return this.request(this.workerOf(name), { type: 'detail', name, id: ++this.nextId });
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

  private setPaying(paying: boolean): void {
    this.paying = paying;
    for (const w of this.workers) this.send(w, { type: 'paying', paying });
  }

  /**
   * Stops the run: payers stop, every channel is checkpointed, outboxes are sent until empty (or a minute
   * passes), and each party's balance is compared with what its devices hold: the newest vouchers.
   */
  async stopAndReconcile(): Promise<Reconciliation> {
    this.setPaying(false);
    this.event({ kind: 'control', text: 'run stopped: checkpointing and draining outboxes' });
    await new Promise((r) => setTimeout(r, 500)); // payments in flight land
    const untilMs = Date.now() + 60_000;
    const settled = await Promise.all(
      this.workers.map((w) =>
        this.request<{ amounts: Record<string, string>; outboxLeft: number }>(w, { type: 'settle', untilMs, id: ++this.nextId }),
      ),
    );
    const amounts = Object.assign({}, ...settled.map((x) => x.amounts)) as Record<string, string>;
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
      ...this.saved.specs.filter((s) => s.pays && !s.cloneOf).map((s) => ({ party: s.party, amount: BigInt(amounts[s.name] ?? '0') })),
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
    const views = [...this.views.values()];
    const rec: Reconciliation = {
      parties,
      outboxLeft: settled.reduce((n, x) => n + x.outboxLeft, 0),
      disputes: views.reduce((n, v) => n + v.disputes, 0),
      revoked: views.filter((v) => v.credential.status === 'revoked').map((v) => v.name),
      ok: parties.every((p) => p.ok),
      at: new Date().toISOString(),
    };
    this.event({ kind: 'control', text: `reconciliation: ${rec.ok ? 'every balance matches its devices' : 'MISMATCH'}` });
    return rec;
  }

  /** Resumes paying after a stop. */
  resume(): void {
    this.setPaying(true);
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
