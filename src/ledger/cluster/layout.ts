/**
 * @module ledger/cluster/layout
 * Where a local replicated cluster lives: three etcd members (the consensus store) and three PostgreSQL
 * nodes run by Patroni, all on 127.0.0.1 ports counted from one base, all files under one folder.
 */
import { join } from 'node:path';

/** Patroni's timing (seconds). The leader lock lives `ttl`; a standby takes over once it lapses. */
export const TIMING = { ttl: 6, loopWait: 1, retryTimeout: 2 } as const;

export interface EtcdMember {
  name: string;
  client: number;
  peer: number;
  data: string;
  log: string;
  pidFile: string;
}

export interface PgNode {
  name: string;
  port: number;
  rest: number;
  data: string;
  config: string;
  log: string;
  pidFile: string;
}

export interface Layout {
  dir: string;
  basePort: number;
  etcd: EtcdMember[];
  nodes: PgNode[];
  /** The libpq URI of the primary, whichever node it is. */
  uri: string;
}

export const DEFAULT_BASE_PORT = 6400;
const SIZE = 3;

/** The ports and paths of the cluster in `dir`: etcd on base+1.., its peers base+11.., PostgreSQL base+21.., Patroni's API base+31... */
export function layout(dir: string, basePort = DEFAULT_BASE_PORT): Layout {
  const ids = Array.from({ length: SIZE }, (_, k) => k + 1);
  const etcd = ids.map((i) => ({
    name: `etcd${i}`,
    client: basePort + i,
    peer: basePort + 10 + i,
    data: join(dir, `etcd${i}`),
    log: join(dir, `etcd${i}.log`),
    pidFile: join(dir, `etcd${i}.pid`),
  }));
  const nodes = ids.map((i) => ({
    name: `pg${i}`,
    port: basePort + 20 + i,
    rest: basePort + 30 + i,
    data: join(dir, `pg${i}`),
    config: join(dir, `pg${i}.yml`),
    log: join(dir, `pg${i}.log`),
    pidFile: join(dir, `pg${i}.pid`),
  }));
  const hosts = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  return { dir, basePort, etcd, nodes, uri: `postgres://postgres@${hosts}/postgres?target_session_attrs=read-write` };
}

/** The command line of etcd member `m`. */
export function etcdArgs(l: Layout, m: EtcdMember): string[] {
  const url = (port: number) => `http://127.0.0.1:${port}`;
  return [
    '--name',
    m.name,
    '--data-dir',
    m.data,
    '--listen-client-urls',
    url(m.client),
    '--advertise-client-urls',
    url(m.client),
    '--listen-peer-urls',
    url(m.peer),
    '--initial-advertise-peer-urls',
    url(m.peer),
    '--initial-cluster',
    l.etcd.map((e) => `${e.name}=${url(e.peer)}`).join(','),
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    `edgepay-${l.basePort}`,
    // Loopback: a short heartbeat and election let etcd lose a member without stalling Patroni's loop.
    '--heartbeat-interval',
    '100',
    '--election-timeout',
    '1000',
  ];
}

/**
 * Patroni's configuration of node `n`. Synchronous mode: a commit returns once a standby has it, and only
 * that standby may be promoted, so nothing acknowledged is lost when the primary goes; not strict, so a lone
 * survivor still takes writes (then on one disk only: see docs/operating/ledger.md).
 */
export function patroniYaml(l: Layout, n: PgNode, pgBin: string): string {
  return `scope: edgepay-${l.basePort}
name: ${n.name}
restapi:
  listen: 127.0.0.1:${n.rest}
  connect_address: 127.0.0.1:${n.rest}
etcd3:
  hosts: ${l.etcd.map((e) => `127.0.0.1:${e.client}`).join(',')}
bootstrap:
  dcs:
    ttl: ${TIMING.ttl}
    loop_wait: ${TIMING.loopWait}
    retry_timeout: ${TIMING.retryTimeout}
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        # A node down for a while catches up by streaming from what the primary kept (no WAL archive here).
        wal_keep_size: 4GB
        synchronous_commit: 'on'
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
  pg_hba:
    - host replication all 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${n.port}
  connect_address: 127.0.0.1:${n.port}
  data_dir: ${n.data}
  bin_dir: ${pgBin}
  pgpass: ${n.data}.pgpass
  authentication:
    replication: {username: postgres}
    superuser: {username: postgres}
    rewind: {username: postgres}
  parameters:
    unix_socket_directories: ''
`;
}
