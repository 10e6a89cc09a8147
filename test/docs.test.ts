import { readFileSync } from 'node:fs';
import { coseVerify } from 'cose-kit';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../src/bytes.js';
import { decode } from '../src/codec/cbor.js';
import { coseKeyThumbprint } from '../src/codec/cose-key.js';
import { decodeSign1, verifySign1 } from '../src/codec/cose-sign1.js';
import { readClaims } from '../src/codec/cwt.js';
import { keyObjects, PK1, SK1 } from './codec/helpers.js';

describe('docs/wire-format.md', () => {
  const doc = readFileSync('docs/wire-format.md', 'utf8');
  const hex = (label: string) => (doc.match(new RegExp(`${label}[^\\n]*:\\n([0-9a-f]+)`)) ?? [])[1] as string;

  it('the COSE_Sign1 example decodes, verifies (ours and cose-kit) and carries the documented claims', async () => {
    const bytes = fromHex(hex('COSE_Sign1'));
    const msg = decodeSign1(bytes);
    expect(toHex(msg.kid as Uint8Array)).toBe(toHex(coseKeyThumbprint(PK1)));
    const payload = await verifySign1(msg, PK1);
    expect(toHex(payload)).toBe(hex('payload'));
    expect(readClaims(decode(payload))).toMatchObject({ iss: 'party-1', sub: 'device-1', iat: 1767225600, exp: 1798761600 });
    expect((await coseVerify(bytes, keyObjects(SK1, PK1).publicKey)).isValid).toBe(true);
  });
});

describe('docs/wire-format.md identity examples', () => {
  it('are exactly what the code produces from the documented inputs', async () => {
    const { examples } = await import('./identity/examples.js');
    const doc = readFileSync('docs/wire-format.md', 'utf8');
    for (const [name, hex] of Object.entries(await examples())) {
      const shown = doc.match(new RegExp(`${name}:\\n([0-9a-f]+)`))?.[1];
      expect(shown, name).toBe(hex);
    }
  });
});

describe('docs/wire-format.md channel examples', () => {
  it('are exactly what the code produces from the documented inputs', async () => {
    const { channelExamples } = await import('./channel/examples.js');
    const doc = readFileSync('docs/wire-format.md', 'utf8');
    for (const [name, hex] of Object.entries(await channelExamples())) {
      const shown = doc.match(new RegExp(`\\n${name}:\\n([0-9a-f]+)`))?.[1];
      expect(shown, name).toBe(hex);
    }
  });
});
