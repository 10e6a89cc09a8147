/**
 * @module ledger/metrics
 * What an operator's Prometheus scrapes from `/metrics` on the operator listener, through prom-client (one
 * registry per service, not the process-wide default): the service's counters, how many submissions are in
 * progress, and histograms of a submission's latency and size and of the time a batch spends being checked
 * (signatures on the verifier threads) and being applied (in the database, under the apply lock).
 * prom-client is an optional peer dependency: {@link LedgerMetrics.load} loads it.
 */
import type { Histogram, Registry } from 'prom-client';
import { optional } from './optional.js';

type PromClient = typeof import('prom-client');

/** The service's running counts (LedgerService.metrics), each exported as a counter. */
export type Counts = Record<string, number>;

/** Each count's HELP line; a count without one is described by its name. */
const HELP: Record<string, string> = {
  submissions: 'Signed submissions taken (authenticated)',
  records: 'Settlement records answered',
  accepted: 'Records accepted and posted',
  rejected: 'Records rejected, each with its code in its receipt',
  disputed: 'Records that disputed their channel (equivocation, overspend)',
  duplicate: 'Records that added nothing new (an older state)',
  repeated: 'Records sent again and answered with their stored receipt',
  revocations: 'Devices revoked by the ledger after a dispute',
  revocationFailures: 'Revocations that failed and are finished at the next start',
  publishFailures: 'Revocation lists that could not be published',
  refused: 'Submissions refused whole (bad signature, unknown submitter, malformed)',
  adminCalls: 'Administrative calls taken',
  overBudget: 'Submissions refused because their submitter was over its work budget',
  busy: 'Submissions refused because too many were in progress',
  listsTaken: 'Revocation lists taken (newer than the one held)',
  listsStale: 'Revocation lists not taken (not newer than the one held)',
  dbFailovers: 'Times the database server in use was lost and the primary looked for again',
  dbUnreplicated: 'Commits refused because the server could not say a standby held them (no receipt given)',
};

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export class LedgerMetrics {
  readonly registry: Registry;
  /** From a submission's arrival to its receipts, seconds. */
  readonly submissionSeconds: Histogram;
  /** Records per submission. */
  readonly batchRecords: Histogram;
  /** A batch's reading and verification, seconds. */
  readonly checkSeconds: Histogram;
  /** A batch's application in the database (under the apply lock), seconds. */
  readonly applySeconds: Histogram;

  /** @throws LedgerError LEDGER_DEPENDENCY when prom-client is not installed. */
  static async load(counts: () => Counts, pending: () => number): Promise<LedgerMetrics> {
    const m = await optional('prom-client', "the ledger's /metrics", () => import('prom-client'), 'metrics');
    return new LedgerMetrics((m as unknown as { default?: PromClient }).default ?? m, counts, pending);
  }

  private constructor(pc: PromClient, counts: () => Counts, pending: () => number) {
    const { Counter, Gauge, Histogram, Registry } = pc;
    this.registry = new Registry();
    const registers = [this.registry];
    const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.submissionSeconds = new Histogram({
      name: 'edgepay_ledger_submission_seconds',
      help: 'From a submission arriving to its receipts',
      buckets: seconds,
      registers,
    });
    this.batchRecords = new Histogram({
      name: 'edgepay_ledger_submission_records',
      help: 'Records per submission',
      buckets: [1, 2, 5, 10, 50, 100, 250, 500, 1000, 2000],
      registers,
    });
    this.checkSeconds = new Histogram({
      name: 'edgepay_ledger_check_seconds',
      help: "A batch's reading and verification (signatures on the verifier threads)",
      buckets: seconds,
      registers,
    });
    this.applySeconds = new Histogram({
      name: 'edgepay_ledger_apply_seconds',
      help: "A batch's application in the database, under the apply lock",
      buckets: seconds,
      registers,
    });
    new Gauge({
      name: 'edgepay_ledger_submissions_in_progress',
      help: 'Submissions being checked or applied now (the queue the per-process bound limits)',
      registers,
      collect() {
        this.set(pending());
      },
    });
    for (const key of Object.keys(counts()))
      new Counter({
        name: `edgepay_ledger_${snake(key)}_total`,
        help: HELP[key] ?? key,
        registers,
        collect() {
          this.reset();
          this.inc(counts()[key] ?? 0);
        },
      });
  }

  /** The Prometheus text exposition, and its content type. */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
