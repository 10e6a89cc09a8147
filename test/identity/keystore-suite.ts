/** The abstract suite every KeyStore passes (MQTT.js abstract_store style). */
import { expect, it } from 'vitest';
import { nodeEd25519 } from '../../src/crypto/node.js';
import type { KeyStore } from '../../src/identity/keystore.js';

export function keyStoreSuite(make: () => Promise<KeyStore>): void {
  it('generates a key that signs, lists it, and returns the same signer later', async () => {
    const ks = await make();
    const s = await ks.generate('device-1');
    const msg = new TextEncoder().encode('voucher 7');
    expect(await nodeEd25519.verify(await s.sign(msg), msg, s.publicKey)).toBe(true);
    expect(await ks.list()).toEqual(['device-1']);
    const again = await ks.get('device-1');
    expect(again?.publicKey).toEqual(s.publicKey);
    expect(await nodeEd25519.verify(await (again as typeof s).sign(msg), msg, s.publicKey)).toBe(true);
  });

  it('imports a known key (RFC 8032 TEST 1) and signs exactly as the RFC says', async () => {
    const ks = await make();
    const sk = new Uint8Array(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'));
    const s = await ks.importKey('imported', sk);
    expect(Buffer.from(await s.sign(new Uint8Array(0))).toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('never overwrites a key, rejects bad names, and deletes', async () => {
    const ks = await make();
    const s = await ks.generate('k');
    await expect(ks.generate('k')).rejects.toMatchObject({ code: 'ID_KEY_EXISTS' });
    expect((await ks.get('k'))?.publicKey).toEqual(s.publicKey);
    await expect(ks.generate('../etc/passwd')).rejects.toMatchObject({ code: 'ID_KEY_NAME', field: 'name' });
    await expect(ks.generate('')).rejects.toMatchObject({ code: 'ID_KEY_NAME' });
    expect(await ks.get('missing')).toBeUndefined();
    expect(await ks.delete('k')).toBe(true);
    expect(await ks.delete('k')).toBe(false);
    expect(await ks.get('k')).toBeUndefined();
    expect(await ks.list()).toEqual([]);
  });
}
