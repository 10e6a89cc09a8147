/**
 * The package's entry points, in one place: which source file each built entry comes from (rollup builds
 * them), and the aliases that make `edgepay/...` in tests and examples resolve as package.json's exports
 * map resolves it for users, to that entry's source.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One entry per concept; where a concept differs by platform, the target's file is the entry. */
export const concepts = {
  node: {
    index: 'targets/node/index.ts',
    codec: 'src/codec/index.ts',
    crypto: 'src/crypto/index.ts',
    identity: 'targets/node/identity.ts',
    channel: 'targets/node/channel.ts',
    transport: 'src/transport/index.ts',
    settlement: 'src/settlement/index.ts',
    outbox: 'targets/node/outbox.ts',
    sync: 'src/sync/index.ts',
    ledger: 'src/ledger/index.ts',
    cli: 'src/cli/main.ts',
  },
  browser: {
    index: 'targets/browser/index.ts',
    codec: 'src/codec/index.ts',
    crypto: 'src/crypto/index.ts',
    identity: 'targets/browser/identity.ts',
    channel: 'targets/browser/channel.ts',
    transport: 'src/transport/index.ts',
    settlement: 'src/settlement/index.ts',
    outbox: 'targets/browser/outbox.ts',
    sync: 'src/sync/index.ts',
  },
};

const root = (f) => fileURLToPath(new URL(`../${f}`, import.meta.url));
const pkg = JSON.parse(readFileSync(root('package.json'), 'utf8'));

/**
 * `{ specifier: source file }` for every subpath of the exports map on `platform`: the built file the map
 * names (`dist/<platform>/<name>.js`) maps back to the source it is built from.
 */
export function entries(platform) {
  const out = {};
  for (const [key, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') continue; // ./package.json
    const built = platform === 'node' ? target.node?.import?.default : target.browser?.default;
    if (!built) continue; // not on this platform (the ledger in browsers)
    const name = /^\.\/dist\/[a-z]+\/([a-z]+)\.js$/.exec(built)?.[1];
    const source = name && concepts[platform][name];
    if (!source) throw new Error(`package.json exports ${key} -> ${built}: no entry in scripts/entries.mjs`);
    out[key === '.' ? 'edgepay' : `edgepay/${key.slice(2)}`] = source;
  }
  return out;
}

/** Vite/vitest aliases for {@link entries}: exact specifiers only. */
export function aliases(platform) {
  return Object.entries(entries(platform)).map(([spec, source]) => ({
    find: new RegExp(`^${spec.replace('/', '\\/')}$`),
    replacement: root(source),
  }));
}
