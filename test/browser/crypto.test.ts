/**
 * The browser build in a real browser (Debian Chromium): WebCrypto Ed25519 is detected and chosen,
 * matches RFC 8032 and noble, and COSE objects cross between Node and the browser both ways.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import { encode } from '../../src/codec/cbor.js';
import { decodeSign1, signSign1, verifySign1 } from '../../src/codec/cose-sign1.js';
import { nodeEd25519 } from '../../src/crypto/node.js';
import rfc8032 from '../vectors/ed25519/rfc8032.json';
import { browserSkipReason, haveChromium, requireBrowser, useEdgepayPage } from './chromium.js';

if (!haveChromium && requireBrowser) throw new Error(`browser tests are required here: ${browserSkipReason}`);
if (!haveChromium) console.warn(`browser tests ${browserSkipReason}`);

describe.skipIf(!haveChromium)('browser build in Chromium', () => {
  const ep = useEdgepayPage();

  it('detects WebCrypto Ed25519 and reproduces the RFC 8032 vectors with it and with noble', async () => {
    const out = await ep().page.evaluate(async (vectors) => {
      const e = window.edgepay;
      const chosen = await e.getEd25519();
      const results: string[] = [];
      for (const p of [chosen, e.nobleEd25519]) {
        for (const v of vectors) {
          const sig = await p.sign(e.fromHex(v.message), e.fromHex(v.secretKey));
          const ok = await p.verify(sig, e.fromHex(v.message), e.fromHex(v.publicKey));
          results.push(`${p.name}:${e.toHex(sig) === v.signature && ok}`);
        }
      }
      return { name: chosen.name, results };
    }, rfc8032.vectors);
    expect(out.name).toBe('webcrypto');
    expect(out.results.every((r) => r.endsWith(':true'))).toBe(true);
    expect(out.results).toHaveLength(rfc8032.vectors.length * 2);
  });

  it('a COSE_Sign1 signed in Node verifies in the browser, and one signed in the browser verifies in Node', async () => {
    const node = await nodeEd25519.signer(fromHex(rfc8032.vectors[1]!.secretKey));
    const fromNode = await signSign1(encode({ amount: 12345n }), node);
    const res = await ep().page.evaluate(
      async ([hex, pk]) => {
        const e = window.edgepay;
        const payload = await e.verifySign1(e.decodeSign1(e.fromHex(hex)), e.fromHex(pk));
        const s = await e.createSigner();
        const signed = await e.signSign1(e.encode({ paid: 99n }), s);
        const nonExtractable = await e.generateWebCryptoSigner();
        const signed2 = await e.signSign1(e.encode({ paid: 1n }), nonExtractable);
        return {
          payload: e.toHex(payload),
          signed: e.toHex(signed),
          pk: e.toHex(s.publicKey),
          signed2: e.toHex(signed2),
          pk2: e.toHex(nonExtractable.publicKey),
        };
      },
      [toHex(fromNode), toHex(node.publicKey)] as const,
    );
    expect(res.payload).toBe(toHex(encode({ amount: 12345n })));
    expect(await verifySign1(decodeSign1(fromHex(res.signed)), fromHex(res.pk), { provider: nodeEd25519 })).toEqual(encode({ paid: 99n }));
    expect(await verifySign1(decodeSign1(fromHex(res.signed2)), fromHex(res.pk2), { provider: nodeEd25519 })).toEqual(encode({ paid: 1n }));
  });

  it('a tampered object is rejected in the browser with its code', async () => {
    const node = await nodeEd25519.signer(fromHex(rfc8032.vectors[0]!.secretKey));
    const bytes = await signSign1(encode({ amount: 1n }), node);
    bytes[bytes.length - 1]! ^= 1;
    const code = await ep().page.evaluate(
      async ([hex, pk]) => {
        const e = window.edgepay;
        try {
          await e.verifySign1(e.decodeSign1(e.fromHex(hex)), e.fromHex(pk));
          return 'accepted';
        } catch (err) {
          return (err as { code: string }).code;
        }
      },
      [toHex(bytes), toHex(node.publicKey)] as const,
    );
    expect(code).toBe('COSE_SIGNATURE');
  });
});
