/**
 * `npx tsx examples/browser-simulator/serve.ts` (after `npm run build`), then open the printed URL: the
 * ledger serves the simulator page itself (same origin: no CORS). It sets up what the page needs: an
 * issuer, two parties (a drone fleet paying, a pad owner paid) and device keys with their credential
 * chains, handed to the page in `config.json`. A simulator may hand out device keys; real devices never.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nodeResolve from '@rollup/plugin-node-resolve';
import { createSigner, encodeChain, generateSecretKey, issueCredential, TrustStore, toHex } from 'edgepay';
import { Ledger, LedgerService, openPglite, serveHttp } from 'edgepay/ledger';
import { rollup } from 'rollup';
import esbuild from 'rollup-plugin-esbuild';
import { entries } from '../../scripts/entries.mjs';

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const browserEntries: Record<string, string> = entries('browser');

/** The page's script: app.ts with `edgepay/...` resolved to the browser entries, bundled in memory. */
async function bundle(): Promise<string> {
  const build = await rollup({
    input: here('app.ts'),
    onwarn: () => {},
    plugins: [
      // `edgepay/...` as a bundler resolves it for browsers (the exports map's browser entries), from source.
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
  const { output } = await build.generate({ format: 'es', inlineDynamicImports: true });
  await build.close();
  return output.map((c) => (c.type === 'chunk' ? c.code : '')).join('\n');
}

export interface Simulator {
  url: string;
  ledger: Ledger;
  close(): Promise<void>;
}

export async function startSimulator(o: { port?: number; pairs?: number } = {}): Promise<Simulator> {
  const now = Math.floor(Date.now() / 1000);
  const validity = { issuedAt: now - 60, notBefore: now - 60, expiresAt: now + 7 * 86_400 };
  const limits = {
    asset: 'EUR',
    perPayment: 100n,
    perChannel: 1_000_000n,
    perPeriod: 10_000_000n,
    periodSeconds: 86_400,
    totalOutstanding: 50_000_000n,
  };
  const issuer = await createSigner();
  const roots = [{ id: 'network:sim', publicKey: issuer.publicKey }];
  const parties = [
    { id: 'party:drone-fleet', category: 'fleet-operator', device: 'drone', other: 'charging-pad', seed: generateSecretKey() },
    { id: 'party:pad-owner', category: 'pad-owner', device: 'charging-pad', other: 'drone', seed: generateSecretKey() },
  ];
  const creds = await Promise.all(
    parties.map(async (p) =>
      issueCredential(issuer, {
        ...validity,
        role: 'party',
        issuer: 'network:sim',
        subject: p.id,
        publicKey: (await createSigner(p.seed)).publicKey,
        limits,
        category: p.category,
        paymentRef: `tok_${p.category}`,
      }),
    ),
  );
  const device = async (i: number, n: number) => {
    const p = parties[i]!;
    const seed = generateSecretKey();
    const cred = await issueCredential(await createSigner(p.seed), {
      ...validity,
      role: 'device',
      issuer: p.id,
      subject: `device:${p.device}-${n}`,
      publicKey: (await createSigner(seed)).publicKey,
      limits: {},
      category: p.device,
      counterparties: [p.other],
    });
    return { seed: toHex(seed), chain: toHex(encodeChain([creds[i]!, cred])), category: p.device };
  };
  const pairs = [];
  for (let n = 0; n < (o.pairs ?? 6); n++) pairs.push({ payer: await device(0, n), payee: await device(1, n) });

  const db = await openPglite();
  const ledgerKey = await createSigner();
  const trust = new TrustStore(roots);
  const ledger = await Ledger.open({ db, signer: ledgerKey, id: 'ledger:sim', trust });
  await ledger.fund('party:drone-fleet', 'EUR', 1_000_000n);
  const config = {
    ledgerKey: toHex(ledgerKey.publicKey),
    asset: 'EUR',
    roots: roots.map((r) => ({ id: r.id, publicKey: toHex(r.publicKey) })),
    parties: parties.map((p) => ({ id: p.id, seed: toHex(p.seed) })),
    pairs,
  };
  const http = await serveHttp(await LedgerService.open({ ledger, trust }), {
    port: o.port ?? 0,
    trust,
    rate: { perSecond: 1_000, burst: 2_000 },
    files: {
      '/index.html': { type: 'text/html; charset=utf-8', body: readFileSync(here('index.html'), 'utf8') },
      '/app.js': { type: 'text/javascript', body: await bundle() },
      '/config.json': { type: 'application/json', body: JSON.stringify(config) },
    },
  });
  return {
    url: `${http.url}/`,
    ledger,
    close: async () => {
      await http.close();
      await db.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sim = await startSimulator({ port: Number(process.env.PORT ?? 8787) });
  console.log(`open ${sim.url} (Ctrl-C to stop)`);
}
