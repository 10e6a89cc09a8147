/**
 * Benchmark harness. Every figure is reported against a `limit` measured in the same run (the bare
 * library call it wraps), so ratios stay meaningful on any machine. `--json`: one JSON object per line,
 * `{"bench","value","unit","limit","ratio"}`; otherwise a readable table.
 */
export interface Result {
  bench: string;
  value: number;
  unit: string;
  limit: number | null;
  ratio: number | null;
}

const json = process.argv.includes('--json');
const timeArg = process.argv.find((a) => a.startsWith('--time='));
/** Milliseconds spent measuring each figure (after a warm-up of a quarter of that). */
export const MEASURE_MS = timeArg ? Number(timeArg.slice(7)) : 1000;

/** Runs `op` back to back for about `budget` ms; the operations done and the ms taken. */
async function slice(op: () => unknown, budget: number): Promise<{ n: number; ms: number }> {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < budget) {
    for (let i = 0; i < 64; i++) {
      const r = op();
      if (r instanceof Promise) await r;
    }
    n += 64;
    now = performance.now();
  }
  return { n, ms: now - start };
}

/** Operations per second of `op`, run back to back (awaited when it returns a promise). */
export async function opsPerSecond(op: () => unknown, ms = MEASURE_MS): Promise<number> {
  await slice(op, ms / 4);
  const { n, ms: took } = await slice(op, ms);
  return (n * 1000) / took;
}

/**
 * Operations per second of each of `ops`, measured in alternating slices (`ms` each in all): a figure
 * and its limit then see the same machine. On a shared machine whose speed drifts by tens of percent
 * from one second to the next, measuring one after the other skews their ratio.
 */
export async function interleaved(ops: readonly (() => unknown)[], ms = MEASURE_MS, slices = 10): Promise<number[]> {
  for (const op of ops) await slice(op, ms / 4);
  const n = ops.map(() => 0);
  const took = ops.map(() => 0);
  for (let s = 0; s < slices; s++)
    for (let i = 0; i < ops.length; i++) {
      const r = await slice(ops[i] as () => unknown, ms / slices);
      n[i] = (n[i] as number) + r.n;
      took[i] = (took[i] as number) + r.ms;
    }
  return n.map((x, i) => (x * 1000) / (took[i] as number));
}

// A bare Ed25519 verify loop for one thread: waits for 'go', warms up for a quarter of `ms`, then reports
// the verifies per second it managed in `ms`.
const VERIFY_LOOP = `
const { parentPort, workerData } = require('node:worker_threads');
const { generateKeyPairSync, sign, verify } = require('node:crypto');
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const msg = Buffer.alloc(100, 7);
const sig = sign(null, msg, privateKey);
const run = (ms) => {
  const start = performance.now();
  let n = 0, now = start;
  while (now - start < ms) { for (let i = 0; i < 64; i++) verify(null, msg, publicKey, sig); n += 64; now = performance.now(); }
  return (n * 1000) / (now - start);
};
parentPort.once('message', () => { run(workerData / 4); parentPort.postMessage(run(workerData)); });
parentPort.postMessage('ready');
`;

/**
 * Bare `crypto.verify` calls per second on `threads` threads at once, summed: the raw verify rate of all
 * cores, measured as they run together (they share caches and memory bandwidth, so this is a little
 * below one core's rate times the cores).
 */
export async function verifyRateAllCores(threads: number, ms = MEASURE_MS): Promise<number> {
  const { Worker } = await import('node:worker_threads');
  const workers = Array.from({ length: threads }, () => new Worker(VERIFY_LOOP, { eval: true, workerData: ms }));
  try {
    await Promise.all(workers.map((w) => new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))));
    const rates = workers.map((w) => new Promise<number>((resolve, reject) => w.once('message', resolve).once('error', reject)));
    for (const w of workers) w.postMessage('go');
    return (await Promise.all(rates)).reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

const rows: Result[] = [];

/** Records and prints one figure. */
export function report(bench: string, value: number, unit: string, limit: number | null = null): Result {
  const r: Result = {
    bench,
    value: Math.round(value * 100) / 100,
    unit,
    limit: limit === null ? null : Math.round(limit * 100) / 100,
    ratio: limit ? Math.round((value / limit) * 1000) / 1000 : null,
  };
  rows.push(r);
  if (json) console.log(JSON.stringify(r));
  else
    console.log(
      `${bench.padEnd(44)} ${fmt(r.value).padStart(12)} ${unit.padEnd(10)} ${r.limit === null ? '' : `limit ${fmt(r.limit).padStart(12)}  ratio ${r.ratio?.toFixed(3)}`}`,
    );
  return r;
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

export function results(): readonly Result[] {
  return rows;
}
