import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('README', () => {
  it('the quick start runs as written', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const code = readme.match(/## Quick start[\s\S]*?```ts\n([\s\S]*?)```/)?.[1];
    expect(code).toBeDefined();
    mkdirSync('.tmp', { recursive: true });
    const file = `.tmp/readme-quickstart-${process.pid}.ts`;
    writeFileSync(file, `${code}\nexport { payload };\n`);
    try {
      const mod = await import(`../${file}`);
      expect(mod.payload).toBeInstanceOf(Uint8Array);
    } finally {
      rmSync(file);
    }
  });
});

describe('README snippets', () => {
  // Each snippet marked `<!-- excerpt: <file> -->` is lines of that example, in order (`// ...` skips some);
  // the examples run as tests (test/examples.test.ts), so every snippet is code that runs.
  const readme = readFileSync('README.md', 'utf8');
  const excerpts = [...readme.matchAll(/<!-- excerpt: (\S+) -->\n```ts\n([\s\S]*?)```/g)];

  it('there are excerpts, and every ts block outside the quick start is one', () => {
    const blocks = readme.match(/```ts\n/g) ?? [];
    expect(excerpts.length).toBeGreaterThan(3);
    expect(blocks.length).toBe(excerpts.length + 1);
  });

  it.each(excerpts.map((m) => [m[1] as string, m[2] as string]))('%s: each line is in the file, in order', (file, block) => {
    const source = readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim());
    let at = 0;
    for (const line of block.split('\n').map((l) => l.trim())) {
      if (line === '' || line === '// ...') continue;
      const found = source.indexOf(line, at);
      expect(found, `not in ${file} after line ${at}: ${line}`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });
});

describe('README CLI walkthrough', () => {
  it('runs as written: inspect passes, then fails with ID_REVOKED after revoke', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const readme = readFileSync('README.md', 'utf8');
    const block = readme.match(/```sh\nexport EDGEPAY_PASSPHRASE[\s\S]*?```/)?.[0];
    expect(block).toBeDefined();
    const cli = `node --import ${process.cwd()}/node_modules/tsx/dist/esm/index.mjs ${process.cwd()}/src/cli/main.ts`;
    const lines = (block as string)
      .split('\n')
      .slice(1, -1)
      .join('\n')
      .replace(/\\\n\s*/g, '')
      .split('\n');
    const dir = mkdtempSync(`${tmpdir()}/edgepay-readme-`);
    const script = lines
      .map((l) => l.replace(/\s+#.*$/, '').replace(/^npx edgepay/, cli))
      .map((l, i) => (i === lines.length - 1 ? `${l}; echo "exit=$?"` : `${l} > /dev/null || exit 1`))
      .join('\n');
    const out = execFileSync('bash', ['-c', script], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, EDGEPAY_KDF_LOG2N: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out.trim()).toBe('exit=1');
    rmSync(dir, { recursive: true, force: true });
  });
});
