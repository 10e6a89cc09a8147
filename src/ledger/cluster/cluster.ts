/**
 * @module ledger/cluster/cluster
 * `edgepay ledger cluster up|down|status`: a replicated PostgreSQL cluster on one machine, for trials, tests
 * and drills: three PostgreSQL nodes under Patroni (failover, synchronous replication, pg_rewind) with an
 * etcd cluster as its consensus store, all on 127.0.0.1. Installs nothing: it says what to install.
 * As root, every member runs as the `postgres` user (PostgreSQL refuses root).
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { LedgerError } from '../../errors.js';
import { DEFAULT_BASE_PORT, type EtcdMember, etcdArgs, type Layout, layout, type PgNode, patroniYaml } from './layout.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = () => process.getuid?.() === 0;

export interface NodeStatus {
  name: string;
  port: number;
  running: boolean;
  /** Patroni's view: leader, sync_standby, replica; undefined when the node does not answer. */
  role?: string;
  state?: string;
  timeline?: number;
  lagBytes?: number;
}

export interface ClusterStatus {
  dir: string;
  uri: string;
  etcd: { name: string; client: number; running: boolean; healthy: boolean }[];
  nodes: NodeStatus[];
  leader?: string;
  syncStandby?: string;
}

/** The PostgreSQL server programs: the newest version installed. */
function pgBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(`${base}/${v}/bin/postgres`))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : `${base}/${versions[0]}/bin`;
}

const onPath = (cmd: string) =>
  run('sh', ['-c', `command -v ${cmd}`]).then(
    () => true,
    () => false,
  );

/** The engine's programs, or one error saying how to install them. @throws LedgerError LEDGER_DEPENDENCY */
export async function requireEngine(): Promise<string> {
  const bin = pgBin();
  const absent = [!(await onPath('patroni')) && 'patroni', !(await onPath('etcd')) && 'etcd-server', !bin && 'postgresql'].filter(Boolean);
  if (absent.length > 0 || !bin)
    throw new LedgerError(
      'LEDGER_DEPENDENCY',
      `the replicated cluster needs Patroni, etcd and PostgreSQL: apt-get install -y ${absent.join(' ')} (Debian 12: patroni 3, etcd 3.4, PostgreSQL 15)`,
      'cluster',
    );
  return bin;
}

const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
};

const pidIn = (file: string) => {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
};

/** Starts `cmd` in its own session, as `postgres` when root, its pid in `pidFile` and its output in `log`. */
function launch(cmd: string, args: string[], pidFile: string, log: string): void {
  const fd = openSync(log, 'a');
  const inner = ['sh', '-c', 'echo $$ > "$0"; exec "$@"', pidFile, cmd, ...args];
  const argv = root() ? ['runuser', '-u', 'postgres', '--', ...inner] : inner;
  try {
    spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] }).unref();
  } finally {
    closeSync(fd); // the member holds its own copy
  }
}

/** The processes of PostgreSQL node `n`: Patroni, the postmaster (which daemonizes) and its children. */
function nodePids(n: PgNode): number[] {
  const pids: number[] = [];
  const patroni = pidIn(n.pidFile);
  if (alive(patroni)) pids.push(patroni as number);
  const postmaster = pidIn(`${n.data}/postmaster.pid`);
  if (alive(postmaster)) {
    pids.push(postmaster as number);
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(p));
      } catch {}
    }
  }
  return pids;
}

const signal = (pids: number[], sig: NodeJS.Signals) => {
  for (const p of pids)
    try {
      process.kill(p, sig);
    } catch {}
};

async function gone(pids: () => number[], ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (pids().length === 0) return true;
  return pids().length === 0;
}

/** Whether something listens on 127.0.0.1:`port`. */
const listening = (port: number) =>
  new Promise<boolean>((ok) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      ok(true);
    });
    s.on('error', () => ok(false));
    s.setTimeout(500, () => {
      s.destroy();
      ok(false);
    });
  });

async function getJson(url: string): Promise<unknown> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return await r.json();
  } catch {
    return undefined;
  }
}

async function saved(dir: string): Promise<Layout> {
  const d = resolve(dir);
  try {
    const { basePort } = JSON.parse(await readFile(`${d}/cluster.json`, 'utf8')) as { basePort: number };
    return layout(d, basePort);
  } catch {
    throw new LedgerError('LEDGER_CONFIG', `no cluster in ${d} (start one with: edgepay ledger cluster up --dir ${dir})`, 'dir');
  }
}

/** What each member is doing, as Patroni and etcd say. */
export async function clusterStatus(dir: string): Promise<ClusterStatus> {
  const l = await saved(dir);
  const etcd = await Promise.all(
    l.etcd.map(async (m) => {
      const h = (await getJson(`http://127.0.0.1:${m.client}/health`)) as { health?: string } | undefined;
      return { name: m.name, client: m.client, running: alive(pidIn(m.pidFile)), healthy: h?.health === 'true' };
    }),
  );
  type Member = { name: string; role: string; state: string; timeline?: number; lag?: number | string };
  let members: Member[] = [];
  for (const n of l.nodes) {
    const c = (await getJson(`http://127.0.0.1:${n.rest}/cluster`)) as { members?: Member[] } | undefined;
    if (c?.members) {
      members = c.members;
      break;
    }
  }
  const nodes = l.nodes.map((n): NodeStatus => {
    const m = members.find((x) => x.name === n.name);
    const running = nodePids(n).length > 0;
    return {
      name: n.name,
      port: n.port,
      running,
      ...(m && running
        ? {
            role: m.role,
            state: m.state,
            ...(m.timeline !== undefined ? { timeline: m.timeline } : {}),
            ...(typeof m.lag === 'number' ? { lagBytes: m.lag } : {}),
          }
        : {}),
    };
  });
  const leader = nodes.find((n) => n.role === 'leader' && n.state === 'running')?.name;
  const syncStandby =
    nodes.find((n) => n.role === 'sync_standby' && n.state === 'streaming')?.name ?? nodes.find((n) => n.role === 'sync_standby')?.name;
  return { dir: l.dir, uri: l.uri, etcd, nodes, ...(leader ? { leader } : {}), ...(syncStandby ? { syncStandby } : {}) };
}

/** Starts etcd member `m` unless it runs. */
function startEtcd(l: Layout, m: EtcdMember): void {
  if (!alive(pidIn(m.pidFile))) launch('etcd', etcdArgs(l, m), m.pidFile, m.log);
}

/**
 * Starts PostgreSQL node `n`'s Patroni unless it runs. Patroni starts PostgreSQL, or takes over one left
 * running, and makes it a standby of the leader (rewinding it first if it was a primary the others left).
 */
function startNode(n: PgNode): void {
  if (!alive(pidIn(n.pidFile))) launch('patroni', [n.config], n.pidFile, n.log);
}

/**
 * Starts every member of the cluster in `dir` that is not running (a fresh cluster, or the rest of one after a
 * failure) and waits until it has a leader and every node runs. Returns its status; `uri` is what to pass to
 * `ledger serve --db`. @throws LedgerError LEDGER_DEPENDENCY, LEDGER_CONFIG (a port taken, a folder the
 * postgres user cannot write), LEDGER_DATABASE (no leader in time).
 */
export async function clusterUp(dir: string, o: { basePort?: number; timeoutMs?: number } = {}): Promise<ClusterStatus> {
  const bin = await requireEngine();
  const d = resolve(dir);
  const fresh = !existsSync(`${d}/cluster.json`);
  const l = fresh ? layout(d, o.basePort ?? DEFAULT_BASE_PORT) : await saved(d);
  if (fresh) {
    const ports = [...l.etcd.flatMap((m) => [m.client, m.peer]), ...l.nodes.flatMap((n) => [n.port, n.rest])];
    for (const p of ports)
      if (await listening(p))
        throw new LedgerError('LEDGER_CONFIG', `port ${p} on 127.0.0.1 is taken (choose another --base-port)`, 'base-port');
    await mkdir(d, { recursive: true });
    await writeFile(`${d}/cluster.json`, `${JSON.stringify({ basePort: l.basePort, engine: 'patroni+etcd' })}\n`);
  }
  for (const n of l.nodes) await writeFile(n.config, patroniYaml(l, n, bin));
  if (root()) {
    await run('chown', ['-R', 'postgres:postgres', d]);
    await run('runuser', ['-u', 'postgres', '--', 'test', '-w', d]).catch(() => {
      throw new LedgerError('LEDGER_CONFIG', `the postgres user cannot write ${d}: choose a folder it can reach (under /tmp, say)`, 'dir');
    });
  }
  for (const m of l.etcd) startEtcd(l, m);
  for (const n of l.nodes) startNode(n);
  const end = Date.now() + (o.timeoutMs ?? 120_000);
  for (;;) {
    const s = await clusterStatus(d);
    const up = s.nodes.every((n) => n.state === 'running' || n.state === 'streaming');
    if (s.leader && up && (s.syncStandby || s.nodes.length < 2)) return s;
    if (Date.now() > end)
      throw new LedgerError(
        'LEDGER_DATABASE',
        `the cluster in ${d} did not come up in time (logs: ${d}/pg1.log, ${d}/etcd1.log)`,
        'cluster',
      );
    await sleep(500);
  }
}

/**
 * Kills a member with SIGKILL, as a machine failure would: every process of a PostgreSQL node (`pg1`..`pg3`:
 * Patroni, the postmaster and its children) or an etcd member (`etcd1`..`etcd3`). For drills and fault tests.
 */
export async function killMember(dir: string, name: string): Promise<void> {
  const l = await saved(dir);
  const n = l.nodes.find((x) => x.name === name);
  const m = l.etcd.find((x) => x.name === name);
  if (!n && !m) throw new LedgerError('LEDGER_CONFIG', `no member ${name} (pg1..pg3, etcd1..etcd3)`, 'member');
  const pids = () => (n ? nodePids(n) : [pidIn((m as EtcdMember).pidFile)].filter((p): p is number => alive(p)));
  signal(pids(), 'SIGKILL');
  await gone(pids, 5000);
}

/** Kills only a node's Patroni, leaving its PostgreSQL running (an agent lost while its database answers). */
export async function killAgent(dir: string, name: string): Promise<void> {
  const n = (await saved(dir)).nodes.find((x) => x.name === name);
  if (!n) throw new LedgerError('LEDGER_CONFIG', `no node ${name} (pg1..pg3)`, 'member');
  const p = pidIn(n.pidFile);
  if (alive(p)) signal([p as number], 'SIGKILL');
  await gone(() => [p].filter((x): x is number => alive(x)), 5000);
}

/** Stops every member: Patroni stops PostgreSQL cleanly, then etcd; whatever lingers is killed. The data stays. */
export async function clusterDown(dir: string): Promise<void> {
  const l = await saved(dir);
  const patronis = () => l.nodes.flatMap((n) => [pidIn(n.pidFile)].filter((p): p is number => alive(p)));
  signal(patronis(), 'SIGTERM');
  await gone(patronis, 30_000);
  for (const n of l.nodes) await killMember(dir, n.name);
  const etcds = () => l.etcd.flatMap((m) => [pidIn(m.pidFile)].filter((p): p is number => alive(p)));
  signal(etcds(), 'SIGTERM');
  if (!(await gone(etcds, 5000))) signal(etcds(), 'SIGKILL');
  await gone(etcds, 5000);
}
