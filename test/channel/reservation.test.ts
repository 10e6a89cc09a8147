import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../src/channel/messages.js';
import { Payee } from '../../src/channel/payee.js';
import { type Reservation, signReservation } from '../../src/channel/reservation.js';
import { MemoryChannelStore } from '../../src/channel/store.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { TrustStore } from '../../src/identity/trust-store.js';
import { DAY, pair, T0 } from './world.js';

const codeOf = (frames: Uint8Array[]) => {
  const f = decodeFrame(frames[0] as Uint8Array);
  return f.type === 'error' ? f.code : f.type;
};

describe('reservation tickets', () => {
  it('a ledger-signed ticket guarantees the channel; every mismatch is refused with CH_RESERVATION', async () => {
    const p = await pair();
    const ledger = await nodeEd25519.signer(new Uint8Array(32).fill(60));
    const rogue = await nodeEd25519.signer(new Uint8Array(32).fill(61));
    const payee = new Payee({
      device: p.padDevice,
      trust: new TrustStore(p.roots),
      store: new MemoryChannelStore(),
      now: () => p.clock.now,
      ledgers: [{ id: 'ledger:main', publicKey: ledger.publicKey }],
      requireReservation: true,
    });
    const good: Reservation = {
      ledger: 'ledger:main',
      id: new Uint8Array(16).fill(1),
      payerKid: p.payer.kid,
      payeeKid: p.padKid,
      asset: 'EUR',
      amount: 2_000n,
      expiresAt: T0 + 10 * DAY,
    };
    const open = async (ticket?: Uint8Array) => (await p.payer.open({ payeeKid: p.padKid, cap: 2_000n, reservation: ticket })).frame;
    let guaranteed: Reservation | undefined;
    payee.on('opened', (e) => {
      guaranteed = e.reservation;
    });
    expect(codeOf(await payee.handle(await open(await signReservation(ledger, good))))).toBe('accept');
    expect(guaranteed?.amount).toBe(2_000n);
    expect(codeOf(await payee.handle(await open()))).toBe('CH_RESERVATION');
    for (const bad of [
      await signReservation(rogue, good),
      await signReservation(ledger, { ...good, ledger: 'ledger:other' }),
      await signReservation(ledger, { ...good, payerKid: coseKeyThumbprint(p.pad.publicKey) }),
      await signReservation(ledger, { ...good, payeeKid: coseKeyThumbprint(p.drone.publicKey) }),
      await signReservation(ledger, { ...good, asset: 'USD' }),
      await signReservation(ledger, { ...good, amount: 1_999n }),
      await signReservation(ledger, { ...good, expiresAt: T0 + DAY + 60 }),
      p.droneChain,
    ]) {
      expect(codeOf(await payee.handle(await open(bad)))).toBe('CH_RESERVATION');
    }
  });
});
