import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { PayerSession, servePayee } from '../../src/channel/session.js';
import { coseKeyThumbprint } from '../../src/codec/cose-key.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { signRevocationList } from '../../src/identity/revocation.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { pair, T0 } from './world.js';

describe('hello: peers hand each other fresher revocation lists', () => {
  it('a payee that knows of a revoked drone tells the payer; the payer tells a payee that does not', async () => {
    const p = await pair();
    const net = new MemoryNetwork();
    const payeeAddr = toHex(p.padKid);
    servePayee(p.payee, net.endpoint(payeeAddr));
    const session = new PayerSession(p.payer, net.endpoint(toHex(p.payer.kid)));
    // The network issuer revokes some other party; only the pad's trust store has heard.
    const issuer = await nodeEd25519.signer(new Uint8Array(32).fill(1));
    const list = await signRevocationList(issuer, {
      issuer: 'net',
      version: 3,
      issuedAt: T0,
      entries: [{ kid: new Uint8Array(32).fill(9), revokedAt: T0 }],
    });
    const payeeTrust = (p.payee as unknown as { o: { trust: import('../../src/identity/trust-store.js').TrustStore } }).o.trust;
    const payerTrust = (p.payer as unknown as { o: { trust: import('../../src/identity/trust-store.js').TrustStore } }).o.trust;
    await payeeTrust.applyRevocationList(list);
    expect([...payerTrust.versions().values()]).toEqual([]);
    await session.hello(payeeAddr);
    await vi.waitFor(() => expect(payerTrust.revocation(coseKeyThumbprint(issuer.publicKey))?.version).toBe(3));

    // Now the payer is ahead (version 4); a hello to a payee that is behind brings it up to date.
    const newer = await signRevocationList(issuer, { issuer: 'net', version: 4, issuedAt: T0 + 1, entries: [] });
    await payerTrust.applyRevocationList(newer);
    await session.hello(payeeAddr);
    await vi.waitFor(() => expect(payeeTrust.revocation(coseKeyThumbprint(issuer.publicKey))?.version).toBe(4));
  });
});
