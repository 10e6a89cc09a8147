/**
 * The ledger's PostgreSQL connector: libpq multi-host URIs, moving to the server that qualifies, and never
 * counting a commit the server could not say was replicated (a server of the test's own whose synchronous
 * standby never comes, so every commit waits).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePgUrl } from '../../src/ledger/pg-url.js';
import { openPostgres } from '../../src/ledger/postgres.js';
import { haveTool } from '../services.js';
import { freePort } from '../transport/brokers.js';
import { havePostgres, PG_URL } from './dbs.js';

describe('libpq connection URIs', () => {
  it('reads hosts in order, ports, target_session_attrs and connect_timeout; one URL per host keeps the rest', () => {
    const t = parsePgUrl(
      'postgres://u:p%40ss@10.0.0.1:6001,[::1]:6002,db3/ledger?target_session_attrs=read-write&connect_timeout=3&sslmode=require',
    );
    expect(t.hosts).toEqual([
      { host: '10.0.0.1', port: 6001 },
      { host: '[::1]', port: 6002 },
      { host: 'db3', port: 5432 },
    ]);
    expect(t.attrs).toBe('read-write');
    expect(t.connectTimeoutS).toBe(3);
    expect(t.urlOf(1)).toBe('postgres://u:p%40ss@[::1]:6002/ledger?sslmode=require');
    expect(parsePgUrl('postgresql://localhost/test').attrs).toBe('any');
    expect(parsePgUrl('postgres:///test').hosts).toEqual([{ host: 'localhost', port: 5432 }]);
  });

  it('refuses what the ledger cannot use, naming the field', () => {
    for (const bad of [
      'mysql://h/db',
      'postgres://h:0/db',
      'postgres://h:99999/db',
      'postgres://h/db?target_session_attrs=read-only',
      'postgres://h/db?target_session_attrs=standby',
      'postgres://h/db?connect_timeout=soon',
      'postgres://a:1:2/db',
    ])
      expect(() => parsePgUrl(bad), bad).toThrow(expect.objectContaining({ code: 'LEDGER_CONFIG', field: 'db' }));
  });
});

describe.skipIf(!havePostgres)('several hosts (PostgreSQL)', () => {
  it('passes over a host that is down and uses the next; with none up, says so', async () => {
    const down = await freePort();
    const u = new URL(PG_URL);
    const db = await openPostgres(
      `postgres://${u.username}@127.0.0.1:${down},127.0.0.1:${u.port || 5432}${u.pathname}?target_session_attrs=read-write`,
    );
    try {
      expect(await db.query('select 1 as one')).toEqual([{ one: 1 }]);
      expect(db.state?.()).toEqual({ server: `127.0.0.1:${u.port || 5432}`, failovers: 0, unreplicated: 0 });
      expect(await db.writable?.()).toBe(true);
    } finally {
      await db.close();
    }
    const t0 = Date.now();
    await expect(
      openPostgres(`postgres://postgres@127.0.0.1:${down},127.0.0.1:${down}/test`, undefined, { failoverMs: 300 }),
    ).rejects.toMatchObject({
      code: 'LEDGER_DATABASE',
      field: 'db',
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    await expect(
      openPostgres(`postgres://postgres@127.0.0.1:${u.port || 5432}/no_such_database_here`, undefined, { failoverMs: 60_000 }),
    ).rejects.toMatchObject({
      code: 'LEDGER_DATABASE',
      message: expect.stringContaining('no_such_database_here'),
    });
  });
});

const bin = '/usr/lib/postgresql/15/bin';
const haveServer = haveTool(`${bin}/initdb`, ['--version'], 'the synchronous-commit connector tests', 'apt-get install postgresql-15');

describe.skipIf(!haveServer)('a server whose synchronous standby never answers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgepay-syncpg-'));
  let port = 0;
  const asPostgres = (cmd: string, args: string[]) =>
    execFileSync(process.getuid?.() === 0 ? 'runuser' : cmd, process.getuid?.() === 0 ? ['-u', 'postgres', '--', cmd, ...args] : args, {
      stdio: 'pipe',
    });

  beforeAll(async () => {
    port = await freePort();
    chmodSync(dir, 0o777);
    asPostgres(`${bin}/initdb`, ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    asPostgres(`${bin}/pg_ctl`, [
      '-D',
      `${dir}/data`,
      '-l',
      `${dir}/log`,
      '-w',
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`,
      'start',
    ]);
    // From now on every commit that writes waits for a standby named `nobody`, which never connects.
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await c.connect();
    await c.query('create table t (i int)');
    await c.query("alter system set synchronous_standby_names = 'nobody'");
    await c.query('select pg_reload_conf()');
    await c.end();
  }, 60_000);

  afterAll(() => {
    try {
      asPostgres(`${bin}/pg_ctl`, ['-D', `${dir}/data`, '-m', 'immediate', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a commit cut short (cancelled while it waits) or left waiting is a failure, never a success', async () => {
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const db = await openPostgres(url, undefined, { commitTimeoutMs: 1000, failoverMs: 1500 });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      expect(await db.writable?.()).toBe(false); // it takes writes, but a commit would wait for a standby that is not there
      // Cancel the commit while it waits: PostgreSQL then commits locally and only warns.
      const cancel = (async () => {
        for (let k = 0; k < 50; k++) {
          await new Promise((r) => setTimeout(r, 50));
          const { rows } = await admin.query(
            "select count(pg_cancel_backend(pid))::int as n from pg_stat_activity where wait_event = 'SyncRep'",
          );
          const r = rows[0] as { n: number } | undefined;
          if ((r?.n ?? 0) > 0) return true;
        }
        return false;
      })();
      const t0 = Date.now();
      // Cut off while committing, it may have committed: said so, and not run twice.
      await expect(db.transaction((tx) => tx.query('insert into t values (1)'))).rejects.toMatchObject({
        code: 'LEDGER_DATABASE',
        message: expect.stringContaining('whether it committed is unknown'),
      });
      expect(await cancel, 'the commit was cancelled while it waited').toBe(true);
      expect(db.state?.().unreplicated).toBe(1);
      // Declared idempotent, it is run again (and waits again, past the commit timeout) until the failover time is up.
      let runs = 0;
      await expect(
        db.transaction(
          (tx) => {
            runs++;
            return tx.query('insert into t values (2)');
          },
          { idempotent: true },
        ),
      ).rejects.toMatchObject({ code: 'LEDGER_DATABASE' });
      expect(runs).toBeGreaterThanOrEqual(2);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(db.state?.().unreplicated).toBe(1 + runs);
      // What was refused is there, locally: exactly why it could not be called durable.
      const { rows } = await admin.query('select count(*)::int as n from t');
      expect(rows[0]?.n).toBeGreaterThanOrEqual(1);
    } finally {
      await db.close();
      await admin.end();
    }
  }, 60_000);
});
