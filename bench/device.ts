/**
 * `npm run bench -- device`: the device side as a firmware engineer installs it. Packs this package,
 * installs it into a fresh project (as `npm install edgepay` does, from the registry), and measures:
 *
 *   device.install.bytes / .packages         node_modules without MQTT (the device that does not use it)
 *   device.install.mqtt.bytes / .packages    the same with mqtt (MQTT.js) installed beside it
 *   device.coldstart.ratio                   a process importing edgepay, /identity, /channel, /outbox,
 *                                            /sync and making a key, over bare `node -e 0` (medians)
 *   device.coldstart.floor.ratio             only cbor-x and the Node modules a device needs, and a key made
 *                                            with node:crypto directly: what no SDK on these libraries beats
 *   device.coldstart.mqtt.ratio              the same also importing /transport and loading MQTT.js
 *   device.rss.mb                            peak RSS of a payer that has paid 1,000 vouchers to a payee
 *                                            over MQTT (embedded broker) with file stores, over bare Node's
 *   device.rss.semi1.mb                      the same run with `node --max-semi-space-size=1`
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Aedes } from 'aedes';
import { toHex } from '../src/bytes.js';
import { Payee } from '../src/channel/payee.js';
import { servePayee } from '../src/channel/session.js';
import { MemoryChannelStore } from '../src/channel/store.js';
import { createSigner, generateSecretKey } from '../src/crypto/index.js';
import { encodeChain, issueCredential } from '../src/identity/credential.js';
import { openDevice } from '../src/identity/device.js';
import { TrustStore } from '../src/identity/trust-store.js';
import { MqttTransport } from '../src/transport/mqtt.js';
import { report } from './harness.js';

const RUNS = 15;
const VOUCHERS = 1_000;

/** Bytes of every file under `dir`, and the packages in it (each folder with a package.json, nested too). */
function footprint(dir: string): { bytes: number; packages: number } {
  let bytes = 0;
  let packages = 0;
  const walk = (d: string, modules: boolean) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) {
        const isPackage = modules && !e.name.startsWith('.') && !e.name.startsWith('@') && existsSync(join(p, 'package.json'));
        if (isPackage) packages++;
        walk(p, e.name === 'node_modules' || (modules && e.name.startsWith('@')));
      } else bytes += statSync(p).size;
    }
  };
  walk(join(dir, 'node_modules'), true);
  return { bytes, packages };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Wall time of `node <args>` in `cwd`, ms (medians over alternating runs with bare Node, so both see the same machine). */
function coldStart(cwd: string, script: string): { ms: number; bare: number } {
  const ms: number[] = [];
  const bare: number[] = [];
  const time = (args: string[]) => {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr}`);
    return performance.now() - t;
  };
  time([script]); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    bare.push(time(['-e', '0']));
    ms.push(time([script]));
  }
  return { ms: median(ms), bare: median(bare) };
}

const PAYER = `
import { readFileSync } from 'node:fs';
import { FileChannelStore, FileOutbox, MqttTransport, openDevice, Payer, PayerSession, settlements, TrustStore, createSigner, toHex } from 'edgepay';
const c = JSON.parse(readFileSync('payer.json', 'utf8'));
const hex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
const trust = new TrustStore([{ id: 'net', publicKey: hex(c.root) }]);
const device = await openDevice({ signer: await createSigner(hex(c.secret)), chain: hex(c.chain), trust });
const outbox = await FileOutbox.open('state/outbox');
const payer = new Payer({ device, trust, store: new FileChannelStore('state/channels'), outbox: settlements(outbox) });
const transport = await MqttTransport.connect({ url: c.url, address: toHex(device.kid), protocolVersion: 4, endSessionOnClose: true });
const session = new PayerSession(payer, transport);
const id = await session.open(c.payee, { payeeKid: hex(c.payeeKid), cap: BigInt(c.vouchers) });
for (let i = 0; i < c.vouchers; i++) await session.pay(c.payee, id, 1n);
await session.waitAck(c.payee, id, payer.channel(id).seq, 0);
const hwm = Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
await transport.close();
await outbox.close();
console.log(JSON.stringify({ hwm, paid: String(payer.channel(id).cumulative) }));
`;

/** A payer in the installed project pays `VOUCHERS` to a payee here, over an embedded broker; its peak RSS. */
async function payingRss(cwd: string, flags: string[] = []): Promise<number> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const now = Math.floor(Date.now() / 1000);
  const base = { issuedAt: now - 60, notBefore: now - 60, expiresAt: now + 86_400 };
  const limits = {
    asset: 'EUR',
    perPayment: 10n,
    perChannel: 10_000n,
    perPeriod: 100_000n,
    periodSeconds: 86_400,
    totalOutstanding: 10_000n,
  };
  const issuer = await createSigner();
  const roots = [{ id: 'net', publicKey: issuer.publicKey }];
  const chain = async (party: string, key: Uint8Array, category: string) => {
    const partyKey = await createSigner();
    const pc = await issueCredential(issuer, {
      ...base,
      role: 'party',
      issuer: 'net',
      subject: party,
      publicKey: partyKey.publicKey,
      limits,
      category: `${category}-owner`,
    });
    const dc = await issueCredential(partyKey, {
      ...base,
      role: 'device',
      issuer: party,
      subject: `device:${category}`,
      publicKey: key,
      limits: {},
      category,
    });
    return encodeChain([pc, dc]);
  };
  const payerSecret = generateSecretKey();
  const payeeKey = await createSigner();
  const payeeDevice = await openDevice({
    signer: payeeKey,
    chain: await chain('party:pads', payeeKey.publicKey, 'pad'),
    trust: new TrustStore(roots),
  });
  const payee = new Payee({ device: payeeDevice, trust: new TrustStore(roots), store: new MemoryChannelStore() });
  const address = toHex(payeeDevice.kid);
  const transport = await MqttTransport.connect({ url, address, protocolVersion: 4, endSessionOnClose: true });
  servePayee(payee, transport);
  try {
    writeFileSync(
      join(cwd, 'payer.json'),
      JSON.stringify({
        url,
        payee: address,
        payeeKid: toHex(payeeDevice.kid),
        root: toHex(issuer.publicKey),
        secret: toHex(payerSecret),
        chain: toHex(await chain('party:fleet', (await createSigner(payerSecret)).publicKey, 'drone')),
        vouchers: VOUCHERS,
      }),
    );
    writeFileSync(join(cwd, 'payer.mjs'), PAYER);
    rmSync(join(cwd, 'state'), { recursive: true, force: true });
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [...flags, 'payer.mjs'], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
      });
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`the payer exited ${code}`))));
    });
    const r = JSON.parse(out) as { hwm: number; paid: string };
    if (r.paid !== String(VOUCHERS)) throw new Error(`the payer paid ${r.paid}, not ${VOUCHERS}`);
    return r.hwm;
  } finally {
    await transport.close();
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise((r) => server.close(r));
  }
}

export async function benchDevice(): Promise<void> {
  if (!existsSync('dist/node/index.js')) execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  const work = mkdtempSync(join(tmpdir(), 'edgepay-device-'));
  try {
    const tarball = resolve(
      work,
      execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { encoding: 'utf8' }).trim().split('\n').pop() as string,
    );
    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'board', private: true, type: 'module' }));
    const npm = (...args: string[]) =>
      execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, stdio: 'ignore' });
    npm('install', tarball);
    const plain = footprint(project);
    report('device.install.bytes', plain.bytes / 1e6, 'MB');
    report('device.install.packages', plain.packages, 'packages');
    writeFileSync(
      join(project, 'cold.mjs'),
      "import 'edgepay'; import 'edgepay/identity'; import 'edgepay/channel'; import 'edgepay/outbox'; import 'edgepay/sync';\n" +
        "const { createSigner } = await import('edgepay'); await createSigner();\n",
    );
    // The floor: only what a device cannot start without (the CBOR library, the Node modules for files,
    // checksums and keys) and a key made with node:crypto directly.
    writeFileSync(
      join(project, 'floor.mjs'),
      "import 'cbor-x/decode'; import 'cbor-x/encode'; import 'node:fs/promises'; import 'node:path'; import 'node:zlib';\n" +
        "const { generateKeyPairSync } = await import('node:crypto'); generateKeyPairSync('ed25519');\n",
    );
    const cold = coldStart(project, 'cold.mjs');
    const floor = coldStart(project, 'floor.mjs');
    report('device.coldstart.ms', cold.ms, 'ms');
    report('device.coldstart.ratio', cold.ms, 'x bare', cold.bare);
    report('device.coldstart.floor.ratio', floor.ms, 'x bare', floor.bare);

    const mqttVersion = (JSON.parse(execFileSync('npm', ['pkg', 'get', 'devDependencies.mqtt'], { encoding: 'utf8' })) as string).trim();
    npm('install', `mqtt@${mqttVersion}`);
    const withMqtt = footprint(project);
    report('device.install.mqtt.bytes', withMqtt.bytes / 1e6, 'MB');
    report('device.install.mqtt.packages', withMqtt.packages, 'packages');
    writeFileSync(join(project, 'cold-mqtt.mjs'), "import './cold.mjs'; import 'edgepay/transport'; await import('mqtt');\n");
    const coldMqtt = coldStart(project, 'cold-mqtt.mjs');
    report('device.coldstart.mqtt.ratio', coldMqtt.ms, 'x bare', coldMqtt.bare);

    const bare = spawnSync(
      process.execPath,
      ['-e', "process.stdout.write(/VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))[1])"],
      {
        encoding: 'utf8',
      },
    );
    const bareMb = (Number(bare.stdout) * 1024) / 2 ** 20;
    report('device.rss.mb', (await payingRss(project)) / 2 ** 20, 'MB', bareMb);
    // V8 grows its young generation to 3 x 16 MB under a steady stream of small objects: capped, the same run.
    report('device.rss.semi1.mb', (await payingRss(project, ['--max-semi-space-size=1'])) / 2 ** 20, 'MB', bareMb);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
