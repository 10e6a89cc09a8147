/**
 * @module ledger/postgres
 * The ledger on PostgreSQL (`pg`), one server or a replicated cluster. With a libpq multi-host URI it finds
 * the server libpq would (`target_session_attrs`), and when that server is lost it finds the new primary and
 * runs the call in flight again: a transaction cut off before its commit is re-run whole; one cut off while
 * committing only when it is idempotent, as applying a batch of submissions is. A commit counts only when it returns plainly: one the server says it stopped waiting to
 * replicate (a synchronous standby never answered) or one that hangs past `commitTimeoutMs` is a failure,
 * and that server is set aside, so a primary fenced off from its standbys never gives a receipt.
 */
import { LedgerError } from '../errors.js';
import { type Db, type DbState, param, type Sql, where } from './db.js';
import { type Logger, silentLogger } from './log.js';
import { optional } from './optional.js';
import { parsePgUrl } from './pg-url.js';

type Pool = import('pg').Pool;
type Client = import('pg').PoolClient;

export interface PostgresOptions {
  log?: Logger;
  /** How long a call waits for a primary before it fails (default 30 s). */
  failoverMs?: number;
  /** How long a commit may wait (for a synchronous standby) before the server is given up on (default 10 s). */
  commitTimeoutMs?: number;
  /** How long a server whose commit failed that way is passed over while another qualifies (default 15 s). */
  setAsideMs?: number;
}

/** A server lost, refused, or fenced: the call moves to the primary, wherever it now is. */
class Lost extends Error {}

const NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN', 'EADDRNOTAVAIL']);

/** Whether `e` says the server is gone, shutting down, read-only or not yet up, rather than refusing the statement. */
export function isServerLost(e: unknown): boolean {
  if (e instanceof Lost) return true;
  const x = e as { code?: string; message?: string };
  if (typeof x?.code === 'string' && (NET.has(x.code) || x.code.startsWith('08') || ['57P01', '57P02', '57P03', '25006'].includes(x.code)))
    return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/.test(
    x?.message ?? '',
  );
}

/**
 * A commit could be made now: the server takes writes and, when it waits for a synchronous standby, one is
 * streaming (only a role that may read pg_stat_replication can tell; for others the first part decides).
 */
const WRITABLE = `select current_setting('transaction_read_only') = 'off' and (
  current_setting('synchronous_standby_names') = ''
  or not (pg_has_role('pg_monitor', 'member') or (select rolsuper from pg_roles where rolname = current_user))
  or exists (select 1 from pg_stat_replication where sync_state in ('sync', 'quorum'))) as ok`;

/** An error as logged here: what and why, without the connection object `pg` hangs on it. */
const brief = (e: unknown) => {
  const x = e as { code?: string; message?: string };
  return { type: (e as Error)?.constructor?.name ?? 'Error', message: x?.message, ...(x?.code ? { code: x.code } : {}) };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * PostgreSQL at `url` (one host, or several in libpq's form); with `schema`, every statement runs in that
 * schema (created if absent). @throws LedgerError LEDGER_DEPENDENCY without `pg`; LEDGER_CONFIG for a bad URL;
 * LEDGER_DATABASE when no server qualifies.
 */
export async function openPostgres(url: string, schema?: string, o: PostgresOptions = {}): Promise<Db> {
  const pg = (await optional('pg', 'PostgreSQL', () => import('pg'))).default;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new LedgerError('LEDGER_CONFIG', `invalid schema name ${schema}`, 'schema');
  const target = parsePgUrl(url);
  const log = o.log ?? silentLogger;
  const failoverMs = o.failoverMs ?? 30_000;
  const commitTimeoutMs = o.commitTimeoutMs ?? 10_000;
  const setAsideMs = o.setAsideMs ?? 15_000;
  const connectMs = (target.connectTimeoutS ?? 2) * 1000 || 2000;
  const aside = new Map<number, number>();
  const state: DbState = { failovers: 0, unreplicated: 0 };
  let current: { pool: Pool; i: number } | undefined;
  let finding: Promise<{ pool: Pool; i: number }> | undefined;
  let closed = false;

  const attrsSql =
    target.attrs === 'primary' ? 'select pg_is_in_recovery() as no' : "select current_setting('transaction_read_only') = 'on' as no";
  /** Why the server behind `c` is not the kind asked for (undefined when it is). */
  async function judge(c: { query(sql: string): Promise<{ rows: unknown[] }> }): Promise<string | undefined> {
    if (target.attrs === 'any') return undefined;
    const [r] = (await c.query(attrsSql)).rows as { no: boolean }[];
    return r?.no ? `not ${target.attrs}` : undefined;
  }
  // Connections found to be on the kind of server asked for. A new one is asked first: a primary that was
  // demoted and came back as a standby must not answer reads from behind the new primary.
  const judged = new WeakSet<object>();

  /** Whether host `i` is the kind of server asked for; the reason when not. */
  async function qualifies(i: number): Promise<string | undefined> {
    const c = new pg.Client({ connectionString: target.urlOf(i), connectionTimeoutMillis: connectMs });
    c.on('error', () => {}); // a server lost while asked: the call below fails and says why
    try {
      await c.connect();
      if (schema)
        await c.query(`create schema if not exists ${schema}`).catch((e) => {
          if (!isServerLost(e)) throw e; // a standby cannot create it: judged below
        });
      return await judge(c);
    } catch (e) {
      if (!isServerLost(e))
        throw new LedgerError('LEDGER_DATABASE', `cannot use PostgreSQL at ${where(target.urlOf(i))}: ${(e as Error).message}`, 'db', {
          cause: e,
        });
      return (e as Error).message;
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** The first host (in the URL's order) that qualifies, those set aside last. */
  async function find(waitMs = failoverMs): Promise<{ pool: Pool; i: number }> {
    const deadline = Date.now() + waitMs;
    for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
      const now = Date.now();
      const order = target.hosts.map((_, i) => i).sort((a, b) => Number((aside.get(a) ?? 0) > now) - Number((aside.get(b) ?? 0) > now));
      const why: string[] = [];
      for (const i of order) {
        const no = await qualifies(i);
        if (no === undefined) {
          const pool = new pg.Pool({
            connectionString: target.urlOf(i),
            connectionTimeoutMillis: connectMs,
            max: 8,
            ...(schema ? { options: `-c search_path=${schema}` } : {}),
          });
          const at = { pool, i };
          // An idle connection the server drops is an event, not a crash; the server is looked for again.
          pool.on('error', (e) => {
            log.warn({ err: brief(e), db: where(target.urlOf(i)) }, 'a database connection was lost; the next query opens a new one');
            lose(at, e, false);
          });
          if (state.failovers > 0)
            log.warn({ db: where(target.urlOf(i)), failovers: state.failovers }, 'the ledger now writes to this database server');
          state.server = `${target.hosts[i]?.host}:${target.hosts[i]?.port}`;
          return at;
        }
        why.push(`${where(target.urlOf(i))}: ${no}`);
      }
      if (closed || Date.now() + wait > deadline)
        throw new LedgerError(
          'LEDGER_DATABASE',
          `no ${target.attrs === 'any' ? '' : `${target.attrs} `}PostgreSQL server: ${why.join('; ')}`,
          'db',
        );
      await sleep(wait);
    }
  }

  async function use(waitMs: number): Promise<{ pool: Pool; i: number }> {
    if (current) return current;
    finding ??= find(waitMs).finally(() => {
      finding = undefined;
    });
    current = await finding;
    return current;
  }

  /** Drops the server in use after `e` (set aside when it could not say a commit was replicated). */
  function lose(at: { pool: Pool; i: number }, e: unknown, setAside: boolean): void {
    if (setAside) aside.set(at.i, Date.now() + setAsideMs);
    if (current !== at) return;
    current = undefined;
    state.failovers += 1;
    delete state.server;
    log.warn({ err: brief(e), db: where(target.urlOf(at.i)) }, 'lost the database server; looking for the primary');
    at.pool.end().catch(() => {});
  }

  /** Runs `call` on the primary, again on the next one if the server is lost, until `failoverMs` has passed. */
  async function onPrimary<T>(call: (at: { pool: Pool; i: number }) => Promise<T>): Promise<T> {
    const deadline = Date.now() + failoverMs;
    for (;;) {
      const at = await use(Math.max(0, deadline - Date.now()));
      try {
        return await call(at);
      } catch (e) {
        if (!isServerLost(e) || closed) throw e;
        lose(at, e, e instanceof Lost);
        if (Date.now() > deadline)
          throw new LedgerError(
            'LEDGER_DATABASE',
            `the database server was lost and no primary took over in time: ${(e as Error).message}`,
            'db',
            {
              cause: e,
            },
          );
      }
    }
  }

  /** Commits, or throws Lost when the server cannot say the commit is replicated (or says nothing in time). */
  async function commit(c: Client, notices: string[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, no) => {
      timer = setTimeout(() => no(new Lost(`the commit waited ${commitTimeoutMs} ms for a standby`)), commitTimeoutMs);
    });
    try {
      await Promise.race([c.query('commit'), hung]);
    } finally {
      clearTimeout(timer);
    }
    // PostgreSQL commits locally and only warns when its wait for the synchronous standby is cut short.
    const cut = notices.find((n) => /synchronous replication/i.test(n));
    if (cut) throw new Lost(`committed locally but not replicated: ${cut}`);
  }

  const run = async <T>(c: { query: (t: string, p?: unknown[]) => Promise<{ rows: unknown[] }> }, text: string, params?: unknown[]) =>
    (await c.query(text, params?.map(param))).rows as T[];

  const transaction = <T>(fn: (tx: Sql) => Promise<T>, opts: { idempotent?: boolean } = {}): Promise<T> =>
    onPrimary(async (at) => {
      const { pool } = at;
      const c = await pool.connect();
      // A server lost while this connection is out of the pool: the statement in flight fails and says why.
      const onError = () => {};
      c.on('error', onError);
      const notices: string[] = [];
      const onNotice = (n: { message?: string }) => notices.push(n.message ?? '');
      c.on('notice', onNotice);
      let broken: unknown;
      let committing = false;
      try {
        if (!judged.has(c)) {
          const no = await judge(c);
          // As PostgreSQL says a read-only server refused a write: the call moves to the primary.
          if (no) throw Object.assign(new Error(`${state.server ?? 'the server'} is ${no} now`), { code: '25006' });
          judged.add(c);
        }
        await c.query('begin');
        const out = await fn({ query: (t, p) => run(c, t, p) } satisfies Sql);
        committing = true;
        await commit(c, notices);
        return out;
      } catch (e) {
        if (e instanceof Lost) state.unreplicated += 1;
        if (!isServerLost(e)) {
          await c.query('rollback').catch(() => {});
          throw e;
        }
        broken = e;
        if (!committing || opts.idempotent) throw e; // run again, on the primary
        // It may have committed: running it again could do it twice. The server is still given up on.
        lose(at, e, e instanceof Lost);
        throw new LedgerError(
          'LEDGER_DATABASE',
          `the database server was lost while committing; whether it committed is unknown: ${(e as Error).message}`,
          'db',
          {
            cause: e,
          },
        );
      } finally {
        c.off('notice', onNotice);
        c.off('error', onError);
        // A connection in doubt is closed at once (pg has no public call that does not wait for the server).
        if (broken) (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        c.release(broken ? (broken as Error) : undefined);
      }
    });

  // The first server is looked for now, so a server that is down or a database that does not exist is said at
  // start; a cluster is given the failover time (it may be electing a primary), a single server none.
  current = await find(target.hosts.length > 1 ? failoverMs : 0);
  return {
    kind: 'postgres',
    // A statement on its own is a transaction of its own, so that a write's commit is judged as any other is.
    query: (text, params) => transaction((tx) => tx.query(text, params)),
    transaction,
    // A transaction with an id makes a commit record; its commit waits for the standby to hold everything before it.
    durable: async () => {
      await transaction((tx) => tx.query('select txid_current()'), { idempotent: true });
    },
    state: () => ({ ...state }),
    writable: async () => {
      try {
        const [r] = await run<{ ok: boolean }>((await use(0)).pool, WRITABLE);
        return r?.ok === true;
      } catch {
        return false;
      }
    },
    close: async () => {
      closed = true;
      const at = current ?? (await finding?.catch(() => undefined));
      await at?.pool.end();
    },
  };
}
