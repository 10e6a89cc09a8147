/** Every example runs as its README says, against the sources (the `edgepay` imports map to them here). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { haveSoftHsm, softToken } from './hsm.js';

describe('examples', () => {
  it('node-board: enrol, pay offline, queue, sync', async () => {
    const { main } = await import('../examples/node-board/main.js');
    const dir = mkdtempSync(join(tmpdir(), 'edgepay-board-test-'));
    try {
      const lines: string[] = [];
      expect(await main(dir, (l) => lines.push(l))).toBe(0);
      expect(lines).toContain('paid 20 units offline; 1 settlement record(s) queued');
      expect(lines.some((l) => /^synced: 1 acknowledged, 0 rejected; outbox now 0$/.test(l))).toBe(true);
      expect(lines.at(-1)).toBe('ledger: channel applied 100, party balance 1000');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it.runIf(haveSoftHsm('the node-board --pkcs11 example'))(
    'node-board --pkcs11: the board keys made and kept in a SoftHSM2 token',
    async () => {
      const { main } = await import('../examples/node-board/main.js');
      const token = softToken('board');
      const dir = mkdtempSync(join(tmpdir(), 'edgepay-board-test-'));
      try {
        const lines: string[] = [];
        const pkcs11 = { module: token.module, token: token.label, pin: token.pin };
        expect(await main(dir, (l) => lines.push(l), { pkcs11 })).toBe(0);
        expect(lines[0]).toBe('keys in PKCS#11 token board: none yet');
        expect(lines.at(-1)).toBe('ledger: channel applied 100, party balance 1000');
        expect(existsSync(join(dir, 'keys'))).toBe(false); // no key file: the keys are in the token alone
        // The board again, another day: the same keys, found in the token by label.
        const again: string[] = [];
        expect(await main(join(dir, 'again'), (l) => again.push(l), { pkcs11 })).toBe(0);
        expect(again[0]).toBe('keys in PKCS#11 token board: device, meter');
      } finally {
        rmSync(dir, { recursive: true, force: true });
        token.remove();
      }
    },
    60_000,
  );
});

describe('examples over MQTT', () => {
  it('drone-charging: pays per Wh with ticks; the pad settles after its ledger outage', async () => {
    const { main } = await import('../examples/drone-charging/main.js');
    const lines: string[] = [];
    expect(await main((l) => lines.push(l))).toBe(0);
    expect(lines[0]).toMatch(/^charged 200 Wh; the pad holds 603 minor units of signed payments; pad outbox: 1$/);
    expect(lines[1]).toBe('pad syncs while the ledger is unreachable: SYNC_OFFLINE; pad outbox still 1');
    expect(lines[2]).toBe('pad syncs again: 1 acknowledged; pad outbox 0');
    expect(lines[3]).toBe('ledger: pad owner 603, drone fleet 4397');
  }, 60_000);
});

describe('examples over MQTT: toll gates', () => {
  it('toll-gate: pays per metre, a gate settles hours late, a clone is caught, revoked, and refused offline', async () => {
    const { main } = await import('../examples/toll-gate/main.js');
    const lines: string[] = [];
    const code = await main((l) => lines.push(l));
    expect(lines).toEqual([
      'gate A: 500 m, 1000 minor units, closed',
      'gate B: 500 m, 1000 minor units, closed',
      'gate A settles at once: outbox 0',
      'gate B settles three hours later: outbox 0',
      'gate C: two different vouchers for seq 1 — equivocation caught; channel refused',
      'ledger: disputed LEDGER_EQUIVOCATION; revocation lists published: 1',
      'gate A refuses the vehicle: ID_REVOKED',
      'ledger: toll operator 2000, vehicle owner 8000',
    ]);
    expect(code).toBe(0);
  }, 60_000);
});
