/**
 * @module cli/ledger
 * `edgepay ledger serve` runs the settlement ledger (HTTP; PGlite in `<dir>/db` by default, or PostgreSQL
 * with `--db postgres://...`). `edgepay ledger fund | credit | balance | statement | payout` are its
 * administrative calls, signed with the issuer's key (or, for reads, a party's).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CborValue, decode } from '../codec/cbor.js';
import { workerVerifier } from '../crypto/workers.js';
import { filePersistence } from '../identity/node-files.js';
import { TrustStore } from '../identity/trust-store.js';
import { openPglite } from '../ledger/db.js';
import { DEFAULT_HTTP_LIMITS, proxyList, serveHttp, serveOperator } from '../ledger/http.js';
import { Ledger, SETTLEMENT_WINDOW } from '../ledger/ledger.js';
import { LOG_LEVELS, type LogLevel, openLogger } from '../ledger/log.js';
import { serveMqtt } from '../ledger/mqtt.js';
import { requireAll } from '../ledger/optional.js';
import { openPostgres } from '../ledger/postgres.js';
import { DEFAULT_LIMITS, LedgerService } from '../ledger/service.js';
import { signAdmin } from '../sync/submission.js';
import { clusterCommand } from './cluster.js';
import { COMMON, type Command, int, keygen, keyStore, signerIn, str, trustRoots } from './identity.js';
import { CliError, printJson, readObject, readRaw, toJson } from './io.js';
import { version } from './version.js';

const now = () => Math.floor(Date.now() / 1000);

const serve: Command = {
  usage:
    'edgepay ledger serve --dir <dir> --trust <issuer.pub> [--issuer-id <id>] [--db postgres://...] [--schema <name>]\n' +
    '    [--port 8787] [--host 127.0.0.1] [--id ledger] [--debtor-name <n> --debtor-account <acct>]\n' +
    '    [--issuer <issuer dir>] [--revocations <list file>]... [--settlement-window <seconds>]\n' +
    '    [--mqtt mqtt(s)://host:1883 [--mqtt-prefix edgepay] [--mqtt-username <u> --mqtt-password-file <f>]\n' +
    '      [--mqtt-ca <ca.pem>] [--mqtt-cert <cert.pem> --mqtt-key <key.pem>]]\n' +
    '    [--tls-cert <cert.pem> --tls-key <key.pem> [--tls-ca <clients-ca.pem>]]\n' +
    '    [--operator-port 8788 | off] [--operator-host 127.0.0.1]\n' +
    '    [--submitter-rate 5000] [--submitter-burst 20000] [--max-pending 256] [--rate 200] [--rate-burst 400]\n' +
    '    [--max-connections 768] [--max-connections-per-address 64] [--idle-timeout 30] [--keep-alive-timeout 5]\n' +
    '    [--trusted-proxy <address or CIDR>]... [--log-level debug|info|warn|error] [--config <file.json>] [--print-config]\n' +
    '  Runs the settlement ledger over HTTP. <dir> holds its key (created on first start: <dir>/ledger.pub is what\n' +
    '  devices verify receipts with) and, without --db, its embedded PGlite database (<dir>/db).\n' +
    '  With --issuer, disputed devices are revoked in a new issuer list (served at /v1/revocations and, with\n' +
    '  --mqtt, retained on <prefix>/revocations/<kid>). With --mqtt it also takes submissions over MQTT.\n' +
    '  --revocations takes signed lists at start (more arrive at POST /v1/revocations or `edgepay revoke --ledger`).\n' +
    '  /metrics is served on the operator listener only. Limits and their defaults: docs/security.md.\n' +
    '  With --tls-cert/--tls-key it speaks HTTPS itself; with --tls-ca, clients must present a certificate it signed.\n' +
    '  Behind a TLS-terminating proxy, --trusted-proxy names it: its X-Forwarded-For is believed for rate limits.\n' +
    '  Every setting can also come from EDGEPAY_LEDGER_<FLAG> (EDGEPAY_LEDGER_TLS_CERT=...; lists comma-separated)\n' +
    '  or a JSON file (--config or EDGEPAY_LEDGER_CONFIG; keys are the flags: {"port": 8787, "trust": ["issuer.pub"]});\n' +
    '  flags win over the environment, the environment over the file. --print-config shows the result and exits.\n' +
    '  Logs are JSON lines on standard error (pino). Needs the optional packages pino and prom-client (for /metrics),\n' +
    '  and @electric-sql/pglite or pg.',
  options: {
    dir: { type: 'string' },
    trust: { type: 'string', multiple: true },
    'issuer-id': { type: 'string' },
    db: { type: 'string' },
    schema: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    id: { type: 'string' },
    'debtor-name': { type: 'string' },
    'debtor-account': { type: 'string' },
    issuer: { type: 'string' },
    mqtt: { type: 'string' },
    'mqtt-prefix': { type: 'string' },
    'mqtt-username': { type: 'string' },
    'mqtt-password-file': { type: 'string' },
    'mqtt-ca': { type: 'string' },
    'mqtt-cert': { type: 'string' },
    'mqtt-key': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'tls-ca': { type: 'string' },
    revocations: { type: 'string', multiple: true },
    'settlement-window': { type: 'string' },
    'operator-port': { type: 'string' },
    'operator-host': { type: 'string' },
    'submitter-rate': { type: 'string' },
    'submitter-burst': { type: 'string' },
    'max-pending': { type: 'string' },
    rate: { type: 'string' },
    'rate-burst': { type: 'string' },
    'max-connections': { type: 'string' },
    'max-connections-per-address': { type: 'string' },
    'idle-timeout': { type: 'string' },
    'keep-alive-timeout': { type: 'string' },
    'trusted-proxy': { type: 'string', multiple: true },
    'log-level': { type: 'string' },
    config: { type: 'string' },
    'print-config': { type: 'boolean' },
    ...COMMON,
  },
  settings: {
    env: 'EDGEPAY_LEDGER_',
    paths: [
      'dir',
      'trust',
      'issuer',
      'revocations',
      'tls-cert',
      'tls-key',
      'tls-ca',
      'mqtt-ca',
      'mqtt-cert',
      'mqtt-key',
      'mqtt-password-file',
      'passphrase-file',
    ],
  },
  async run(v, _p, out) {
    if (v['print-config']) {
      const { 'print-config': _, ...settings } = v;
      printJson(settings, out);
      return 0;
    }
    // Everything that can fail without writing is checked first: nothing lands in <dir> (no key, no
    // database) for a command that cannot run (a missing trust file, no passphrase, a database not there).
    const dir = str(v, 'dir');
    const url = str(v, 'db', false);
    if (url && !/^postgres(ql)?:\/\//.test(url)) throw new CliError('CLI_USAGE', '--db takes a postgres:// URL', 'db');
    const level = (str(v, 'log-level', false) || 'info') as LogLevel;
    if (!LOG_LEVELS.includes(level)) throw new CliError('CLI_USAGE', `--log-level is one of ${LOG_LEVELS.join(', ')}`, 'log-level');
    const operatorPort = str(v, 'operator-port', false) || '8788';
    if (operatorPort !== 'off' && !/^\d+$/.test(operatorPort))
      throw new CliError('CLI_USAGE', '--operator-port takes a port number, or off', 'operator-port');
    const proxies = (v['trusted-proxy'] as string[] | undefined) ?? [];
    try {
      proxyList(proxies);
    } catch (e) {
      throw new CliError('CLI_USAGE', (e as Error).message.replace(/^\S+ at \S+: /, ''), 'trusted-proxy');
    }
    // Every optional package this run needs, named in one line if any is missing.
    await requireAll('ledger serve', {
      ...(url ? { pg: () => import('pg') } : { '@electric-sql/pglite': () => import('@electric-sql/pglite') }),
      pino: () => import('pino'),
      ...(operatorPort === 'off' ? {} : { 'prom-client': () => import('prom-client') }),
      ...(str(v, 'mqtt', false) ? { mqtt: () => import('mqtt') } : {}),
    });
    const roots = await trustRoots(v);
    const keys = await keyStore(dir, v);
    // HTTPS and the broker's TLS: the files are read now, so a wrong path stops the start, not a later connection.
    const file = async (flag: string) => (str(v, flag, false) ? Buffer.from(await readRaw(str(v, flag))) : undefined);
    // One after another: the error names the first file that cannot be read, the same one every time.
    const read: (Buffer | undefined)[] = [];
    for (const flag of ['tls-cert', 'tls-key', 'tls-ca', 'mqtt-ca', 'mqtt-cert', 'mqtt-key', 'mqtt-password-file'])
      read.push(await file(flag));
    const [tlsCert, tlsKey, tlsCa, mqttCa, mqttCert, mqttKey, mqttPassword] = read;
    if (!tlsCert !== !tlsKey) throw new CliError('CLI_USAGE', '--tls-cert and --tls-key go together', tlsCert ? 'tls-key' : 'tls-cert');
    if (tlsCa && !tlsCert) throw new CliError('CLI_USAGE', '--tls-ca (client certificates) needs --tls-cert and --tls-key', 'tls-ca');
    const log = await openLogger({ level, base: { service: 'edgepay-ledger' } });
    const postgres = url ? await openPostgres(url, str(v, 'schema', false) || undefined, { log }) : undefined;
    await mkdir(dir, { recursive: true });
    const signer = (await keys.get('ledger')) ?? (await keygen(dir, 'ledger', v, () => {}));
    const trust = await TrustStore.open(roots, filePersistence(join(dir, 'trust.cbor')));
    const db = postgres ?? (await openPglite(join(dir, 'db')));
    // Signature checks on every core.
    const verifier = workerVerifier();
    // What is open, closed in reverse at the stop, or at once when the start fails halfway (a port in use,
    // no broker): a failed start exits, it does not hang on what it had opened.
    const opened: (() => Promise<unknown>)[] = [() => db.close(), () => verifier.close()];
    const closeAll = async () => {
      for (const close of opened.reverse()) await close().catch((e) => log.error({ err: e }, 'a part did not close cleanly'));
    };
    try {
      const ledger = await Ledger.open({
        db,
        signer,
        id: str(v, 'id', false) || 'ledger',
        trust,
        verifier,
        settlementWindowSeconds: int(v, 'settlement-window', SETTLEMENT_WINDOW),
        log,
      });
      const debtorName = str(v, 'debtor-name', false);
      const issuerDir = str(v, 'issuer', false);
      const mqttUrl = str(v, 'mqtt', false);
      // The service publishes through MQTT once ingest is up; lists made before that are served over HTTP.
      let publish: ((list: Uint8Array) => Promise<void>) | undefined;
      const service = await LedgerService.open({
        ledger,
        trust,
        ...(debtorName ? { debtor: { name: debtorName, account: str(v, 'debtor-account') } } : {}),
        ...(issuerDir
          ? {
              revocation: {
                signer: await signerIn(issuerDir, 'issuer', v),
                issuer: JSON.parse(await readFile(join(issuerDir, 'issuer.json'), 'utf8')).id as string,
              },
            }
          : {}),
        publish: (l: Uint8Array) => publish?.(l),
        limits: {
          submitter: {
            perSecond: int(v, 'submitter-rate', DEFAULT_LIMITS.submitter.perSecond),
            burst: int(v, 'submitter-burst', DEFAULT_LIMITS.submitter.burst),
          },
          maxPending: int(v, 'max-pending', DEFAULT_LIMITS.maxPending),
        },
        log,
      });
      for (const f of (v.revocations as string[] | undefined) ?? []) await service.takeRevocationList(await readObject(f));
      const http = await serveHttp(service, {
        port: int(v, 'port', 8787),
        host: str(v, 'host', false) || '127.0.0.1',
        trust,
        log,
        trustedProxies: proxies,
        ...(tlsCert && tlsKey ? { tls: { cert: tlsCert, key: tlsKey, ca: tlsCa } } : {}),
        rate: { perSecond: int(v, 'rate', 200), burst: int(v, 'rate-burst', 400) },
        limits: {
          maxConnections: int(v, 'max-connections', DEFAULT_HTTP_LIMITS.maxConnections),
          maxConnectionsPerAddress: int(v, 'max-connections-per-address', DEFAULT_HTTP_LIMITS.maxConnectionsPerAddress),
          idleTimeoutMs: 1000 * int(v, 'idle-timeout', DEFAULT_HTTP_LIMITS.idleTimeoutMs / 1000),
          keepAliveTimeoutMs: 1000 * int(v, 'keep-alive-timeout', DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs / 1000),
        },
      });
      opened.push(() => http.close());
      const operator =
        operatorPort === 'off'
          ? undefined
          : await serveOperator(service, { port: Number(operatorPort), host: str(v, 'operator-host', false) || '127.0.0.1', log });
      if (operator) opened.push(() => operator.close());
      const ingest = mqttUrl
        ? await serveMqtt(service, {
            url: mqttUrl,
            prefix: str(v, 'mqtt-prefix', false) || 'edgepay',
            log,
            mqtt: {
              ...(str(v, 'mqtt-username', false) ? { username: str(v, 'mqtt-username') } : {}),
              ...(mqttPassword ? { password: new TextDecoder().decode(mqttPassword).trim() } : {}),
              // mqtts:// with the broker's CA (and, for brokers that ask, the ledger's client certificate).
              ...(mqttCa ? { ca: mqttCa } : {}),
              ...(mqttCert && mqttKey ? { cert: mqttCert, key: mqttKey } : {}),
            },
          })
        : undefined;
      if (ingest) {
        opened.push(() => ingest.close());
        publish = (l) => ingest.publishRevocationList(l);
        for (const l of trust.lists()) await ingest.publishRevocationList(l);
      }
      log.info(
        {
          listening: http.url,
          operator: operator?.url,
          mqtt: mqttUrl || undefined,
          db: db.kind,
          trustedProxies: proxies,
          version: version(),
        },
        'ledger serving',
      );
      printJson(
        { listening: http.url, operator: operator?.url, mqtt: mqttUrl || undefined, db: db.kind, ledgerKey: join(dir, 'ledger.pub') },
        out,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      log.info({}, 'ledger stopping');
      await closeAll();
      log.info({ metrics: service.metrics }, 'ledger stopped');
      log.flush();
      return 0;
    } catch (e) {
      await closeAll();
      throw e;
    }
  },
};

const ADMIN_OPTIONS = {
  url: { type: 'string' },
  as: { type: 'string' },
  'key-name': { type: 'string' },
  party: { type: 'string' },
  asset: { type: 'string' },
  amount: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  date: { type: 'string' },
  out: { type: 'string' },
  policy: { type: 'string' },
  min: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'party-cred': { type: 'string' },
  key: { type: 'string' },
  reason: { type: 'string' },
  ...COMMON,
} as const;

/** Every `balance` and `amount` in an answer (nested too) as a string of minor units. */
function amountsAsText(v: unknown): void {
  if (Array.isArray(v)) for (const x of v) amountsAsText(x);
  if (!(v instanceof Map)) return;
  for (const [k, x] of v) {
    if ((k === 'balance' || k === 'amount') && (typeof x === 'number' || typeof x === 'bigint')) v.set(k, String(x));
    else amountsAsText(x);
  }
}

/** An administrative call: signed with `--as <dir>` (its `issuer` key, or `--key-name`), sent to `--url`. */
function admin(
  op: string,
  usage: string,
  args: (v: Record<string, unknown>) => Record<string, CborValue> | Promise<Record<string, CborValue>>,
): Command {
  return {
    usage: `${usage}\n  Signed with the key <name> (default issuer) in <dir>/keys; sent to the ledger at --url (default http://127.0.0.1:8787).`,
    options: ADMIN_OPTIONS,
    async run(v, _p, out) {
      const signer = await signerIn(str(v, 'as'), str(v, 'key-name', false) || 'issuer', v);
      const body = await signAdmin(signer, op, await args(v), now(), randomBytes(16));
      const url = `${(str(v, 'url', false) || 'http://127.0.0.1:8787').replace(/\/+$/, '')}/v1/admin`;
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: body as Uint8Array<ArrayBuffer> });
      } catch (e) {
        throw new CliError('CLI_NETWORK', `cannot reach ${url}: ${(e as Error).message}`, 'url');
      }
      if (!res.ok) {
        const e = (await res.json().catch(() => ({}))) as { code?: string; message?: string; field?: string };
        throw new CliError(e.code ?? 'CLI_NETWORK', `the ledger refused (${res.status}): ${e.message ?? ''}`, e.field);
      }
      const type = res.headers.get('content-type') ?? '';
      if (type.startsWith('application/cbor')) {
        const data = decode(new Uint8Array(await res.arrayBuffer()));
        // Amounts print as strings of minor units, small or large alike (JSON numbers lose precision).
        amountsAsText(data);
        // A payout's dry run: the document goes to --out (when given), the lines it would pay to stdout.
        const file = str(v, 'out', false);
        if (data instanceof Map && typeof data.get('document') === 'string' && file) {
          await writeFile(file, data.get('document') as string);
          data.delete('document');
          data.set('wrote', file);
        }
        printJson(toJson(data), out);
        return 0;
      }
      const text = await res.text();
      const file = str(v, 'out', false);
      if (file) {
        await writeFile(file, text);
        printJson({ wrote: file, bytes: text.length }, out);
      } else out(text.trimEnd());
      return 0;
    },
  };
}

const minor = (v: Record<string, unknown>, k: string): bigint => {
  const s = v[k];
  if (typeof s !== 'string' || !/^\d+$/.test(s)) throw new CliError('CLI_USAGE', `--${k} takes a whole number of minor units`, k);
  return BigInt(s);
};
const text = (v: Record<string, unknown>, k: string): string => {
  const s = v[k];
  if (typeof s !== 'string' || s === '') throw new CliError('CLI_USAGE', `--${k} is required`, k);
  return s;
};
const time = (v: Record<string, unknown>, k: string, fallback: number): number => {
  const s = v[k];
  if (s === undefined) return fallback;
  const t = typeof s === 'string' ? (/^\d+$/.test(s) ? Number(s) : Date.parse(s) / 1000) : Number.NaN;
  if (!Number.isFinite(t)) throw new CliError('CLI_USAGE', `--${k} takes a date (2026-11-01) or unix seconds`, k);
  return Math.floor(t);
};

export const ledgerCommands: Record<string, Command> = {
  'ledger serve': serve,
  'ledger cluster': clusterCommand,
  'ledger register': admin(
    'register',
    'edgepay ledger register --as <issuer dir> --party-cred <party.cred> [--url <ledger>]\n' +
      '  Tells the ledger of a party before its devices settle (from its credential, checked against the trusted\n' +
      '  issuers): deposits, credit lines and payouts need a party the ledger knows.',
    async (v) => ({ credential: await readObject(text(v, 'party-cred')) }),
  ),
  'ledger fund': admin(
    'fund',
    'edgepay ledger fund --as <issuer dir> --party <id> --asset <code> --amount <minor units> [--url <ledger>]\n  Credits a deposit (to a party the ledger knows: see ledger register).',
    (v) => ({ party: text(v, 'party'), asset: text(v, 'asset'), amount: minor(v, 'amount') }),
  ),
  'ledger credit': admin(
    'credit',
    'edgepay ledger credit --as <issuer dir> --party <id> --asset <code> --amount <minor units> [--url <ledger>]\n  Sets a credit line.',
    (v) => ({ party: text(v, 'party'), asset: text(v, 'asset'), amount: minor(v, 'amount') }),
  ),
  'ledger balance': admin(
    'balance',
    'edgepay ledger balance --as <dir> [--key-name <name>] --party <id> --asset <code> [--url <ledger>]',
    (v) => ({ party: text(v, 'party'), asset: text(v, 'asset') }),
  ),
  'ledger statement': admin(
    'statement',
    'edgepay ledger statement --as <dir> --party <id> --asset <code> [--from <date>] [--to <date>] [--format csv|camt053|camt054]\n' +
      '    [--out <file>] [--url <ledger>]\n' +
      "  A party's statement for the period (default: the last 30 days): CSV, ISO 20022 camt.053 (opening and closing\n" +
      '  balances, one entry per posting) or camt.054 (the entries alone, for intraday notification).',
    (v) => ({
      party: text(v, 'party'),
      asset: text(v, 'asset'),
      from: time(v, 'from', now() - 30 * 86_400),
      to: time(v, 'to', now() + 1),
      ...(typeof v.format === 'string' ? { format: v.format } : {}),
    }),
  ),
  'ledger revoke': admin(
    'revoke',
    'edgepay ledger revoke --as <issuer dir> --key <thumbprint hex> [--reason <text>] [--url <ledger>]\n' +
      "  Revokes a device's or a party's key from now: a new version of the issuer's list the ledger keeps (the one\n" +
      '  it revokes disputed devices in), applied at once and published to devices. What it signed before stays payable.',
    (v) => ({ key: text(v, 'key'), ...(typeof v.reason === 'string' ? { reason: v.reason } : {}) }),
  ),
  'ledger payout': admin(
    'payout',
    'edgepay ledger payout --as <issuer dir> --asset <code> [--party <id>] [--policy earned|balance] [--min <minor units>]\n' +
      '    [--date YYYY-MM-DD] [--dry-run] [--out <file.xml>] [--url <ledger>]\n' +
      '  Pays parties out: an ISO 20022 pain.001.001.03 document for the bank, each transaction traceable to its\n' +
      '  posting (payout:<EndToEndId>). By default (earned) what each party received from others, net of what it\n' +
      '  paid and was paid out before: never its own deposits. --policy balance pays whole balances (closing\n' +
      '  accounts). --min holds back smaller amounts (default 1). --dry-run shows the lines and the document, applies nothing.',
    (v) => ({
      asset: text(v, 'asset'),
      ...(typeof v.date === 'string' ? { date: v.date } : {}),
      ...(typeof v.party === 'string' ? { party: v.party } : {}),
      ...(typeof v.policy === 'string' ? { policy: v.policy } : {}),
      ...(v.min !== undefined ? { min: minor(v, 'min') } : {}),
      ...(v['dry-run'] === true ? { dryRun: true } : {}),
    }),
  ),
};
