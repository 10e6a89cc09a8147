import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { platformSha256 as browserSha256 } from '../../src/crypto/platform-browser.js';
import { platformSha256 as nodeSha256 } from '../../src/crypto/platform-node.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('SHA-256 on each platform', () => {
  for (const [name, sha256] of [
    ['node (OpenSSL, digest read from a latin1 string)', nodeSha256],
    ['browser (noble)', browserSha256],
  ] as const) {
    it(`${name}: FIPS 180-4 examples, and noble's digest for any input`, () => {
      expect(toHex(sha256(utf8('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      expect(toHex(sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      expect(toHex(sha256(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
        '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
      );
      // Every byte value in every position of the digest, and views into larger buffers.
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(8), (data, skip) => {
          const view = new Uint8Array(data.length + skip + 3).subarray(skip, skip + data.length);
          view.set(data);
          const out = sha256(view);
          expect(out).toBeInstanceOf(Uint8Array);
          expect(toHex(out)).toBe(toHex(nobleSha256(data)));
        }),
        { numRuns: 2000 },
      );
    });
  }
});
