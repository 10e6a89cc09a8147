/**
 * A device worker: runs its share of the fleet off the page's main thread (IndexedDB, MQTT, CBOR and
 * signatures all work here), takes the page's commands, and reports every second what the page draws.
 */
import { decodeChain, fromHex, IdbChannelStore, IdbKeyStore, type Receipt, type TrustRoot, toHex } from 'edgepay';
import { decodeCredential, decodeRevocationList } from 'edgepay/identity';
import type { PageConfig } from './config.js';
import type { PageContext, PaySettings, SimEvent } from './context.js';
import { type DeviceSpec, SimDevice } from './device.js';
import type { Command, Link, Report, Switches } from './protocol.js';

const scope = self as unknown as { postMessage(m: Report): void; onmessage: ((e: MessageEvent<Command>) => void) | null };
const post = (m: Report) => scope.postMessage(m);

class Host implements PageContext {
  readonly roots: TrustRoot[];
  readonly keys: IdbKeyStore;
  readonly devices = new Map<string, SimDevice>();
  events: SimEvent[] = [];
  tally = { payments: 0, records: 0, latencies: [] as number[] };
  private readonly partyByKid = new Map<string, Uint8Array>();
  private readonly listsSeen = new Set<string>();
  private readonly chains = new Map<string, { expiresAt: number; subject: string }>();

  constructor(
    readonly cfg: PageConfig,
    public settings: PaySettings,
    public switches: Switches,
    public paying: boolean,
  ) {
    this.roots = cfg.roots.map((r) => ({ id: r.id, publicKey: fromHex(r.publicKey) }));
    this.keys = new IdbKeyStore({ dbName: `sim-${cfg.runId}-keys`, passphrase: 'simulator' });
    for (const p of cfg.parties) {
      const cred = fromHex(p.credential);
      this.partyByKid.set(toHex(decodeCredential(cred).subjectKid), cred);
    }
  }

  offline(party: string, link: Link): boolean {
    return this.switches.page?.[link] === true || this.switches[party]?.[link] === true;
  }

  event(e: Omit<SimEvent, 'at'>): void {
    this.events.push({ at: Date.now(), ...e });
  }

  partyCredentialFor(list: Uint8Array): Uint8Array | undefined {
    const kid = decodeRevocationList(list).sign1.kid;
    return kid && this.partyByKid.get(toHex(kid));
  }

  listApplied(device: SimDevice, list: Uint8Array): void {
    const l = decodeRevocationList(list).content;
    const key = `${l.issuer}:${l.version}`;
    if (this.listsSeen.has(key)) return;
    this.listsSeen.add(key);
    this.event({
      kind: 'revocation',
      device: device.spec.name,
      text: `revocation list v${l.version} of ${l.issuer} (${l.entries.length} keys) reached the devices`,
      once: key,
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
    if (r.status === 'accepted')
      this.event({ kind: 'receipt', text: `record ${toHex(r.recordId).slice(0, 8)} accepted, ${r.posted} posted` });
  }

  paid(device: SimDevice, amount: bigint): void {
    this.tally.payments++;
    this.event({ kind: 'payment', device: device.spec.name, text: `paid ${amount} to ${device.spec.peer}` });
  }

  async start(spec: DeviceSpec): Promise<void> {
    const d = new SimDevice(spec, this);
    this.devices.set(spec.name, d);
    await d.start().catch((e) => this.event({ kind: 'error', device: spec.name, text: `start failed: ${(e as Error).message}` }));
  }

  async stop(name: string, settle: boolean): Promise<string> {
    const d = this.devices.get(name);
    if (!d) return '0';
    if (settle) {
      await d.checkpointAll();
      await d.flush();
    }
    await d.stop();
    this.devices.delete(name);
    return String(d.amount());
  }

  /** Checkpoints every channel, then sends outboxes until they are empty (where the ledger is reachable) or time is up. */
  async settle(untilMs: number): Promise<{ amounts: Record<string, string>; outboxLeft: number }> {
    const devices = [...this.devices.values()];
    await Promise.all(devices.map((d) => d.checkpointAll()));
    let left = 0;
    for (;;) {
      await Promise.all(devices.map((d) => d.flush()));
      left = devices.reduce((n, d) => n + (d.ledgerUp ? d.outboxDepth : 0), 0);
      if (left === 0 || Date.now() >= untilMs) break;
      await new Promise((r) => setTimeout(r, 250)); // a ledger answering "busy" is not asked again at once
    }
    return {
      amounts: Object.fromEntries(devices.map((d) => [d.spec.name, String(d.amount())])),
      outboxLeft: devices.reduce((n, d) => n + d.outboxDepth, 0),
    };
  }

  report(): void {
    // A credential runs out without anything arriving: checked again once its time has come.
    const now = Math.floor(Date.now() / 1000);
    for (const d of this.devices.values())
      if (d.credential.status === 'valid' && d.credential.expiresAt > 0 && d.credential.expiresAt <= now) void d.checkCredential();
    const events = this.events;
    this.events = [];
    post({ type: 'report', devices: [...this.devices.values()].map((d) => d.view()), events, tally: this.tally });
    this.tally = { payments: 0, records: 0, latencies: [] };
  }
}

let host: Host | undefined;
/** Commands run one at a time, in the order the page sent them. */
let queue: Promise<void> = Promise.resolve();

async function handle(c: Command, h: Host): Promise<unknown> {
  switch (c.type) {
    case 'start':
      return h.start(c.spec);
    case 'spec': {
      const d = h.devices.get(c.spec.name);
      if (d) {
        d.spec = c.spec;
        await d.applyLinks();
      }
      return;
    }
    case 'restart':
      await h.stop(c.spec.name, false);
      h.event({ kind: 'control', device: c.spec.name, text: 'restarting: memory dropped, state from IndexedDB' });
      return h.start(c.spec);
    case 'clone': {
      // The board image copied: every channel the original has stored, into the clone's own store.
      const [from] = SimDevice.databases(h.cfg.runId, c.from);
      const [to] = SimDevice.databases(h.cfg.runId, c.spec.name);
      const target = new IdbChannelStore(to);
      for (const r of await new IdbChannelStore(from).list()) await target.put(r);
      return h.start(c.spec);
    }
    case 'stop':
      return h.stop(c.name, c.settle);
    case 'switches':
      h.switches = c.offline;
      await Promise.all([...h.devices.values()].map((d) => d.applyLinks()));
      return;
    case 'settings':
      h.settings = c.settings;
      return;
    case 'paying':
      h.paying = c.paying;
      return;
    case 'settle':
      return h.settle(c.untilMs);
    case 'detail':
      return h.devices.get(c.name)?.detail();
    case 'init':
      return;
  }
}

scope.onmessage = (e) => {
  const c = e.data;
  if (c.type === 'init') {
    host = new Host(c.cfg, c.settings, c.offline, c.paying);
    const h = host;
    setInterval(() => h.report(), 1_000);
    return;
  }
  const h = host;
  if (!h) return;
  // Starts run side by side (a fleet comes up at once); everything else waits its turn.
  const run = () =>
    handle(c, h).then(
      (result) => ('id' in c ? post({ type: 'done', id: c.id, result }) : undefined),
      (err: unknown) => ('id' in c ? post({ type: 'done', id: c.id, error: (err as Error).message }) : undefined),
    );
  if (c.type === 'start') void run();
  else queue = queue.then(run);
};
