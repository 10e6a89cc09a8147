/** Worker entry (through ts-worker.mjs): writes the seed trial's accounts, chunk by chunk. */
import { parentPort, workerData } from 'node:worker_threads';
import { writeAccounts } from './seed1-world.js';

const { seed, chunks } = workerData as { seed: string; chunks: { from: number; to: number; file: string }[] };
for (const c of chunks) {
  await writeAccounts(seed, c.from, c.to, `${c.file}.part`);
  parentPort?.postMessage({ done: c.to - c.from, file: c.file });
}
