/**
 * @module cli/cluster
 * `edgepay ledger cluster up|down|status|kill`: a replicated PostgreSQL cluster on this machine (Patroni and
 * etcd, from the operating system's packages) for the ledger to run on.
 */
import { type ClusterStatus, clusterDown, clusterStatus, clusterUp, killMember } from '../ledger/cluster/cluster.js';
import { DEFAULT_BASE_PORT } from '../ledger/cluster/layout.js';
import { COMMON, type Command, int, type Out, str } from './identity.js';
import { CliError, printJson } from './io.js';

function show(s: ClusterStatus, v: Record<string, unknown>, out: Out): void {
  if (v.format === 'json') {
    printJson(s, out);
    return;
  }
  out(`cluster ${s.dir}: leader ${s.leader ?? 'none'}, synchronous standby ${s.syncStandby ?? 'none'}`);
  for (const n of s.nodes)
    out(
      `  ${n.name}  127.0.0.1:${n.port}  ${n.running ? `${n.role ?? '?'} ${n.state ?? ''}`.trim() : 'down'}${n.lagBytes ? `  lag ${n.lagBytes} B` : ''}`,
    );
  for (const e of s.etcd) out(`  ${e.name}  127.0.0.1:${e.client}  ${e.running ? (e.healthy ? 'healthy' : 'unhealthy') : 'down'}`);
  out(`ledger serve --db '${s.uri}'`);
}

export const clusterCommand: Command = {
  usage:
    'edgepay ledger cluster up|down|status|kill <member> --dir <dir> [--base-port 6400] [--format json]\n' +
    '  A replicated PostgreSQL cluster on 127.0.0.1 for the ledger: three PostgreSQL nodes under Patroni (synchronous\n' +
    '  replication, failover in seconds) and three etcd members, all under <dir>, on ports from --base-port\n' +
    '  (etcd base+1.., PostgreSQL base+21.., Patroni base+31..). Needs: apt-get install patroni etcd-server (as root,\n' +
    '  the members run as the postgres user). up starts whatever is not running (a new cluster, or the members\n' +
    '  a failure took) and waits for a leader; it prints the URI for `ledger serve --db`. down stops everything,\n' +
    '  keeping the data. kill pg1..pg3 | etcd1..etcd3 kills that member with SIGKILL (a drill).',
  options: { ...COMMON, dir: { type: 'string' }, 'base-port': { type: 'string' } },
  async run(v, positionals, out) {
    const [action, member] = positionals;
    const dir = str(v, 'dir');
    switch (action) {
      case 'up': {
        const basePort = int(v, 'base-port', DEFAULT_BASE_PORT);
        if (basePort < 1024 || basePort > 65_000) throw new CliError('CLI_USAGE', '--base-port is between 1024 and 65000', 'base-port');
        show(await clusterUp(dir, { basePort }), v, out);
        return 0;
      }
      case 'down':
        await clusterDown(dir);
        out(`cluster ${dir} stopped (its data kept)`);
        return 0;
      case 'status': {
        const s = await clusterStatus(dir);
        show(s, v, out);
        return s.leader ? 0 : 1;
      }
      case 'kill':
        if (!member) throw new CliError('CLI_USAGE', 'kill takes a member: pg1..pg3 or etcd1..etcd3', 'member');
        await killMember(dir, member);
        out(`${member} killed`);
        return 0;
      default:
        throw new CliError('CLI_USAGE', 'ledger cluster takes up, down, status or kill <member>', 'action');
    }
  },
};
