/**
 * The ledger on a replicated cluster (three PostgreSQL nodes under Patroni, etcd as consensus), with devices
 * paying and syncing all the while: the primary killed again and again, a standby and then the primary (two
 * of three), an etcd member, and a primary whose agent is gone but whose database still answers. After each:
 * receipts resume; at the end every receipt a device holds is in the ledger, nothing is posted twice, the
 * postings sum to zero and the outboxes drain.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { run } from '../../src/cli/run.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { clusterDown, clusterStatus, clusterUp, killAgent, killMember } from '../../src/ledger/cluster/cluster.js';
import { openPostgres } from '../../src/ledger/postgres.js';
import { verifyReceipt } from '../../src/settlement/receipt.js';
import { encodeSettlement } from '../../src/settlement/record.js';
import { deliver, pair } from '../channel/world.js';
import { haveTool } from '../services.js';
import { device, type LedgerWorld, ledgerSeed, startLedger } from '../sync/world.js';
import { freshSchema } from './dbs.js';

const haveEngine =
  haveTool('patroni', ['--version'], 'the replicated cluster tests', 'apt-get install patroni etcd-server') &&
  haveTool('etcd', ['--version'], 'the replicated cluster tests', 'apt-get install patroni etcd-server');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!haveEngine)('the ledger on a replicated PostgreSQL cluster (Patroni + etcd)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgepay-cluster-'));
  const schema = freshSchema();
  let uri = '';
  let world: LedgerWorld;
  let db: Awaited<ReturnType<typeof openPostgres>>;
  /** A second handle, idle through each failure: it must read from the primary, never a demoted node that rejoined. */
  let idle: Awaited<ReturnType<typeof openPostgres>>;
  let p: Awaited<ReturnType<typeof pair>>;
  let drone: Awaited<ReturnType<typeof device>>;
  let pad: Awaited<ReturnType<typeof device>>;
  const newest = new Map<string, bigint>();
  const queued = new Set<string>();
  let producing = true;
  let producer: Promise<void> | undefined;
  /** While set, the devices stop paying (between payments), so the books can be checked at rest. */
  let paused: { idle: () => void } | undefined;

  /** Pays on a channel at a steady pace; both sides queue each voucher as devices do. */
  async function produce(): Promise<void> {
    while (producing) {
      const { channelId, frame } = await p.payer.open({ payeeKid: p.padKid, cap: 1_000n });
      await deliver(p, frame);
      for (let i = 1; i <= 50 && producing; i++) {
        while (paused) {
          paused.idle();
          await sleep(20);
        }
        await deliver(p, await p.payer.pay(channelId, 20n));
        for (const [d, r] of [
          [drone, p.payer.channel(channelId)!],
          [pad, p.payee.channel(channelId)!],
        ] as const)
          queued.add(toHex(await d.outbox.append(encodeSettlement(r))));
        newest.set(toHex(channelId), BigInt(20 * i));
        drone.sync.notify();
        pad.sync.notify();
        await sleep(15);
      }
    }
  }

  const held = async () => (await drone.receipts.size()) + (await pad.receipts.size());

  /**
   * The devices stop paying; once their outboxes have drained: every receipt a device holds is in the ledger
   * with the same outcome, each record has one receipt, nothing is posted twice, postings sum to zero, every
   * channel has applied its newest voucher. Then they pay again. Returns how many device receipts were checked.
   */
  async function books(o: { idleOnPrimary?: boolean } = {}): Promise<number> {
    if (producing) await new Promise<void>((idle) => (paused = { idle }));
    try {
      await vi.waitFor(
        async () => {
          drone.sync.notify();
          pad.sync.notify();
          expect((await drone.outbox.size()) + (await pad.outbox.size()), 'records left in the outboxes').toBe(0);
        },
        { timeout: 120_000, interval: 100 },
      );
      expect(await world.ledger.total()).toBe(0n);
      if (o.idleOnPrimary !== false) {
        expect(await idle.query('select pg_is_in_recovery() as standby')).toEqual([{ standby: false }]);
        expect(idle.state?.().server).toBe(db.state?.().server);
      }
      const twice = await db.query('select record_id from postings where channel_id is not null group by record_id having count(*) > 1');
      expect(twice).toEqual([]);
      const channels = await db.query<{ id: string; applied: string }>('select id, applied::text as applied from channels');
      expect(Object.fromEntries(channels.map((c) => [c.id, BigInt(c.applied)]))).toEqual(Object.fromEntries(newest));
      const total = [...newest.values()].reduce((a, b) => a + b, 0n);
      expect(await world.ledger.balance('party:pads', 'EUR')).toBe(total);
      const stored = new Map(
        (await db.query<{ record_id: string; status: string }>('select record_id, status from receipts')).map((r) => [
          r.record_id,
          r.status,
        ]),
      );
      expect(stored.size).toBe(queued.size);
      const ledgerKey = (await nodeEd25519.signer(ledgerSeed)).publicKey;
      let checked = 0;
      for (const d of [drone, pad])
        for (const e of await d.receipts.pending({ maxCount: 1_000_000, maxBytes: 1 << 30 })) {
          const r = await verifyReceipt(e.bytes, ledgerKey);
          expect(stored.get(toHex(r.recordId)), 'a receipt a device holds, in the ledger').toBe(r.status);
          checked++;
        }
      expect(checked).toBeGreaterThanOrEqual(queued.size);
      return checked;
    } finally {
      paused = undefined;
    }
  }

  /** Seconds from now until a device is given a receipt it did not hold before. */
  async function untilReceipt(): Promise<number> {
    const t0 = performance.now();
    const before = await held();
    await vi.waitFor(async () => expect(await held()).toBeGreaterThan(before), { timeout: 60_000, interval: 50 });
    return (performance.now() - t0) / 1000;
  }

  /** Kills the primary's node; seconds from the kill until the ledger has moved and a device holds a new receipt. */
  async function failover(leader: string): Promise<number> {
    const t0 = performance.now();
    const moved = db.state?.().failovers ?? 0;
    await killMember(dir, leader);
    await vi.waitFor(() => expect(db.state?.().failovers).toBeGreaterThan(moved), { timeout: 60_000, interval: 50 });
    await untilReceipt();
    return (performance.now() - t0) / 1000;
  }

  /** The leader Patroni names, once it names one other than `old`. */
  async function newLeader(old: string): Promise<string> {
    let leader = '';
    await vi.waitFor(
      async () => {
        leader = (await clusterStatus(dir)).leader ?? old;
        expect(leader).not.toBe(old);
      },
      { timeout: 30_000, interval: 200 },
    );
    return leader;
  }

  /** The whole cluster back (the killed members restarted and rejoined), then a moment of steady syncing. */
  async function whole(): Promise<{ leader: string; syncStandby: string }> {
    const s = await clusterUp(dir);
    await untilReceipt();
    return { leader: s.leader as string, syncStandby: s.syncStandby as string };
  }

  beforeAll(async () => {
    uri = (await clusterUp(dir, { basePort: 6500 })).uri;
    p = await pair();
    db = await openPostgres(uri, schema, { commitTimeoutMs: 3000, failoverMs: 60_000 });
    idle = await openPostgres(uri, schema, { failoverMs: 60_000 });
    world = await startLedger(db, p, 0, async (l) => {
      await l.fund('party:fleet', 'EUR', 1_000_000_000n);
    });
    const url = `http://127.0.0.1:${world.http.port}`;
    drone = await device(p.droneDevice, url, { maxCount: 16, backoff: { initialMs: 20, maxMs: 300 } });
    pad = await device(p.padDevice, url, { maxCount: 16, backoff: { initialMs: 20, maxMs: 300 } });
    drone.sync.start();
    pad.sync.start();
    producer = produce();
    await untilReceipt();
  }, 180_000);

  afterAll(async () => {
    producing = false;
    await producer?.catch(() => {});
    await drone?.close();
    await pad?.close();
    await world?.http.close();
    await db?.query(`drop schema if exists ${schema} cascade`).catch(() => {});
    await db?.close();
    await idle?.close();
    await clusterDown(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('the primary killed (SIGKILL, every process of the node) 5 times while devices sync: receipts resume each time', async () => {
    const failovers: number[] = [];
    for (let k = 0; k < 5; k++) {
      const { leader } = await whole();
      failovers.push(await failover(leader));
      const next = await newLeader(leader);
      expect(db.state?.().server).toBe(`127.0.0.1:${(await clusterStatus(dir)).nodes.find((n) => n.name === next)?.port}`);
      await books();
    }
    console.log(`failover, kill to first receipt (s): ${failovers.map((f) => f.toFixed(1)).join(' ')}`);
    expect(db.state?.().failovers).toBeGreaterThanOrEqual(5);
  });

  it('a standby and then, 5 s later, the primary (2 of 3 down): the last node takes over by itself', async () => {
    const { leader, syncStandby } = await whole();
    await killMember(dir, syncStandby);
    await sleep(5000);
    const s0 = await failover(leader);
    const s = await clusterStatus(dir);
    expect(s.nodes.filter((n) => n.running)).toHaveLength(1);
    expect(s.leader).toBe(s.nodes.find((n) => n.running)?.name);
    console.log(`two of three down: kill of the primary to first receipt ${s0.toFixed(1)} s`);
    await untilReceipt(); // and it goes on
    await books();
  });

  it('an etcd member killed: the cluster and the ledger go on', async () => {
    await whole();
    await killMember(dir, 'etcd2');
    await untilReceipt();
    await sleep(2000);
    await untilReceipt();
    // The two left elect a leader between them if the lost one led; until then they answer unhealthy.
    await vi.waitFor(async () => expect((await clusterStatus(dir)).etcd.filter((e) => e.healthy)).toHaveLength(2), {
      timeout: 15_000,
      interval: 250,
    });
    await books();
  });

  it('a primary whose Patroni is killed keeps answering, read-write; the ledger never takes a receipt from it once fenced', async () => {
    const { leader } = await whole();
    const old = (await clusterStatus(dir)).nodes.find((n) => n.name === leader)!;
    await killAgent(dir, leader);
    // Another node is promoted; the old one still runs as a primary but its synchronous standby has left it.
    const next = await newLeader(leader);
    const direct = await openPostgres(`postgres://postgres@127.0.0.1:${old.port}/postgres`);
    try {
      expect(await direct.query("select current_setting('transaction_read_only') as ro")).toEqual([{ ro: 'off' }]);
    } finally {
      await direct.close();
    }
    // The ledger's commits there wait for a standby that left: it gives up on that server and moves on.
    await vi.waitFor(
      async () => expect(db.state?.().server).toBe(`127.0.0.1:${(await clusterStatus(dir)).nodes.find((n) => n.name === next)?.port}`),
      { timeout: 60_000, interval: 100 },
    );
    await untilReceipt();
    // A handle that only read meanwhile may still be on the fenced node (it believes it is the primary, and
    // nothing it reads fails): it says it cannot commit there (/ready is 503), and moves once the node is
    // demoted (the last test restarts its Patroni).
    if (idle.state?.().server === `127.0.0.1:${old.port}`) expect(await idle.writable?.()).toBe(false);
    await books({ idleOnPrimary: false });
  });

  it('afterwards: every receipt a device holds is in the ledger, nothing posted twice, postings sum to zero, outboxes drain', async () => {
    // `edgepay ledger cluster up` brings back the agent killed above; its node rejoins as a standby.
    const said: string[] = [];
    expect(await run(['ledger', 'cluster', 'up', '--dir', dir, '--format', 'json'], (l) => said.push(l))).toBe(0);
    const s = JSON.parse(said.join('\n')) as { leader?: string; syncStandby?: string; nodes: { state?: string }[] };
    expect(s.leader).toBeDefined();
    expect(s.syncStandby).toBeDefined();
    expect(s.nodes.map((n) => n.state)).toEqual(['running', 'running', 'running']);
    producing = false;
    await producer;
    const checked = await books();
    console.log(`${queued.size} records, ${checked} receipts held by devices, all in the ledger; ${JSON.stringify(db.state?.())}`);
  });
});
