import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CodecError, EdgepayError, isEdgepayError } from '../src/errors.js';

describe('errors', () => {
  it('every code used in src/ is documented in docs/errors.md', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const used = new Set<string>();
    for (const f of files) for (const m of readFileSync(`src/${f}`, 'utf8').matchAll(/'([A-Z]+_[A-Z0-9_]+)'/g)) used.add(m[1] as string);
    const missing = [...used].filter(
      (c) => /^(CBOR|COSE|CRYPTO|FIELD|CWT|ID|CLI|CH|TRANSPORT|OUTBOX|LEDGER|SYNC)_/.test(c) && !doc.includes(`\`${c}\``),
    );
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(20);
  });

  it('carries code and field, names its class, and is recognisable', () => {
    const e = new CodecError('CBOR_FLOAT', 'no floats', '$.amount');
    expect(e).toBeInstanceOf(EdgepayError);
    expect(e).toMatchObject({ name: 'CodecError', code: 'CBOR_FLOAT', field: '$.amount', message: 'CBOR_FLOAT at $.amount: no floats' });
    expect(isEdgepayError(e, 'CBOR_FLOAT')).toBe(true);
    expect(isEdgepayError(new Error('x'))).toBe(false);
  });
});
