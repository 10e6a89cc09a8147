/**
 * The seed trial's ledger: three (or more) API processes of `bench/seed1-node.ts` on one PostgreSQL
 * schema, each killable with SIGKILL and restartable on its port; peak memory read from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const NODE = fileURLToPath(new URL('./seed1-node.ts', import.meta.url));

/** Resident set high-water mark of a live process, bytes (0 when it is gone). */
async function peakRss(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export class LedgerCluster {
  readonly urls: string[];
  private readonly procs: (ChildProcess | undefined)[];
  /** Per process slot: the highest peak memory of any of its lives. */
  readonly peak: number[];
  private threads = 1;

  private constructor(
    private readonly args: string[],
    private readonly ports: number[],
  ) {
    this.urls = ports.map((p) => `http://127.0.0.1:${p}`);
    this.procs = ports.map(() => undefined);
    this.peak = ports.map(() => 0);
  }

  static async start(n: number, seed: string, pgUrl: string, schema: string, threads: number): Promise<LedgerCluster> {
    // Each process first binds a port of its own choosing (0) and says which; a port picked here and handed
    // over could be taken by anything else on the machine before the process binds it.
    const c = new LedgerCluster([seed, pgUrl, schema], Array(n).fill(0));
    c.threads = threads;
    await Promise.all(c.ports.map((_, i) => c.up(i)));
    return c;
  }

  /**
   * Starts process `i` (again on its port, once it has one); resolves once it serves. A restart whose port is
   * still held (the killed process's socket not yet gone, or another program in between) is tried again.
   */
  async up(i: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.start1(i);
      } catch (e) {
        if (this.ports[i] === 0 || attempt === 5) throw e;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }

  private async start1(i: number): Promise<void> {
    // EDGEPAY_SEED1_PROF=<dir>: a CPU profile of each ledger process, written when the run ends.
    const prof = process.env.EDGEPAY_SEED1_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.EDGEPAY_SEED1_PROF}`] : [];
    const p = spawn(process.execPath, [...prof, '--import', 'tsx', NODE, ...this.args, String(this.ports[i]), String(this.threads)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.procs[i] = p;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (b: Buffer) => {
        out += b.toString();
        const line = /\{"listening":"([^"]+)"\}/.exec(out);
        if (line) {
          const url = line[1] as string;
          this.urls[i] = url;
          this.ports[i] = Number(new URL(url).port);
          p.stdout?.off('data', onData);
          p.stdout?.resume();
          resolve();
        }
      };
      p.stdout?.on('data', onData);
      p.once('exit', (code) => reject(new Error(`ledger process ${i} exited with ${code} before serving`)));
    });
  }

  /** SIGKILL, no warning: whatever it had in flight is cut off. */
  async kill(i: number): Promise<void> {
    const p = this.procs[i];
    if (!p || p.exitCode !== null) return;
    await this.sample();
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
    this.procs[i] = undefined;
  }

  /** Reads every live process's peak memory into {@link peak}. */
  async sample(): Promise<void> {
    for (let i = 0; i < this.procs.length; i++) this.peak[i] = Math.max(this.peak[i] as number, await peakRss(this.procs[i]?.pid));
  }

  /** SIGTERM, and SIGKILL for any process still there after five seconds. */
  async stop(): Promise<void> {
    await this.sample();
    await Promise.all(
      this.procs.map(async (p, i) => {
        if (!p || p.exitCode !== null) return;
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        await this.kill(i);
      }),
    );
  }
}
