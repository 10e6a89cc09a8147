/**
 * The layers of edgepay, in the order of the data flow: each may import only from those before it
 * (ARCHITECTURE.md, "Layers"). Run by `npm run lint`.
 */
const layers = [
  ['base', '^src/(bytes|base64|errors|bounded|events|files)\\.ts$'],
  ['crypto', '^src/crypto/'],
  ['codec', '^src/codec/'],
  ['identity', '^src/identity/'],
  ['transport', '^src/transport/'],
  ['channel', '^src/channel/'],
  ['settlement', '^src/settlement/'],
  ['outbox', '^src/outbox/'],
  ['sync', '^src/sync/'],
  ['ledger', '^src/ledger/'],
  ['cli', '^src/cli/'],
];

module.exports = {
  forbidden: [
    ...layers.slice(0, -1).map(([name, path], i) => ({
      name: `${name}-imports-only-below`,
      comment: `${name} may import only from the layers before it: ${
        layers
          .slice(0, i)
          .map(([n]) => n)
          .join(', ') || 'none'
      }`,
      severity: 'error',
      from: { path },
      to: {
        path: layers
          .slice(i + 1)
          .map(([, p]) => `(${p})`)
          .join('|'),
      },
    })),
    {
      name: 'src-never-imports-targets',
      comment: 'targets/* are the entries: they re-export src, never the other way round',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^targets/' },
    },
    {
      name: 'every-source-file-has-a-layer',
      comment: 'a file of src/ outside every layer: give it one (and add it to .dependency-cruiser.cjs)',
      severity: 'error',
      from: { path: '^src/', pathNot: layers.map(([, p]) => `(${p})`).join('|') },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
