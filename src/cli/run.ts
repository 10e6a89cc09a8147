/**
 * @module cli/run
 * The `edgepay` command's dispatcher. Exit codes: 0 success (for `inspect`: valid), 1 a domain failure
 * (the error code is printed: `edgepay: ID_REVOKED at device: ...`), 2 a usage error.
 */
import { parseArgs } from 'node:util';
import { EdgepayError } from '../errors.js';
import { demo } from './demo.js';
import { type Command, commands as identityCommands } from './identity.js';
import { ledgerCommands } from './ledger.js';
import { outboxCommands } from './outbox.js';

const builtIn: Record<string, Command> = { ...identityCommands, ...ledgerCommands, ...outboxCommands };

const HELP = `usage: edgepay <command> [options]     (edgepay <command> --help for its options)

identity:
  keygen            create an encrypted key and its public key file
  issuer init       create the network issuer (the trust root)
  party certify     the issuer certifies a responsible party, with limits and a payment reference
  device enroll     a party vouches for a device key (writes the device's credential chain)
  revoke            add a party or device to its authority's signed revocation list
  inspect <file>    decode any edgepay object; verify it with --trust <issuer.pub>

ledger:
  ledger serve      run the settlement ledger (HTTP; embedded PGlite, or --db postgres://...)
  ledger fund       credit a party's deposit (signed with the issuer's key)
  ledger credit     set a party's credit line
  ledger balance    a party's balance
  ledger statement  a party's statement for a period, as CSV
  ledger payout     pay out parties' balances: an ISO 20022 pain.001 document

devices:
  outbox <dir>      what a device's outbox holds: records waiting, dead letters, receipts, damage

other:
  demo              sign, verify and tamper with a credential-shaped COSE object
  help              this text

Key files are encrypted with EDGEPAY_PASSPHRASE (or --passphrase-file).`;

/** Runs `argv` as an `edgepay` command; `more` adds commands (the simulator's `simulate`, which ships outside the package). */
export async function run(
  argv: readonly string[],
  out: (l: string) => void = console.log,
  err: (l: string) => void = console.error,
  more: Record<string, Command> = {},
): Promise<number> {
  const commands = { ...builtIn, ...more };
  const two = `${argv[0] ?? ''} ${argv[1] ?? ''}`;
  const name = commands[two] ? two : (argv[0] ?? '');
  const rest = argv.slice(name.split(' ').length);
  if (name === '' || name === 'help' || name === '--help' || name === '-h') {
    out(HELP);
    return 0;
  }
  if (name === 'demo') return demo(out);
  const cmd = commands[name];
  if (!cmd) {
    err(`edgepay: unknown command '${argv.slice(0, 2).join(' ')}'\n\n${HELP}`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: [...rest], options: cmd.options, allowPositionals: true, strict: true });
    if (values.help) {
      out(cmd.usage);
      return 0;
    }
    return await cmd.run(values as Record<string, string | boolean | string[] | undefined>, positionals, out);
  } catch (e) {
    if (e instanceof EdgepayError) {
      err(`edgepay: ${e.message}`);
      return e.code === 'CLI_USAGE' ? 2 : 1;
    }
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`edgepay: ${(e as Error).message}\n\n${cmd.usage}`);
      return 2;
    }
    throw e;
  }
}
