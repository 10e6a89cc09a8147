/**
 * @module ledger/db
 * The ledger's SQL store: one small interface over PGlite (embedded, the default) and PostgreSQL (`pg`,
 * in postgres.ts).
 * Both drivers are optional peer dependencies, loaded here on first use and never by device code.
 * Amounts are `numeric` and travel as decimal strings, so they stay exact end to end.
 */
import { optional } from './optional.js';

export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface Db extends Sql {
  /**
   * Runs `fn` in one transaction (committed if it resolves, rolled back if it throws). On a cluster, a
   * transaction cut off before its commit is run again on the new primary; one cut off while committing
   * (whether it committed is unknown) only when `idempotent` says running it twice does no harm.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>, o?: { idempotent?: boolean }): Promise<T>;
  close(): Promise<void>;
  readonly kind: 'pglite' | 'postgres';
  /**
   * Resolves once everything committed so far is as durable as a new commit would be: on a replicated
   * cluster, held by a synchronous standby. What a call only read (a receipt stored before) is given out after it.
   */
  durable?(): Promise<void>;
  /** Which server is in use and how often it changed (a replicated cluster; absent for one server of PGlite). */
  state?(): DbState;
  /** Whether a commit could be made now: the server takes writes and, if it waits for a synchronous standby, has one. */
  writable?(): Promise<boolean>;
}

/** The connection to a replicated cluster, for /ready and /metrics. */
export interface DbState {
  /** The server in use (host:port), if one is. */
  server?: string;
  /** How often the server in use was lost and the primary looked for again. */
  failovers: number;
  /** Commits refused because the server could not say they were replicated. */
  unreplicated: number;
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
export const where = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

/** A query parameter as sent: arrays as PostgreSQL array literals (see `arrayLiteral`). */
export const param = (p: unknown) => (Array.isArray(p) ? (arrayLiteral(p) ?? p) : p);
