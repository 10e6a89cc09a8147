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
import { withSettings } from './settings.js';
import { suggest } from './suggest.js';
import { version } from './version.js';

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
  ledger cluster    a replicated PostgreSQL cluster on this machine (Patroni, etcd): up, down, status
  ledger fund       credit a party's deposit (signed with the issuer's key)
  ledger credit     set a party's credit line
  ledger balance    a party's balance
  ledger statement  a party's statement for a period, as CSV
  ledger payout     pay out parties' balances: an ISO 20022 pain.001 document

devices:
  outbox <dir>      what a device's outbox holds: records waiting, dead letters, receipts, damage

other:
  demo              sign, verify and tamper with a credential-shaped COSE object
  help [command]    this text, or a command's options (as <command> --help)
  --version         the version

Key files are encrypted with EDGEPAY_PASSPHRASE (or --passphrase-file).`;

/** The usage of every subcommand of a group (`edgepay ledger`, `edgepay issuer`, ...). */
function groupHelp(group: string, commands: Record<string, Command>): string | undefined {
  const subs = Object.keys(commands).filter((c) => c.startsWith(`${group} `));
  if (subs.length === 0) return undefined;
  return subs.map((c) => (commands[c] as Command).usage).join('\n\n');
}

/** Runs `argv` as an `edgepay` command; `more` adds commands (the simulator's `simulate`, which ships outside the package). */
export async function run(
  argv: readonly string[],
  out: (l: string) => void = console.log,
  err: (l: string) => void = console.error,
  more: Record<string, Command> = {},
): Promise<number> {
  const commands = { ...builtIn, ...more };
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    out(version());
    return 0;
  }
  // `edgepay help <command>` is `edgepay <command> --help`.
  if (argv[0] === 'help' && argv.length > 1) return run([...argv.slice(1), '--help'], out, err, more);
  const two = `${argv[0] ?? ''} ${argv[1] ?? ''}`;
  const name = commands[two] ? two : (argv[0] ?? '');
  const rest = argv.slice(name.split(' ').length);
  if (name === '' || name === 'help' || name === '--help' || name === '-h') {
    out(HELP);
    return 0;
  }
  if (name === 'demo') {
    if (rest.includes('--help') || rest.includes('-h')) {
      out('edgepay demo\n  Signs, verifies and tampers with a credential-shaped COSE object, printing each step.');
      return 0;
    }
    return demo(out);
  }
  const cmd = commands[name];
  if (!cmd) {
    // A group alone (`edgepay ledger`), or with --help: its subcommands' usage.
    const group = groupHelp(name, commands);
    if (group !== undefined && (rest[0] === '--help' || rest[0] === '-h')) {
      out(group);
      return 0;
    }
    if (group !== undefined && rest.length === 0) {
      err(`edgepay: '${name}' needs a subcommand:\n\n${group}`);
      return 2;
    }
    const typed = group !== undefined ? two.trim() : name;
    const groups = new Set(Object.keys(commands).map((c) => c.split(' ')[0] as string));
    const guess = suggest(typed, [...Object.keys(commands), ...groups, 'demo', 'help']);
    err(`edgepay: unknown command '${typed}'${guess ? `; did you mean '${guess}'?` : ''} (edgepay help lists them)`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: [...rest], options: cmd.options, allowPositionals: true, strict: true });
    if (values.help) {
      out(cmd.usage);
      return 0;
    }
    const given = values as Record<string, string | boolean | string[] | undefined>;
    return await cmd.run(cmd.settings ? await withSettings(given, cmd.options, cmd.settings) : given, positionals, out);
  } catch (e) {
    if (e instanceof EdgepayError) {
      err(`edgepay: ${e.message}`);
      return e.code === 'CLI_USAGE' ? 2 : 1;
    }
    const code = (e as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) {
      const flag = /'(-{1,2}[^']+)'/.exec((e as Error).message)?.[1];
      const guess =
        code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag?.startsWith('--') ? suggest(flag.slice(2), Object.keys(cmd.options)) : undefined;
      err(`edgepay: ${(e as Error).message.split('. ')[0]}${guess ? `; did you mean --${guess}?` : ''}\n\n${cmd.usage}`);
      return 2;
    }
    throw e;
  }
}
