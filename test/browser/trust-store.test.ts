/**
 * TrustStore persistence in IndexedDB, in Chromium: each newly learned party is one small write (not a
 * rewrite of every party), a save folds them in, and everything is back after a page reload, including
 * parties appended in an earlier life of the page.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { ISSUER_ID, partyCredential, world } from '../identity/world.js';
import { haveChromium, useEdgepayPage } from './chromium.js';

/** `n` party credentials issued by the test world's issuer, hex (for the page). */
async function parties(from: number, n: number): Promise<{ issuer: string; parties: string[] }> {
  const w = await world();
  const out: string[] = [];
  for (let i = from; i < from + n; i++) {
    const key = new Uint8Array(32).fill(7).map((x, j) => (j < 2 ? (i >> (8 * j)) & 0xff : x));
    const c = await partyCredential(w, `party:${i}`, key);
    out.push(toHex(c));
  }
  return { issuer: toHex(w.issuer.publicKey), parties: out };
}

describe.skipIf(!haveChromium)('TrustStore in IndexedDB, in Chromium', () => {
  const ep = useEdgepayPage();

  it('appends each new party, folds them in with few saves, and restores all after reloads', async () => {
    const first = await parties(0, 150);
    const learn = (arg: { issuer: string; parties: string[]; id: string }) => {
      const e = window.edgepay;
      const roots = [{ id: arg.id, publicKey: e.fromHex(arg.issuer) }];
      const base = e.idbPersistence('trust', 'test-trust');
      let saves = 0;
      const counted = {
        ...base,
        save: (b: Uint8Array) => {
          saves++;
          return base.save(b);
        },
      };
      return (async () => {
        const t = await e.TrustStore.open(roots, counted);
        const restoredSaves = saves;
        for (const c of arg.parties) await e.verifyParty(e.fromHex(c), { trust: t, skipTimeCheck: true });
        const pending = (await base.loadAppended?.())?.length;
        return { restoredSaves, saves, pending };
      })();
    };
    // 150 parties: two saves (each when the log outgrows the state), the rest appended one by one.
    expect(await ep().page.evaluate(learn, { ...first, id: ISSUER_ID })).toEqual({ restoredSaves: 0, saves: 2, pending: 18 });

    // A later life of the page learns more: appended after the entries already there, none overwritten.
    await ep().reload();
    const more = await parties(150, 5);
    expect(await ep().page.evaluate(learn, { ...more, id: ISSUER_ID })).toEqual({ restoredSaves: 0, saves: 0, pending: 23 });

    await ep().reload();
    const known = await ep().page.evaluate(
      async (arg) => {
        const e = window.edgepay;
        const t = await e.TrustStore.open([{ id: arg.id, publicKey: e.fromHex(arg.issuer) }], e.idbPersistence('trust', 'test-trust'));
        return arg.parties.filter((c) => t.authority(e.decodeCredential(e.fromHex(c)).subjectKid) !== undefined).length;
      },
      { issuer: first.issuer, parties: [...first.parties, ...more.parties], id: ISSUER_ID },
    );
    expect(known).toBe(155);
  });
});
