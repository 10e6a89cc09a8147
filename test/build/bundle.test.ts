/**
 * The package builds as promised: no Node builtin in any browser bundle, and the Node ESM and CJS
 * builds load and work (built here with the real rollup config, into a scratch folder).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type OutputOptions, type RollupOptions, rollup } from 'rollup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserBundle } from '../../bench/browser-bundle.js';
import config, { concepts } from '../../rollup.config.mjs';

const out = `.tmp/build-test-${process.pid}`;

describe('build', () => {
  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    for (const options of config as RollupOptions[]) {
      const build = await rollup({ ...options, onwarn: () => {} });
      const outputs = (Array.isArray(options.output) ? options.output : [options.output]) as OutputOptions[];
      for (const o of outputs) await build.write({ ...o, dir: `${out}/${o.dir?.replace(/^dist\//, '')}` });
      await build.close();
    }
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each(Object.values(concepts.browser).filter((e) => !e.includes('/cli/')))(
    'browser bundle of %s imports no Node builtin',
    async (entry) => {
      const { externals } = await browserBundle(entry, false);
      expect(externals).toEqual([]);
    },
  );

  it('the check can fail: the Node target does pull node:crypto', async () => {
    const { externals } = await browserBundle('targets/node/index.ts', false);
    expect(externals).toContain('node:crypto');
  });

  it('the Node ESM and CJS builds load, pick node:crypto, and sign + verify a COSE_Sign1', () => {
    const script = (load: string) => `
      ${load}
      (async () => {
        const ed = await e.getEd25519();
        const s = await e.createSigner();
        const msg = e.decodeSign1(await e.signSign1(e.encode({ amount: 5n }), s));
        const payload = await e.verifySign1(msg, s.publicKey);
        console.log(ed.name, JSON.stringify([...e.decode(payload)].map(([k, v]) => [k, String(v)])));
      })().catch((err) => { console.error(err); process.exit(1); });`;
    const esm = execFileSync(process.execPath, ['--input-type=module', '-e', script(`import * as e from './${out}/node/index.js';`)], {
      encoding: 'utf8',
    });
    const cjs = execFileSync(process.execPath, ['-e', script(`const e = require('./${out}/node/index.cjs');`)], { encoding: 'utf8' });
    expect(esm.trim()).toBe('node [["amount","5"]]');
    expect(cjs.trim()).toBe('node [["amount","5"]]');
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
