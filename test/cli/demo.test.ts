import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { demo } from '../../src/cli/demo.js';

describe('edgepay demo', () => {
  it('signs, verifies and rejects a tampered credential', async () => {
    const lines: string[] = [];
    expect(await demo((l) => lines.push(l))).toBe(0);
    expect(lines).toContain('demo: OK');
    expect(lines.some((l) => l.startsWith('tampered copy rejected: COSE_SIGNATURE'))).toBe(true);
  });

  it('the CLI prints help, and rejects an unknown command with exit 2', () => {
    const tsx = ['--import', 'tsx', 'src/cli/main.ts'];
    expect(execFileSync(process.execPath, [...tsx, '--help'], { encoding: 'utf8' })).toMatch(/usage: edgepay/);
    let status = 0;
    try {
      execFileSync(process.execPath, [...tsx, 'nope'], { stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    expect(status).toBe(2);
  });
});
