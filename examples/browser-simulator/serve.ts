/**
 * `npx tsx examples/browser-simulator/serve.ts [--port 8787] [--devices 12] [--broker mqtt://... --broker-ws ws://...]
 * [--db postgres://...]`, then open the printed URL.
 *
 * One process holds what the page talks to: a broker (embedded aedes with a WebSocket listener, or yours:
 * the ledger uses `--broker`, the page `--broker-ws`), and the ledger (embedded PGlite, or PostgreSQL in
 * a schema of the run's own) on HTTP, which serves the page itself (same origin: no CORS) and takes
 * settlement records over HTTP and MQTT. It certifies four parties and hands the page their keys: the
 * page enrols its own devices. A simulator may hand out keys; real devices never.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import nodeResolve from '@rollup/plugin-node-resolve';
import { createSigner, TrustStore, toHex } from 'edgepay';
import { Ledger, LedgerService, type MqttIngest, serveHttp, serveMqtt } from 'edgepay/ledger';
import { rollup } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';
import { entries } from '../../scripts/entries.mjs';
import { certifyParties, PARTIES, type SimParty, seedFor } from '../../sim/fleet.js';
import { openRunDb, startBroker } from '../../sim/services.js';
import { enrolOutside, type OutsideDevice } from './outside.js';
import type { PageConfig } from './page/config.js';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const browserEntries: Record<string, string> = entries('browser');

/**
 * The page's scripts: page/app.ts (the page) and page/worker.ts (its device workers) with `edgepay/...`
 * resolved as a bundler does for browsers, bundled in memory; what both use, and what loads on demand
 * (MQTT.js), are chunks of their own. File name to code.
 */
export async function bundle(): Promise<Record<string, string>> {
  const build = await rollup({
    input: { app: here('page/app.ts'), worker: here('page/worker.ts') },
    onwarn: () => {},
    plugins: [
      { name: 'edgepay', resolveId: (id) => (id in browserEntries ? here(`../../${browserEntries[id]}`) : null) },
      nodeResolve({
        browser: true,
        exportConditions: ['browser', 'import', 'default'],
        preferBuiltins: false,
        extensions: ['.ts', '.js', '.mjs'],
      }),
      esbuild({ target: 'es2022', tsconfig: here('tsconfig.json') }),
    ],
  });
  const { output } = await build.generate({ format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' });
  await build.close();
  return Object.fromEntries(output.flatMap((c) => (c.type === 'chunk' ? [[c.fileName, c.code]] : [])));
}

export interface SimulatorOptions {
  port?: number;
  /** The ledger's broker (`mqtt://`); with it, `brokerWs` is the same broker's WebSocket listener for the page. */
  broker?: string;
  brokerWs?: string;
  /** MQTT version the broker speaks (default: 4 for the embedded aedes, 5 for one given). */
  protocolVersion?: 4 | 5;
  /** `postgres://...`: the ledger on PostgreSQL (its own schema, dropped at close); default PGlite. */
  db?: string;
  /** Devices the page starts with, in all (a share of each kind). */
  devices?: number;
  /** Payees outside the page, in this process (pads and toll gates in turn), that page payers pay too. */
  outside?: number;
  seed?: number;
}

export interface Simulator {
  url: string;
  ledger: Ledger;
  service: LedgerService;
  config: PageConfig;
  /** The payees outside the page, with what they took and settled. */
  outside: OutsideDevice[];
  close(): Promise<void>;
}

const ASSET = 'EUR';
const FUNDING = 100_000_000n;

export async function startSimulator(o: SimulatorOptions = {}): Promise<Simulator> {
  if (o.broker && !o.brokerWs) throw new Error('--broker needs --broker-ws: the page speaks MQTT over WebSockets');
  const seed = o.seed ?? 1;
  const now = () => Math.floor(Date.now() / 1000);
  const limits = {
    asset: ASSET,
    perPayment: 1_000n,
    perChannel: 10_000_000n,
    perPeriod: 10n ** 12n,
    periodSeconds: 86_400,
    totalOutstanding: 10n ** 11n,
  };
  const net = await certifyParties({ seed, now, limits });
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    const broker = o.broker ? { url: o.broker, wsUrl: o.brokerWs as string } : await startBroker({ ws: true });
    if ('close' in broker) closers.push(() => broker.close());
    const protocolVersion = o.protocolVersion ?? (o.broker ? 5 : 4);
    const runId = randomUUID();
    const prefix = `edgepay-ui-${runId.slice(0, 8)}`;

    const db = await openRunDb(o.db, runId);
    closers.push(() => db.close());
    const trust = new TrustStore(net.roots);
    const ledgerKey = await createSigner(seedFor(seed, 'ledger'));
    const ledger = await Ledger.open({ db, signer: ledgerKey, id: 'ledger:sim', trust });
    const payers = [PARTIES.fleet, PARTIES.vehicles];
    // Every party known from the start (each reads its own balance); the paying ones funded.
    for (const p of net.parties.values()) await ledger.registerParty(p.cred);
    for (const p of payers) await ledger.fund(p.id, ASSET, FUNDING, `sim-${runId}-${p.id}`);
    // Disputed devices are revoked with the issuer's key; every list goes to devices as a retained message.
    let ingest: MqttIngest | undefined;
    const service = await LedgerService.open({
      ledger,
      trust,
      revocation: { signer: net.issuer, issuer: net.issuerId },
      publish: (list) => ingest?.publishRevocationList(list),
    });
    ingest = await serveMqtt(service, { url: broker.url, prefix, protocolVersion });
    closers.push(() => (ingest as MqttIngest).close());

    const outside = await enrolOutside(o.outside ?? 0, {
      seed,
      parties: [PARTIES.pads, PARTIES.tolls].map((p) => net.parties.get(p.id) as SimParty),
      roots: net.roots,
    });
    const total = Math.max(4, o.devices ?? 12);
    const perPair = Math.floor(total / 4);
    const config: PageConfig = {
      runId,
      asset: ASSET,
      ledgerKey: toHex(ledgerKey.publicKey),
      broker: broker.wsUrl as string,
      protocolVersion,
      prefix,
      roots: net.roots.map((r) => ({ id: r.id, publicKey: toHex(r.publicKey) })),
      issuer: { id: net.issuerId, seed: toHex(seedFor(seed, 'issuer')) },
      parties: [...net.parties.values()].map((p) => ({
        id: p.spec.id,
        seed: toHex(seedFor(seed, p.spec.id)),
        credential: toHex(p.cred),
        device: p.spec.device,
        funding: payers.includes(p.spec) ? String(FUNDING) : '0',
      })),
      // Half of them pay (drones, vehicles), half are paid (pads, toll gates); the rest of a division to drones and pads.
      fleet: { drone: perPair + (total % 4), 'charging-pad': perPair + (total % 4), vehicle: perPair, 'toll-gate': perPair },
      outside: outside.devices.map(({ name, category, party, address }) => ({ name, category, party, address })),
    };
    const http = await serveHttp(service, {
      port: o.port ?? 0,
      trust,
      rate: { perSecond: 20_000, burst: 40_000 },
      files: {
        '/index.html': { type: 'text/html; charset=utf-8', body: readFileSync(here('index.html'), 'utf8') },
        ...Object.fromEntries(Object.entries(await bundle()).map(([f, body]) => [`/${f}`, { type: 'text/javascript', body }])),
        '/uPlot.css': { type: 'text/css', body: readFileSync(here('../../node_modules/uplot/dist/uPlot.min.css'), 'utf8') },
        '/config.json': { type: 'application/json', body: JSON.stringify(config) },
      },
    });
    closers.push(() => http.close());
    closers.push(await outside.start({ broker: broker.url, prefix, protocolVersion, ledger: http.url, ledgerKey: ledgerKey.publicKey }));
    return { url: `${http.url}/`, ledger, service, config, outside: outside.devices, close };
  } catch (e) {
    await close();
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const { values: v } = parseArgs({
      options: {
        port: { type: 'string', default: process.env.PORT ?? '8787' },
        broker: { type: 'string' },
        'broker-ws': { type: 'string' },
        mqtt: { type: 'string' },
        db: { type: 'string' },
        devices: { type: 'string', default: '12' },
        outside: { type: 'string', default: '0' },
        seed: { type: 'string', default: '1' },
      },
    });
    const int = (k: 'port' | 'devices' | 'outside' | 'seed' | 'mqtt', min: number, max: number): number => {
      const n = Number(v[k]);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${k} takes a whole number from ${min} to ${max}`);
      return n;
    };
    if (v.mqtt !== undefined && v.mqtt !== '4' && v.mqtt !== '5') throw new Error('--mqtt is 4 or 5');
    const sim = await startSimulator({
      port: int('port', 0, 65_535),
      broker: v.broker,
      brokerWs: v['broker-ws'],
      ...(v.mqtt ? { protocolVersion: int('mqtt', 4, 5) as 4 | 5 } : {}),
      db: v.db,
      devices: int('devices', 4, 1_000),
      outside: int('outside', 0, 100),
      seed: int('seed', 0, 2 ** 31),
    });
    console.log(`open ${sim.url}  (broker ${sim.config.broker}, Ctrl-C to stop)`);
    process.once('SIGINT', () => void sim.close().then(() => process.exit(0)));
  } catch (e) {
    console.error(`serve: ${(e as Error).message}`);
    process.exitCode = 2;
  }
}
