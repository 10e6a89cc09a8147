/**
 * `edgepay ledger cluster`: what it says before it starts anything (a bad action, a folder with no cluster,
 * the engine missing). The cluster itself is started, killed and restarted in test/ledger/cluster.slow.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';

const dir = mkdtempSync(join(tmpdir(), 'edgepay-cli-cluster-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function edgepay(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('edgepay ledger cluster', () => {
  it('refuses a bad action, a missing member or port, with one line and exit 2', async () => {
    for (const [args, field] of [
      [['ledger', 'cluster', 'sideways', '--dir', dir], 'action'],
      [['ledger', 'cluster', 'kill', '--dir', dir], 'member'],
      [['ledger', 'cluster', 'up', '--dir', dir, '--base-port', '80'], 'base-port'],
      [['ledger', 'cluster', 'status'], 'dir'],
    ] as const) {
      const r = await edgepay(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(`CLI_USAGE at ${field}`);
      expect(r.err.split('\n')).toHaveLength(1);
    }
  });

  it('says there is no cluster in a folder, and how to start one', async () => {
    const r = await edgepay('ledger', 'cluster', 'status', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain('LEDGER_CONFIG at dir');
    expect(r.err).toContain(`edgepay ledger cluster up --dir ${dir}`);
  });

  it('without Patroni and etcd, says what to install and starts nothing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const r = await edgepay('ledger', 'cluster', 'up', '--dir', join(dir, 'new'));
      expect(r.code).toBe(1);
      expect(r.err).toContain('LEDGER_DEPENDENCY');
      expect(r.err).toContain('apt-get install -y patroni etcd-server');
    } finally {
      process.env.PATH = path;
    }
  });
});
