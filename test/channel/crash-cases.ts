/**
 * kill -9 a payer+payee child process mid-stream (vouchers and bursts of ticks), many times: nothing
 * acknowledged is lost, no seq is ever signed twice with different content (the payee would see
 * equivocation), no tick is revealed unrecorded, and both sides resume.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FileChannelStore } from '../../src/channel/store-file.js';
import { CRASH_TICK, owed } from './world.js';

async function runUntilKilled(dir: string, killAfterMs: number, lines: string[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/channel/crash-child.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  let ready = false;
  let timer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop() as string;
    for (const l of parts) {
      lines.push(l);
      if (l === 'READY' && !ready) {
        ready = true;
        timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    }
  });
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  clearTimeout(timer);
}

export function crashSuite(kills: number): void {
  it(`kill -9 mid-stream ${kills} times: nothing acknowledged lost, no seq reused`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgepay-crash-'));
    try {
      const sent = new Map<number, string>();
      let maxAcked = 0n;
      let acks = 0;
      let ticks = 0;
      for (let k = 0; k < kills; k++) {
        const lines: string[] = [];
        await runUntilKilled(dir, 30 + ((k * 37) % 170), lines);
        for (const l of lines) {
          const [kind, a, b, c] = l.split(' ');
          if (kind === 'SENT') {
            const prev = sent.get(Number(a));
            if (prev !== undefined) expect(prev, `seq ${a} signed twice with different content`).toBe(c);
            sent.set(Number(a), c as string);
          } else if (kind === 'ACK') {
            acks++;
            if (BigInt(b as string) > maxAcked) maxAcked = BigInt(b as string);
          } else if (kind === 'ERROR') throw new Error(`payee refused: ${a}`);
        }
        const [payee] = await new FileChannelStore(join(dir, 'payee')).list();
        const [payer] = await new FileChannelStore(join(dir, 'payer')).list();
        if (!payee || !payer) continue; // killed before the channel existed on both sides
        expect(payee.state).toBe('open'); // never refused: no equivocation
        ticks = payee.ticks;
        const held = owed(payee, CRASH_TICK);
        expect(held >= maxAcked, `acknowledged ${maxAcked}, payee stores ${held}`).toBe(true);
        expect(payer.seq >= payee.seq && payer.cumulative >= payee.cumulative && payer.ticks >= payee.ticks).toBe(true);
        // The per-period spend is stored in the same write as the seq (or the burst of ticks): with the
        // child's clock standing still in one window, it is exactly everything the payer ever signed or revealed.
        expect(payer.periodSpent ?? 0n).toBe(owed(payer, CRASH_TICK));
      }
      expect(acks).toBeGreaterThan(kills); // the stream really ran between kills
      expect(ticks).toBeGreaterThan(0); // bursts of ticks among the vouchers
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
}
