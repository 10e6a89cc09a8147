/**
 * The package builds as promised: no Node builtin in any browser bundle, and the Node ESM and CJS
 * builds load and work. Built here with the real rollup config into a scratch project's
 * `node_modules/edgepay`, where an example runs against it as a user's code would: through the exports map.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type OutputOptions, type RollupOptions, rollup } from 'rollup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserBundle } from '../../bench/browser-bundle.js';
import config from '../../rollup.config.mjs';
import { concepts } from '../../scripts/entries.mjs';
import { encode } from '../../src/codec/cbor.js';
import { coseKeyMap } from '../../src/codec/cose-key.js';

const project = `.tmp/build-test-${process.pid}`;
/** The package as installed in a user's project: its package.json and the built dist. */
const pkg = `${project}/node_modules/edgepay`;
const out = `${pkg}/dist`;

describe('build', () => {
  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    copyFileSync('package.json', `${pkg}/package.json`);
    // A project of its own (not inside this package's scope, where `edgepay` would resolve to itself).
    writeFileSync(`${project}/package.json`, JSON.stringify({ name: 'edgepay-user', private: true, type: 'module' }));
    // The package's own dependencies, as npm would install them beside it.
    for (const d of readdirSync('node_modules'))
      if (!d.startsWith('.')) symlinkSync(resolve('node_modules', d), `${project}/node_modules/${d}`);
    for (const options of config as RollupOptions[]) {
      const build = await rollup({ ...options, onwarn: () => {} });
      const outputs = (Array.isArray(options.output) ? options.output : [options.output]) as OutputOptions[];
      for (const o of outputs) await build.write({ ...o, dir: `${out}/${o.dir?.replace(/^dist\//, '')}` });
      await build.close();
    }
  }, 120_000);
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it.each(Object.values(concepts.browser).filter((e) => !e.includes('/cli/')))(
    'browser bundle of %s imports no Node builtin',
    async (entry) => {
      const { externals } = await browserBundle(entry, false);
      expect(externals).toEqual([]);
    },
  );

  it('the check can fail: the Node target does pull Node builtins', async () => {
    const { externals } = await browserBundle('targets/node/index.ts', false);
    expect(externals.filter((e) => e.startsWith('node:')).length).toBeGreaterThan(0);
  });

  it('the Node ESM and CJS builds load, pick node:crypto, and sign + verify a COSE_Sign1', () => {
    const script = (load: string) => `
      ${load}
      (async () => {
        const ed = await e.getEd25519();
        const s = await e.createSigner();
        const msg = c.decodeSign1(await c.signSign1(c.encode({ amount: 5n }), s));
        const payload = await c.verifySign1(msg, s.publicKey);
        console.log(ed.name, JSON.stringify([...c.decode(payload)].map(([k, v]) => [k, String(v)])));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const esm = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', script("import * as e from 'edgepay'; import * as c from 'edgepay/codec';")],
      {
        encoding: 'utf8',
        cwd: project,
      },
    );
    const cjs = execFileSync(process.execPath, ['-e', script("const e = require('edgepay'); const c = require('edgepay/codec');")], {
      encoding: 'utf8',
      cwd: project,
    });
    expect(esm.trim()).toBe('node [["amount","5"]]');
    expect(cjs.trim()).toBe('node [["amount","5"]]');
  });

  it('an example runs against the built package (edgepay, edgepay/ledger through the exports map)', () => {
    for (const f of ['main.ts', 'board.ts']) copyFileSync(`examples/node-board/${f}`, `${project}/${f}`);
    const tsx = resolve('node_modules/tsx/dist/esm/index.mjs');
    const log = execFileSync(process.execPath, ['--import', tsx, 'main.ts'], { cwd: project, encoding: 'utf8' });
    expect(log).toMatch(/^synced: 1 acknowledged, 0 rejected; outbox now 0$/m);
    // It really ran the build: `edgepay` and `edgepay/ledger` resolve into the installed dist.
    const where = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('edgepay'), import.meta.resolve('edgepay/ledger'))"],
      { cwd: project, encoding: 'utf8' },
    );
    expect(where.trim()).toBe(`file://${resolve(out)}/node/index.js file://${resolve(out)}/node/ledger.js`);
  }, 60_000);

  it('the built ledger runs its verifier threads from the built worker file, in ESM and CJS', () => {
    const script = (load: string) => `
      ${load}
      (async () => {
        const s = await e.createSigner();
        const message = new Uint8Array([1, 2, 3]);
        const signature = await s.sign(message);
        const items = Array.from({ length: 32 }, (_, i) => ({ publicKey: s.publicKey, message, signature: i === 5 ? new Uint8Array(64) : signature }));
        const pool = l.workerVerifier({ threads: 2, nice: 0 });
        const ok = await pool.verifyMany(items);
        await pool.close();
        console.log(ok.filter(Boolean).length);
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const esm = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', script("import * as e from 'edgepay'; import * as l from 'edgepay/ledger';")],
      {
        encoding: 'utf8',
        cwd: project,
      },
    );
    const cjs = execFileSync(process.execPath, ['-e', script("const e = require('edgepay'); const l = require('edgepay/ledger');")], {
      encoding: 'utf8',
      cwd: project,
    });
    expect([esm.trim(), cjs.trim()]).toEqual(['31', '31']);
  });

  it('the installed CLI, without the optional packages: one line says what to npm install, and nothing is written', () => {
    // A project of its own outside this repository (so nothing above it holds node_modules), with the
    // package and only its declared dependencies, as `npm install edgepay` leaves it.
    const user = mkdtempSync(join(tmpdir(), 'edgepay-user-'));
    try {
      const installed = join(user, 'node_modules', 'edgepay');
      cpSync(pkg, installed, { recursive: true });
      const deps = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies as Record<string, string>);
      for (const d of deps) {
        mkdirSync(dirname(join(user, 'node_modules', d)), { recursive: true });
        symlinkSync(resolve('node_modules', d), join(user, 'node_modules', d));
      }
      writeFileSync(join(user, 'issuer.pub'), encode(coseKeyMap(new Uint8Array(32).fill(7))));
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [join(installed, 'dist/node/cli.js'), ...args], {
          cwd: user,
          encoding: 'utf8',
          env: { ...process.env, EDGEPAY_PASSPHRASE: 'x', EDGEPAY_KDF_LOG2N: '10' },
        });
      const pglite = cli('ledger', 'serve', '--dir', 'ledger', '--trust', 'issuer.pub', '--issuer-id', 'net');
      expect(pglite.status).toBe(1);
      // Every optional package the command needs, in one line: the database driver, the log, the metrics.
      expect(pglite.stderr.trim()).toMatch(/^edgepay: LEDGER_DEPENDENCY .*npm install @electric-sql\/pglite pino prom-client$/);
      const pg = cli('ledger', 'serve', '--dir', 'ledger', '--trust', 'issuer.pub', '--issuer-id', 'net', '--db', 'postgres://127.0.0.1/x');
      expect(pg.stderr.trim()).toMatch(/^edgepay: LEDGER_DEPENDENCY .*npm install pg pino prom-client$/);
      const noMetrics = cli('ledger', 'serve', '--dir', 'ledger', '--trust', 'issuer.pub', '--operator-port', 'off');
      expect(noMetrics.stderr.trim()).toMatch(/npm install @electric-sql\/pglite pino$/);
      for (const r of [pglite, pg, noMetrics]) expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1); // no stack trace
      expect(existsSync(join(user, 'ledger'))).toBe(false); // no key written for a command that could not run
      expect(cli('--version').stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
      const withMqtt = cli('ledger', 'serve', '--dir', 'ledger', '--trust', 'issuer.pub', '--mqtt', 'mqtt://127.0.0.1:1883');
      expect(withMqtt.stderr.trim()).toMatch(/npm install @electric-sql\/pglite pino prom-client mqtt$/);
      // MQTT.js is optional for devices too: the transport names it when it is not installed.
      const device = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "import { MqttTransport } from 'edgepay/transport'; MqttTransport.connect({ url: 'mqtt://127.0.0.1:1883', address: 'ab' }).catch((e) => console.log(e.code, e.message));",
        ],
        { cwd: user, encoding: 'utf8' },
      );
      expect(device.stdout.trim()).toBe(
        'TRANSPORT_DEPENDENCY TRANSPORT_DEPENDENCY at mqtt: MQTT needs the optional package mqtt: npm install mqtt',
      );
    } finally {
      rmSync(user, { recursive: true, force: true });
    }
  });

  it('device entry points never load the ledger database drivers (pg, PGlite); edgepay/ledger does', () => {
    const files = readdirSync(`${out}/node`, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    const imports = (f: string) =>
      [...readFileSync(`${out}/node/${f}`, 'utf8').matchAll(/(?:from |import\()['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
    // Follow each device entry through its chunks.
    const reach = (entry: string, seen = new Set<string>()): Set<string> => {
      for (const i of imports(entry)) {
        if (i.startsWith('./')) {
          const f = join(dirname(entry), i).replace(/^\.\//, '');
          if (!seen.has(f)) {
            seen.add(f);
            reach(f, seen);
          }
        } else seen.add(i);
      }
      return seen;
    };
    for (const entry of ['index.js', 'identity.js', 'channel.js', 'transport.js', 'outbox.js', 'sync.js']) {
      const deps = [...reach(entry)];
      expect(
        deps.filter((d) => d === 'pg' || d.startsWith('@electric-sql/')),
        entry,
      ).toEqual([]);
    }
    expect(files).toContain('ledger.js');
    expect(readFileSync(`${out}/node/ledger.js`, 'utf8') + files.map((f) => readFileSync(`${out}/node/${f}`, 'utf8')).join('')).toMatch(
      /import\(['"](pg|@electric-sql\/pglite)['"]\)/,
    );
  });

  it('the browser build resolves #platform to WebCrypto/noble, never node:crypto', () => {
    const files = readdirSync(`${out}/browser`, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) expect(readFileSync(`${out}/browser/${f}`, 'utf8')).not.toMatch(/from ['"]node:|require\(/);
    const nodeFiles = readdirSync(`${out}/node`, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
    expect(nodeFiles.some((f) => readFileSync(`${out}/node/${f}`, 'utf8').includes("from 'node:crypto'"))).toBe(true);
  });
});
