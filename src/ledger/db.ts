/**
 * @module ledger/db
 * The ledger's SQL store: one small interface over PGlite (embedded, the default) and PostgreSQL (`pg`).
 * Both drivers are optional peer dependencies, loaded here on first use and never by device code.
 * Amounts are `numeric` and travel as decimal strings, so they stay exact end to end.
 */
import { LedgerError } from '../errors.js';
import { type Logger, silentLogger } from './log.js';
import { optional } from './optional.js';

export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface Db extends Sql {
  /** Runs `fn` in one transaction (committed if it resolves, rolled back if it throws). */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  readonly kind: 'pglite' | 'postgres';
}

/** Checks that PGlite is installed before anything is written for it. @throws LedgerError LEDGER_DEPENDENCY */
export async function requirePglite(): Promise<void> {
  await optional('@electric-sql/pglite', 'the embedded database', () => import('@electric-sql/pglite'));
}

/** An embedded PGlite database in `dataDir` (in memory when omitted). @throws LedgerError LEDGER_DEPENDENCY without PGlite. */
export async function openPglite(dataDir?: string): Promise<Db> {
  const { PGlite } = await optional('@electric-sql/pglite', 'the embedded database', () => import('@electric-sql/pglite'));
  const db = await PGlite.create(dataDir);
  // Array parameters go as the literal PostgreSQL would read (see `arrayLiteral`): PGlite's own serializer
  // writes bytea elements a character at a time, and a batch sends thousands of them.
  const q =
    (x: { query: (t: string, p?: unknown[]) => Promise<{ rows: unknown[] }> }) =>
    async <T>(text: string, params?: unknown[]) =>
      (await x.query(text, params?.map(param))).rows as T[];
  return {
    kind: 'pglite',
    query: q(db),
    transaction: (fn) => db.transaction((tx) => fn({ query: q(tx) })),
    close: () => db.close(),
  };
}

/**
 * A one-dimensional array parameter as a PostgreSQL array literal, the text node-postgres would send
 * (`arrayString`), written without its two regular-expression passes per element: a ledger batch sends
 * tens of thousands of elements. Undefined for what it does not cover (nested arrays, dates, objects).
 */
export function arrayLiteral(a: readonly unknown[]): string | undefined {
  // Most arrays are plain strings (hex ids, decimal amounts): one join, not a string grown per element.
  let plain = true;
  for (let i = 0; i < a.length && plain; i++) {
    const v = a[i];
    plain = typeof v === 'string' && !v.includes('"') && !v.includes('\\');
  }
  if (plain) return a.length === 0 ? '{}' : `{"${(a as string[]).join('","')}"}`;
  const out: string[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v === null || v === undefined) out[i] = 'NULL';
    else if (typeof v === 'string') out[i] = v.includes('"') || v.includes('\\') ? `"${v.replace(/[\\"]/g, '\\$&')}"` : `"${v}"`;
    else if (typeof v === 'number' || typeof v === 'bigint') out[i] = String(v);
    else if (typeof v === 'boolean') out[i] = v ? 'true' : 'false';
    else if (v instanceof Uint8Array) out[i] = `"\\\\x${Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex')}"`;
    else return undefined;
  }
  return `{${out.join(',')}}`;
}

/** A database URL fit to print: its password hidden. */
const where = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

const param = (p: unknown) => (Array.isArray(p) ? (arrayLiteral(p) ?? p) : p);

/**
 * PostgreSQL at `url`; with `schema`, every statement runs in that schema (created if absent).
 * @throws LedgerError LEDGER_DEPENDENCY without `pg`; LEDGER_DATABASE when the server cannot be reached.
 */
export async function openPostgres(url: string, schema?: string, o: { log?: Logger } = {}): Promise<Db> {
  const pg = (await optional('pg', 'PostgreSQL', () => import('pg'))).default;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new LedgerError('LEDGER_CONFIG', `invalid schema name ${schema}`, 'schema');
  // One connection first: a server that is down or a database that does not exist is said here, plainly.
  const admin = new pg.Client({ connectionString: url });
  try {
    await admin.connect();
    if (schema) await admin.query(`create schema if not exists ${schema}`);
  } catch (e) {
    throw new LedgerError('LEDGER_DATABASE', `cannot use PostgreSQL at ${where(url)}: ${(e as Error).message}`, 'db', { cause: e });
  } finally {
    await admin.end().catch(() => {});
  }
  // search_path as a startup option: set before the first statement of every pooled connection.
  const pool = new pg.Pool({ connectionString: url, max: 8, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  // An idle connection the server drops (a restart, a failover) is an event, not a crash: the pool opens
  // a new one for the next query, and a batch that was in flight fails and is retried by its sender.
  pool.on('error', (e) =>
    (o.log ?? silentLogger).warn({ err: e, db: where(url) }, 'a database connection was lost; the next query opens a new one'),
  );
  const run = async <T>(c: { query: (t: string, p?: unknown[]) => Promise<{ rows: unknown[] }> }, text: string, params?: unknown[]) =>
    (await c.query(text, params?.map(param))).rows as T[];
  return {
    kind: 'postgres',
    query: (text, params) => run(pool, text, params),
    async transaction(fn) {
      const c = await pool.connect();
      try {
        await c.query('begin');
        const out = await fn({ query: (t, p) => run(c, t, p) });
        await c.query('commit');
        return out;
      } catch (e) {
        await c.query('rollback').catch(() => {});
        throw e;
      } finally {
        c.release();
      }
    },
    close: () => pool.end(),
  };
}
