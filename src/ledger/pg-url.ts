/**
 * @module ledger/pg-url
 * libpq's multi-host connection URIs (`postgres://u@h1:p1,h2:p2/db?target_session_attrs=read-write`), which
 * node-postgres does not take: the hosts in order, which kind of server to accept, and one single-host URL
 * per host for `pg`. Written by hand because it is small and `pg-connection-string` reads one host only.
 */
import { LedgerError } from '../errors.js';

export type SessionAttrs = 'any' | 'read-write' | 'primary';

export interface PgTarget {
  hosts: { host: string; port: number }[];
  /** libpq's `target_session_attrs`: the ledger writes, so only `any`, `read-write` and `primary` are taken. */
  attrs: SessionAttrs;
  /** libpq's `connect_timeout` (seconds), per host. */
  connectTimeoutS?: number;
  /** The URL of one host, the other parameters kept (the ones above taken out). */
  urlOf(i: number): string;
}

const ATTRS: readonly string[] = ['any', 'read-write', 'primary'];

/** Parses a libpq URI with one or more hosts. @throws LedgerError LEDGER_CONFIG with field `db`. */
export function parsePgUrl(url: string): PgTarget {
  const m = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/.exec(url);
  if (!m) throw new LedgerError('LEDGER_CONFIG', 'not a postgres:// URL', 'db');
  const [, scheme, user = '', hostPart = '', path = '', query = ''] = m;
  const params = new URLSearchParams(query.slice(1));
  const attrs = params.get('target_session_attrs') ?? 'any';
  if (!ATTRS.includes(attrs))
    throw new LedgerError(
      'LEDGER_CONFIG',
      `target_session_attrs=${attrs}: the ledger writes, so it takes any, read-write or primary`,
      'db',
    );
  const timeout = params.get('connect_timeout');
  const connectTimeoutS = timeout === null ? undefined : Number(timeout);
  if (connectTimeoutS !== undefined && !(Number.isInteger(connectTimeoutS) && connectTimeoutS >= 0))
    throw new LedgerError('LEDGER_CONFIG', `connect_timeout=${timeout} is not a whole number of seconds`, 'db');
  params.delete('target_session_attrs');
  params.delete('connect_timeout');
  const rest = params.toString();
  const hosts = (hostPart === '' ? ['localhost'] : hostPart.split(',')).map((h) => {
    const hm = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d+))?$/.exec(h);
    const port = hm?.[2] === undefined ? 5432 : Number(hm[2]);
    if (!hm || port < 1 || port > 65535) throw new LedgerError('LEDGER_CONFIG', `bad host ${JSON.stringify(h)} in the database URL`, 'db');
    return { host: hm[1] as string, port };
  });
  return {
    hosts,
    attrs: attrs as SessionAttrs,
    ...(connectTimeoutS !== undefined ? { connectTimeoutS } : {}),
    urlOf: (i) => {
      const h = hosts[i] as { host: string; port: number };
      return `${scheme}${user}${h.host}:${h.port}${path}${rest ? `?${rest}` : ''}`;
    },
  };
}
