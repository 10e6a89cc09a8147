/**
 * IdbKeyStore in Chromium: a non-extractable WebCrypto key kept in IndexedDB survives a page reload,
 * signs, can never be exported, and its signatures verify in Node.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import { haveChromium, useEdgepayPage } from './chromium.js';

describe.skipIf(!haveChromium)('IdbKeyStore in Chromium', () => {
  const ep = useEdgepayPage();

  it('generates a non-extractable key that survives a reload and signs', async () => {
    const made = await ep().page.evaluate(async () => {
      const ks = new window.edgepay.IdbKeyStore({ dbName: 'test-keys' });
      const s = await ks.generate('drone-1');
      return window.edgepay.toHex(s.publicKey);
    });
    await ep().reload();
    const after = await ep().page.evaluate(async () => {
      const e = window.edgepay;
      const ks = new e.IdbKeyStore({ dbName: 'test-keys' });
      const s = await ks.get('drone-1');
      if (!s) return { missing: true };
      const msg = new TextEncoder().encode('pay 3 Wh');
      const sig = await s.sign(msg);
      // The raw CryptoKey as IndexedDB holds it: not extractable.
      const db = await new Promise<IDBDatabase>((res, rej) => {
        const r = indexedDB.open('test-keys');
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
      const stored = await new Promise<{ privateKey: CryptoKey }>((res) => {
        const r = db.transaction('keys').objectStore('keys').get('drone-1');
        r.onsuccess = () => res(r.result);
      });
      let exported = 'refused';
      try {
        await crypto.subtle.exportKey('pkcs8', stored.privateKey);
        exported = 'exported';
      } catch {}
      return { pk: e.toHex(s.publicKey), sig: e.toHex(sig), extractable: stored.privateKey.extractable, exported, list: await ks.list() };
    });
    expect(after).toMatchObject({ pk: made, extractable: false, exported: 'refused', list: ['drone-1'] });
    const r = after as { pk: string; sig: string };
    expect(await nodeEd25519.verify(fromHex(r.sig), new TextEncoder().encode('pay 3 Wh'), fromHex(r.pk))).toBe(true);
  });

  it('never overwrites a key in IndexedDB either', async () => {
    const code = await ep().page.evaluate(async () => {
      const ks = new window.edgepay.IdbKeyStore({ dbName: 'test-keys-2' });
      await ks.generate('k');
      try {
        await ks.generate('k');
        return 'overwrote';
      } catch (err) {
        return (err as { code: string }).code;
      }
    });
    expect(code).toBe('ID_KEY_EXISTS');
  });
});
