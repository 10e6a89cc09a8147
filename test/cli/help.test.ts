/**
 * The CLI helps like a good Unix tool: `--version`, `help <command>` and `<command> --help` for every
 * command, group and subcommand, and "did you mean" for a mistyped command or flag (exit 2, on stderr).
 */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/run.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('edgepay help', () => {
  it('--version prints the package version', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(await cli('--version')).toEqual({ code: 0, out: version, err: '' });
  });

  it('every command and group answers --help and help <command> on stdout, exit 0', async () => {
    for (const argv of [
      ['ledger'],
      ['issuer'],
      ['party'],
      ['device'],
      ['demo'],
      ['ledger', 'payout'],
      ['keygen'],
      ['outbox'],
      ['revoke'],
    ]) {
      const viaFlag = await cli(...argv, '--help');
      expect(viaFlag.code, argv.join(' ')).toBe(0);
      expect(viaFlag.out, argv.join(' ')).toMatch(new RegExp(`edgepay ${argv.join(' ')}`));
      expect(await cli('help', ...argv), argv.join(' ')).toEqual(viaFlag);
    }
  });

  it('a group without its subcommand says which it takes (exit 2)', async () => {
    const r = await cli('ledger');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/'ledger' needs a subcommand/);
    expect(r.err).toMatch(/edgepay ledger payout/);
  });

  it('a mistyped command or flag gets "did you mean" (exit 2)', async () => {
    expect(await cli('ledgr', 'fund')).toMatchObject({ code: 2, err: expect.stringMatching(/did you mean 'ledger'\?/) });
    expect(await cli('ledger', 'fnd')).toMatchObject({ code: 2, err: expect.stringMatching(/did you mean 'ledger fund'\?/) });
    const flag = await cli('ledger', 'payout', '--as', 'x', '--asset', 'EUR', '--polcy', 'earned');
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/did you mean --policy\?/);
    expect(flag.err).not.toMatch(/\n\s+at /); // never a stack trace
  });
});
