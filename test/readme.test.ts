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
